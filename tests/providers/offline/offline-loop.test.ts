/**
 * The three offline providers together, without the pipeline: a synthetic caller (flite voice "rms",
 * through our 8 kHz path) answers the default receptionist; pocketsphinx hears each answer; the scripted
 * engine, replaying what was heard, must take the appointment branch and end the call.
 */
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { createFliteTts, createPocketsphinxStt, createScriptedLlm, loadScript } from "../../../src/providers/offline.ts";
import type { ChatMessage, LlmChunk, SttEvent } from "../../../src/providers/types.ts";

const HAVE_PS = Bun.which("pocketsphinx_continuous") !== null && existsSync("/usr/share/pocketsphinx/model/en-us/en-us/mdef");

test.skipIf(!HAVE_PS)("caller → pocketsphinx → scripted receptionist → end_call (appointment branch)", async () => {
  const caller = createFliteTts({ voice: "rms" });
  const llm = createScriptedLlm(await loadScript());
  const stt = await createPocketsphinxStt().open({ callId: "loop", signal: new AbortController().signal, codec: "PCMU" });
  const heard: string[] = [];
  const reader = (async () => {
    for await (const e of stt.events as AsyncIterable<SttEvent>) if (e.type === "final") heard.push(e.text);
  })();
  const push = (pcm: Int16Array) => {
    for (let k = 0; k < pcm.length; k += 160) {
      const f = new Int16Array(160);
      f.set(pcm.subarray(k, k + 160));
      stt.push({ pcm: f, payload: new Uint8Array(160), codec: "PCMU" });
    }
  };
  const history: ChatMessage[] = [];
  const agent = async () => {
    const chunks: LlmChunk[] = [];
    for await (const c of llm.generate({ system: "", history, tools: [], signal: new AbortController().signal })) chunks.push(c);
    const text = chunks.map((c) => (c.type === "text" ? c.text : "")).join("");
    history.push({ role: "assistant", text });
    return { text, chunks };
  };
  expect((await agent()).text).toContain("May I have your name");
  push(new Int16Array(4000));
  for (const answer of ["My name is John Smith.", "I am calling about my appointment next week.", "Yes, that is right."]) {
    const before = heard.length;
    push(await caller.synthesize8k(answer));
    stt.flush();
    for (let i = 0; i < 2000 && heard.length === before; i++) await Bun.sleep(20); // ≤ 40 s on a loaded box
    expect(heard.length).toBe(before + 1);
    history.push({ role: "user", text: heard.at(-1)! });
    await agent();
  }
  stt.close();
  await reader;
  expect(history[2]!.text).toBe("Thank you, John Smith. What are you calling about today?");
  expect(history[4]!.text).toContain("scheduling team. Is that right?");
  expect(history.at(-1)!.text).toBe("Thank you, John Smith. Our scheduling team will call you back about your appointment. Goodbye!");
  const final = await (async () => {
    const out: LlmChunk[] = [];
    for await (const c of llm.generate({ system: "", history: history.slice(0, -1), tools: [], signal: new AbortController().signal })) out.push(c);
    return out.at(-1);
  })();
  expect(final).toEqual({ type: "tool_call", name: "end_call", args: { reason: "receptionist: caller confirmed, topic appointment" } });
}, 150_000);
