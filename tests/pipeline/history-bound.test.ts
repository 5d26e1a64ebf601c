/**
 * The LLM request's history bound (src/pipeline/history-bound.ts, LLM_HISTORY_MAX_CHARS): the cut itself
 * (order, roles, bound, the newest caller turn, Gemini's shape after normalizeTurns), and an AgentCall on the
 * fake clock whose requests stop growing past the bound while the call record keeps every turn, the cut
 * logged once, and a scripted LLM still seeing the whole history.
 */
import { describe, expect, test } from "bun:test";
import pino from "pino";
import { Writable } from "node:stream";
import { AgentCall } from "../../src/pipeline/agent-call";
import { boundHistory, CUT_MARK, DEFAULT_LLM_HISTORY_MAX_CHARS } from "../../src/pipeline/history-bound";
import { Pacer } from "../../src/rtp/pacer";
import { Playout } from "../../src/media/playout";
import { FakeLlm, FakeStt, FakeTts } from "../../src/providers/fake";
import { normalizeTurns, SPEAK_FIRST_PROMPT } from "../../src/providers/gemini/history";
import { toContents } from "../../src/providers/gemini/provider";
import type { ChatMessage, LlmProvider, LlmRequest } from "../../src/providers/types";
import { FakeClock } from "../../src/util/clock";
import { testRecord } from "./support/agent-call";

const chars = (h: readonly ChatMessage[]) => h.reduce((n, m) => n + m.text.length, 0);
/** A conversation: the greeting, then `n` caller/agent exchanges, each message 50 characters. */
function conversation(n: number, last: "user" | "assistant" = "user"): ChatMessage[] {
  const h: ChatMessage[] = [{ role: "assistant", text: "G".repeat(49) + "0" }];
  for (let i = 1; i <= n; i++) {
    h.push({ role: "user", text: `caller ${String(i).padStart(3, "0")} `.padEnd(50, "u") });
    if (i < n || last === "assistant") h.push({ role: "assistant", text: `agent ${String(i).padStart(3, "0")} `.padEnd(50, "a") });
  }
  return h;
}

describe("boundHistory", () => {
  test("within the bound: the whole history, nothing dropped", () => {
    const h = conversation(3);
    expect(boundHistory(h, chars(h))).toEqual({ history: h, dropped: 0, cutNewest: false });
    expect(boundHistory(h, Infinity).history).toEqual(h);
  });

  test("past it: the oldest messages dropped whole, order kept, starts with a caller turn, within the bound", () => {
    const h = conversation(10); // 1 + 19 messages, 1000 chars
    for (const max of [120, 149, 150, 199, 200, 333, 999]) {
      const b = boundHistory(h, max);
      expect(chars(b.history)).toBeLessThanOrEqual(max);
      expect(b.history[0]!.role).toBe("user");
      expect(b.history.at(-1)).toEqual(h.at(-1)!); // the newest caller turn, whole
      expect(b.history).toEqual(h.slice(b.dropped)); // a suffix: whole messages, in order
      // nothing more fits: the older pair (caller, agent) before the kept ones would pass the bound; with
      // one message dropped, it is the greeting (an agent message cannot come first)
      if (b.dropped >= 2) expect(chars(h.slice(b.dropped - 2))).toBeGreaterThan(max);
      else expect(h.slice(0, b.dropped).map((m) => m.role)).toEqual(["assistant"]);
      for (let i = 1; i < b.history.length; i++) expect(b.history[i]!.role).not.toBe(b.history[i - 1]!.role);
    }
    // 150 characters: the last three messages (user, assistant, user)
    expect(boundHistory(h, 150).history.map((m) => m.text.slice(0, 10))).toEqual(["caller 009", "agent 009 ", "caller 010"]);
    expect(boundHistory(h, 150).dropped).toBe(17);
  });

  test("an assistant message left first is dropped too (no greeting in front of '(call connected)')", () => {
    const h = conversation(10);
    const b = boundHistory(h, 100); // room for "agent 009" + "caller 010", but it would start with the agent
    expect(b.history).toEqual([h.at(-1)!]);
    expect(b.dropped).toBe(h.length - 1);
  });

  test("the newest caller turn alone over the bound is sent cut to its end, marked", () => {
    const said = "first words " + "x".repeat(500) + " the last words";
    const h: ChatMessage[] = [...conversation(2), { role: "assistant", text: "Go on." }, { role: "user", text: said }];
    const b = boundHistory(h, 200);
    expect(b.cutNewest).toBe(true);
    expect(b.history).toHaveLength(1);
    expect(b.history[0]!.role).toBe("user");
    expect(b.history[0]!.text.startsWith(CUT_MARK)).toBe(true);
    expect(b.history[0]!.text.endsWith(" the last words")).toBe(true);
    expect(b.history[0]!.text.length).toBe(200);
    expect(h.at(-1)!.text).toBe(said); // the input is never changed
  });

  test("a re-prompt after the newest caller turn is kept with it", () => {
    const h = conversation(10, "assistant"); // ends with the agent (e.g. "Are you still there?")
    const b = boundHistory(h, 100);
    expect(b.history.map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(b.history).toEqual(h.slice(-2));
  });

  test("Gemini's shape after the cut: alternating, starting and ending with a user turn, no '(call connected)'", () => {
    for (const last of ["user", "assistant"] as const) {
      const b = boundHistory(conversation(30, last), 500);
      const turns = normalizeTurns(b.history);
      expect(turns[0]!.role).toBe("user");
      expect(turns.at(-1)!.role).toBe("user");
      expect(turns.some((t) => t.text === SPEAK_FIRST_PROMPT)).toBe(false);
      const contents = toContents({ history: b.history });
      for (let i = 1; i < contents.length; i++) expect(contents[i]!.role).not.toBe(contents[i - 1]!.role);
      expect(contents[0]!.role).toBe("user");
    }
  });

  test("the default fits a 10-minute call: ~900 characters a minute of both sides talking", () => {
    expect(DEFAULT_LLM_HISTORY_MAX_CHARS).toBeGreaterThanOrEqual(10 * 900);
  });
});

/** An AgentCall on the fake clock whose caller turns are key groups (AgentCall.onDtmf), logging to `lines`. */
function setup(llm: LlmProvider, maxChars: number) {
  const clock = new FakeClock();
  const playout = new Playout({ sink: { sendFrame: () => true }, codec: "PCMU" });
  new Pacer({ clock }).add(playout);
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
  const record = testRecord();
  const call = new AgentCall({
    record, clock, log, stt: new FakeStt(), llm, tts: new FakeTts({ clock, msPerChar: 1 }), system: "You are a test.", tools: [],
    output: playout, codec: "PCMU", hangup: () => {}, settings: { llmHistoryMaxChars: maxChars, idlePromptMs: 3_600_000 },
  });
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
  };
  const turn = async (keys: string) => {
    for (const k of keys) call.onDtmf(k);
    await run(2500);
  };
  return { call, record, run, turn, lines };
}

