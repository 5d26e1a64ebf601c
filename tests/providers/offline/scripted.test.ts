import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { replay } from "../../../src/providers/scripted/engine.ts";
import { classifyYesNo, extractName, extractReason, extractStatedReason, hasAnyKeyword } from "../../../src/providers/scripted/extract.ts";
import { loadScript, ScriptError, validateScript, type Script } from "../../../src/providers/scripted/script.ts";
import { createScriptedLlm, wordChunks } from "../../../src/providers/scripted/scripted-llm.ts";
import { ProviderError, type ChatMessage, type LlmChunk, type ToolSpec } from "../../../src/providers/types.ts";

const dir = mkdtempSync(join(tmpdir(), "script-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const END_CALL: ToolSpec = { name: "end_call", description: "hang up", parameters: { type: "object" } };

/** History where the caller said `turns` (assistant turns interleaved, as the pipeline records them). */
function history(script: Script, turns: string[]): ChatMessage[] {
  const h: ChatMessage[] = [];
  h.push({ role: "assistant", text: replay(script, h).text });
  for (const t of turns) {
    h.push({ role: "user", text: t });
    h.push({ role: "assistant", text: replay(script, h).text });
  }
  h.pop();
  return h;
}

async function generate(script: Script, turns: string[], tools: ToolSpec[] = [END_CALL]): Promise<{ text: string; chunks: LlmChunk[] }> {
  const llm = createScriptedLlm(script);
  const chunks: LlmChunk[] = [];
  for await (const c of llm.generate({ system: "ignored", history: history(script, turns), tools, signal: new AbortController().signal })) chunks.push(c);
  return { text: chunks.map((c) => (c.type === "text" ? c.text : "")).join(""), chunks };
}

describe("name extraction from recogniser text", () => {
  test.each([
    ["my name is john smith", "John Smith"],
    ["it's john", "John"],
    ["john", "John"],
    ["uh john smith", "John Smith"],
    ["yes this is mary o'brien speaking", "Mary O'Brien"],
    ["hi my name's anna", "Anna"],
    ["i am peter parker", "Peter Parker"],
    ["peter here", "Peter"],
    ["you can call me al", "Al"],
    ["my name is john smith and i'm calling about my bill", "John Smith"],
    ["My name is John Smith.", "John Smith"],
    ["i'm calling about my bill", null],
    ["i am not sure", null],
    ["hello", null],
    ["hm", null],
    ["", null],
    ["what do you want", null],
  ])("%p → %p", (text, want) => {
    expect(extractName(text)).toBe(want);
  });
});

describe("reason extraction", () => {
  test.each([
    ["i am calling about my appointment next week", "your appointment next week"],
    ["i have a question about my bill", "your bill"],
    ["i need to cancel my reservation", "needing to cancel your reservation"],
    ["i would like to speak to someone about an invoice", "wanting to speak to someone about an invoice"],
    ["um i'm calling because my invoice is wrong", "the fact that your invoice is wrong"],
    ["it's about my prescription please", "your prescription"],
    ["the opening hours", "the opening hours"],
    ["can you tell me your opening hours", "our opening hours"],
    ["i want to know if my results are in", "if your results are in"],
    ["uh", null],
    ["", null],
  ])("%p → %p", (text, want) => {
    expect(extractReason(text)).toBe(want);
  });
});

// A reason said in passing (with the name): only after an opening such as "calling about", never the whole answer.
describe("stated reason extraction", () => {
  test.each([
    ["my name is john mayer i made about appointment", "appointment"], // pocketsphinx, README caller.wav (s17)
    ["my name is john smith and i'm calling about my bill", "your bill"],
    ["hi this is mary i need to reschedule my visit", "needing to reschedule your visit"],
    ["it's john regarding an invoice please", "an invoice"],
    ["john smith", null],
    ["my name is john smith", null],
    ["yes this is mary o'brien speaking", null],
    ["i'm calling about", null],
    ["", null],
  ])("%p → %p", (text, want) => {
    expect(extractStatedReason(text)).toBe(want);
  });
});

describe("yes/no", () => {
  test.each([
    ["yes that is right", "yes"],
    ["yeah that is right", "yes"],
    ["yep", "yes"],
    ["correct", "yes"],
    ["that's it", "yes"],
    ["no that is wrong", "no"],
    ["that's not right", "no"],
    ["nope", "no"],
    ["no", "no"],
    ["it isn't", "no"],
    ["what", null],
    ["", null],
  ])("%p → %p", (text, want) => {
    expect(classifyYesNo(text)).toBe(want as never);
  });

  test("keywords match whole words with plural s/es", () => {
    expect(hasAnyKeyword("two appointments", ["appointment"])).toBe(true);
    expect(hasAnyKeyword("my invoices", ["invoice"])).toBe(true);
    expect(hasAnyKeyword("the billboard", ["bill"])).toBe(false);
  });
});

describe("default receptionist dialogue (every branch)", async () => {
  const s = await loadScript();

  test("greets first, with the business name", () => {
    const t = replay(s, []);
    expect(t.state).toBe("greet");
    expect(t.text).toBe(
      "Hello, thank you for calling Example Medical Practice. This is the automated receptionist. May I have your name, please?",
    );
    expect(t.end).toBeUndefined();
  });

  test("name → asks the reason", () => {
    expect(replay(s, history(s, ["my name is john smith"])).text).toBe("Thank you, John Smith. What are you calling about today?");
  });

  // Session 17: the caller named the purpose with the name and was asked "What are you calling about today?" anyway.
  test("name and reason in one answer → straight to the confirmation, the reason not asked for", () => {
    const c = replay(s, history(s, ["my name is john mayer i made about appointment"]));
    expect(c.state).toBe("confirm");
    expect(c.text).toBe("So, John Mayer, you are calling about an appointment. I will pass that to our scheduling team. Is that right?");
    expect(c.slots).toMatchObject({ name: "John Mayer", reason: "appointment", topic: "appointment" });
    const b = replay(s, history(s, ["this is mary and i'm calling about my bill"]));
    expect([b.state, b.slots.topic]).toEqual(["confirm", "billing"]);
    // Said with an unclear name: the name is asked again, then the reason is not.
    expect(replay(s, history(s, ["i'm calling about my bill"])).text).toBe("Sorry, I didn't catch your name. Could you please tell me your name?");
    expect(replay(s, history(s, ["i'm calling about my bill", "mary"])).slots.topic).toBe("billing");
    // "No" at the confirmation still asks for the reason again (ask_reason_again does not skip).
    expect(replay(s, history(s, ["my name is john i need an appointment", "no"])).text).toBe("My apologies. Could you tell me again what you are calling about?");
    expect(replay(s, history(s, ["my name is john i need an appointment", "no", "my bill"])).slots.topic).toBe("billing");
  });

  test("appointment branch → confirmation for scheduling; yes → goodbye + end_call", async () => {
    const c = replay(s, history(s, ["it's john", "i am calling about my appointment next week"]));
    expect(c.text).toBe("So, John, you are calling about an appointment. I will pass that to our scheduling team. Is that right?");
    expect(c.slots.topic).toBe("appointment");
    const g = await generate(s, ["it's john", "i am calling about my appointment next week", "yes that is right"]);
    expect(g.text).toBe("Thank you, John. Our scheduling team will call you back about your appointment. Goodbye!");
    expect(g.chunks.at(-1)).toEqual({ type: "tool_call", name: "end_call", args: { reason: "receptionist: caller confirmed, topic appointment" } });
  });

  test("billing branch (bill / invoice)", () => {
    for (const r of ["i have a question about my bill", "there is a mistake on my invoice"]) {
      const c = replay(s, history(s, ["john", r]));
      expect(c.text).toContain("That is a question for our billing office. Is that right?");
      expect(c.slots.topic).toBe("billing");
    }
    const g = replay(s, history(s, ["john", "my bill", "yes"]));
    expect(g.text).toBe("Thank you, John. Our billing office will call you back about your bill. Goodbye!");
    expect(g.end?.args.reason).toBe("receptionist: caller confirmed, topic billing");
  });

  test("other branch", () => {
    const c = replay(s, history(s, ["mary", "can you tell me your opening hours"]));
    expect(c.text).toBe("So, Mary, you have a question for our staff. Is that right?");
    expect(c.slots.topic).toBe("other");
    expect(replay(s, history(s, ["mary", "opening hours", "yeah"])).text).toBe("Thank you, Mary. A member of our staff will call you back. Goodbye!");
  });

  test("no → asks the reason again; the new reason re-branches", () => {
    const h = ["john smith", "my appointment", "no that is wrong"];
    expect(replay(s, history(s, h)).text).toBe("My apologies. Could you tell me again what you are calling about?");
    const c = replay(s, history(s, [...h, "it's about my invoice"]));
    expect(c.state).toBe("confirm");
    expect(c.slots.topic).toBe("billing");
    expect(c.slots.reason).toBe("your invoice");
  });

  test("unclear answers: retry line, then give up after maxRetries with end_call", () => {
    expect(replay(s, history(s, ["hm"])).text).toBe("Sorry, I didn't catch your name. Could you please tell me your name?");
    expect(replay(s, history(s, ["hm", ""])).state).toBe("greet");
    const g = replay(s, history(s, ["hm", "", "what"]));
    expect(g.state).toBe("goodbye_unclear");
    expect(g.end).toEqual({ tool: "end_call", args: { reason: "receptionist: caller not understood" } });
    // Confirmation that is neither yes nor no.
    expect(replay(s, history(s, ["john", "my bill", "maybe"])).text).toBe("Sorry, I didn't catch that. Is that right? Please say yes or no.");
    // A good answer resets the retry count.
    expect(replay(s, history(s, ["hm", "hm", "john", "uh", "uh"])).state).toBe("ask_reason");
  });

  test("stateless: assistant turns are ignored, replay is deterministic, calls do not interfere", () => {
    const turns = ["my name is john smith", "i have a question about my bill"];
    const onlyUser: ChatMessage[] = turns.map((text) => ({ role: "user", text }));
    const a = replay(s, onlyUser);
    expect(replay(s, history(s, turns))).toEqual(a);
    expect(replay(s, [{ role: "assistant", text: "cut by barge-in" }, ...onlyUser])).toEqual(a);
    const llm = createScriptedLlm(s);
    expect(llm.peek([{ role: "user", text: "anna" }]).text).toBe("Thank you, Anna. What are you calling about today?");
    expect(llm.peek(onlyUser)).toEqual(a);
  });

  test("after the end state, further caller turns replay the goodbye", () => {
    const t = replay(s, history(s, ["john", "my bill", "yes", "hello?"]));
    expect(t.state).toBe("goodbye");
    expect(t.end?.tool).toBe("end_call");
  });
});

describe("ScriptedLlm streaming", async () => {
  const s = await loadScript();

  test("is named scripted, flags scripted: true, streams word chunks that rebuild the line", async () => {
    const llm = createScriptedLlm(s);
    expect(llm.name).toBe("scripted");
    expect(llm.scripted).toBe(true);
    const g = await generate(s, []);
    expect(g.chunks.length).toBeGreaterThan(10);
    expect(g.chunks.every((c) => c.type === "text" && c.text.trim().split(" ").length === 1)).toBe(true);
    expect(g.text).toBe(replay(s, []).text);
    expect(wordChunks("a  b c")).toEqual(["a  ", "b ", "c"]);
  });

  test("tool call only when end_call is offered (or no tools at all)", async () => {
    const turns = ["john", "my bill", "yes"];
    expect((await generate(s, turns, [])).chunks.at(-1)!.type).toBe("tool_call");
    const other: ToolSpec = { name: "transfer", description: "x", parameters: {} };
    expect((await generate(s, turns, [other])).chunks.some((c) => c.type === "tool_call")).toBe(false);
    expect((await generate(s, ["john"])).chunks.some((c) => c.type === "tool_call")).toBe(false);
  });

  test("abort before start and mid-stream throws ProviderError aborted, promptly", async () => {
    const llm = createScriptedLlm(s);
    const pre = llm.generate({ system: "", history: [], tools: [], signal: AbortSignal.abort() });
    const e1 = await pre.next().catch((e) => e);
    expect(e1).toBeInstanceOf(ProviderError);
    expect(e1.code).toBe("aborted");

    const ac = new AbortController();
    const it = llm.generate({ system: "", history: [], tools: [], signal: ac.signal });
    const got: string[] = [];
    let err: unknown = null;
    try {
      for await (const c of it) {
        if (c.type === "text") got.push(c.text);
        if (got.length === 3) ac.abort();
      }
    } catch (e) {
      err = e;
    }
    expect(got).toHaveLength(3);
    expect((err as ProviderError).code).toBe("aborted");
  });
});

describe("loadScript / validateScript", () => {
  const good = () => ({
    name: "t",
    start: "a",
    states: {
      a: { say: "Hi, name?", listen: { capture: "n", as: "person_name", next: "b" } },
      b: { say: "Bye {n}.", end: {} },
    },
  });

  test("embedded default loads; a file path overrides it", async () => {
    expect((await loadScript()).name).toBe("receptionist");
    expect((await loadScript("")).name).toBe("receptionist");
    const p = join(dir, "ok.json");
    writeFileSync(p, JSON.stringify(good()));
    const s = await loadScript(p);
    expect(s.name).toBe("t");
    const t = replay(s, [{ role: "user", text: "it's zoe" }]);
    expect(t).toEqual({ text: "Bye Zoe.", state: "b", slots: { n: "Zoe" }, end: { tool: "end_call", args: {} } });
  });

  test("missing file and bad JSON name the file", async () => {
    const missing = join(dir, "nope.json");
    await expect(loadScript(missing)).rejects.toThrow(`SCRIPT_FILE ${missing}: cannot read`);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{ name: ");
    await expect(loadScript(bad)).rejects.toThrow(`SCRIPT_FILE ${bad}: not valid JSON`);
    await expect(loadScript(bad)).rejects.toBeInstanceOf(ScriptError);
  });

  const broken: [string, (j: any) => void, string][] = [
    ["not an object", (j) => Object.assign(j, { states: [] }), "states: must be a non-empty object"],
    ["no name", (j) => delete j.name, "name: must be a non-empty string"],
    ["unknown start", (j) => (j.start = "zz"), 'start: unknown state "zz"'],
    ["unknown next", (j) => (j.states.a.listen.next = "c"), 'states.a.listen.next: unknown state "c"'],
    ["bad capture kind", (j) => (j.states.a.listen.as = "email"), "states.a.listen.as: must be one of person_name, reason, stated_reason, text"],
    ["bad also kind", (j) => (j.states.a.listen.also = { r: "category" }), "states.a.listen.also.r: must be one of person_name, reason, stated_reason, text, digits"],
    ["bad skipIfKnown", (j) => (j.states.a.listen.skipIfKnown = "yes"), "states.a.listen.skipIfKnown: must be true or false"],
    ["unknown intent", (j) => (j.states.a.listen = { intent: "maybe", yes: "b", no: "b" }), 'states.a.listen.intent: unknown intent "maybe"'],
    ["unknown placeholder", (j) => (j.states.b.say = "Bye {m}."), "states.b.say: unknown placeholder {m}"],
    ["dead end", (j) => delete j.states.b.end, "states.b: needs `listen`"],
    ["end and listen", (j) => (j.states.a.end = {}), "states.a: has both `end` and `listen`"],
    ["default not last", (j) => (j.states.b.say = [{ text: "x" }, { if: { slot: "n", equals: "a" }, text: "y" }]), "states.b.say[0]: a branch without `if` must be the last one"],
    ["no default", (j) => (j.states.b.say = [{ if: { slot: "n", equals: "a" }, text: "y" }]), "states.b.say[0]: the last branch must have no `if`"],
    ["unknown if slot", (j) => (j.states.b.say = [{ if: { slot: "q", equals: "a" }, text: "y" }, { text: "z" }]), 'states.b.say[0].if.slot: unknown slot "q"'],
    ["both conditions", (j) => (j.states.b.say = [{ if: { slot: "n", equals: "a", hasAny: ["b"] }, text: "y" }, { text: "z" }]), "states.b.say[0].if: needs exactly one of hasAny, equals"],
    ["bad giveUp", (j) => (j.states.a.giveUp = "nowhere"), 'states.a.giveUp: unknown state "nowhere"'],
    ["bad maxRetries", (j) => (j.maxRetries = -1), "maxRetries: must be an integer ≥ 0"],
    ["bad end args", (j) => (j.states.b.end = { args: { reason: 5 } }), "states.b.end.args.reason: must be a string"],
  ];
  test.each(broken)("rejects: %s", (_n, mutate, msg) => {
    const j = good();
    mutate(j);
    expect(() => validateScript(j, "x.json")).toThrow(`x.json: ${msg}`);
  });
});