describe("AgentCall: the request's history is bounded, the record keeps everything", () => {
  test("20 turns at a 300-character bound: requests stop growing, the newest turn is in each, logged once", async () => {
    const llm = new FakeLlm({ replies: ["Hello, this is the test line, press keys please.", "Thank you, I have noted those keys for you."] });
    const s = setup(llm, 300);
    await s.call.start();
    await s.run(3000);
    for (let i = 1; i <= 20; i++) await s.turn(`${i}#`);
    expect(llm.requests).toHaveLength(21);
    const sizes = llm.requests.map((r: LlmRequest) => chars(r.history));
    for (const [i, r] of llm.requests.entries()) {
      expect(chars(r.history)).toBeLessThanOrEqual(300);
      expect(r.system).toBe("You are a test.");
      if (i > 0) {
        expect(r.history.at(-1)).toEqual({ role: "user", text: `[keys pressed: ${i}#]` });
        // the whole history starts with the greeting; a bounded one with a caller turn
        if (r.history[0]!.role === "assistant") expect(r.history[0]!.text).toStartWith("Hello, this is the test line");
      }
    }
    expect(llm.requests.at(-1)!.history[0]!.role).toBe("user");
    expect(Math.max(...sizes.slice(10))).toBeLessThanOrEqual(300);
    expect(sizes.at(-1)!).toBeGreaterThan(200); // filled up to the bound, not emptied
    // the record: greeting + 20 × (caller, agent), every turn
    expect(s.record.turns).toHaveLength(41);
    expect(s.record.turns.filter((t) => t.speaker === "caller").map((t) => t.text)).toEqual(
      Array.from({ length: 20 }, (_, i) => `[keys pressed: ${i + 1}#]`),
    );
    expect(s.call.transcript).toHaveLength(41);
    const cut = s.lines.filter((l) => l.msg === "LLM history bounded: oldest turns left out of the request");
    expect(cut).toHaveLength(1);
    expect(cut[0]).toMatchObject({ callId: "c1", maxChars: 300 });
    s.call.stop();
  }, 30_000);

  test("a scripted LLM sees the whole history (its dialogue is a replay of every caller turn)", async () => {
    const inner = new FakeLlm({ replies: ["Hello, this is the test line, press keys please.", "Thank you, I have noted those keys for you."] });
    const scripted: LlmProvider = { name: "scripted", scripted: true, generate: (r) => inner.generate(r) };
    const s = setup(scripted, 300);
    await s.call.start();
    await s.run(3000);
    for (let i = 1; i <= 12; i++) await s.turn(`${i}#`);
    expect(inner.requests).toHaveLength(13);
    expect(inner.requests.at(-1)!.history).toHaveLength(24);
    expect(chars(inner.requests.at(-1)!.history)).toBeGreaterThan(300);
    s.call.stop();
  }, 30_000);
});
