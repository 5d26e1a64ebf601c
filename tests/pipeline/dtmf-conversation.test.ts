/** DTMF in the conversation: key groups become caller turns, send_dtmf reaches the RTP side. */
import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../src/util/clock";
import { silentLogger } from "../../src/util/log";
import { AgentCall } from "../../src/pipeline/agent-call";
import { DigitCollector, MAX_GROUP_KEYS, MIN_GROUP_GAP_MS } from "../../src/pipeline/digit-collector";
import { Playout } from "../../src/media/playout";
import { Pacer } from "../../src/rtp/pacer";
import type { CallRecord } from "../../src/pipeline/call-record";
import { FakeLlm, FakeStt, FakeTts, type FakeReply } from "../../src/providers/fake";
import { dtmfOfTurn, dtmfTurnText } from "../../src/providers/dtmf-text";
import { sendDtmf } from "../../src/providers/tools/send-dtmf";
import { createScriptedLlm } from "../../src/providers/scripted/scripted-llm";
import { validateScript } from "../../src/providers/scripted/script";
import type { LlmProvider } from "../../src/providers/types";

describe("DigitCollector", () => {
  const collect = (settings = {}) => {
    const clock = new FakeClock();
    const out: string[] = [];
    const c = new DigitCollector(clock, { interDigitMs: 2000, maxDigits: 0, terminator: "#", ...settings }, (k) => out.push(k));
    return { clock, out, c };
  };
  test("# ends a group at once (kept), the inter-digit timeout ends another", () => {
    const { clock, out, c } = collect();
    for (const k of "12#") c.press(k);
    expect(out).toEqual(["12#"]);
    c.press("4");
    clock.advance(1999);
    c.press("5");
    clock.advance(1999);
    expect(out).toEqual(["12#"]);
    clock.advance(1);
    expect(out).toEqual(["12#", "45"]);
  });
  test("groups are handed on at most one per MIN_GROUP_GAP_MS: # pressed 10 times a second makes one turn a second, no key lost", () => {
    const { clock, out, c } = collect();
    expect(MIN_GROUP_GAP_MS).toBe(1000);
    c.press("#"); // the first group at once
    expect(out).toEqual(["#"]);
    for (let i = 0; i < 25; i++) {
      clock.advance(100);
      c.press(i % 5 === 4 ? "#" : "1");
    }
    // 2.5 s of keys: groups handed on at 1.0 s and 2.0 s (each the keys held until then), the rest held.
    expect(out).toEqual(["#", "1111#1111", "#1111#1111"]);
    expect(c.pending).toBe("#1111#");
    clock.advance(500);
    expect(out).toEqual(["#", "1111#1111", "#1111#1111", "#1111#"]);
    expect(out.join("").length).toBe(26);
    // A group after a quiet second goes at once again.
    clock.advance(1000);
    for (const k of "7#") c.press(k);
    expect(out.at(-1)).toBe("7#");
  });
  test("a group holds the last MAX_GROUP_KEYS keys: 1,000 keys without # make one group of the newest 64, the count of the rest reported", () => {
    expect(MAX_GROUP_KEYS).toBe(64);
    const clock = new FakeClock();
    const out: Array<[string, number]> = [];
    const c = new DigitCollector(clock, { interDigitMs: 2000, maxDigits: 0, terminator: "#" }, (k, d) => out.push([k, d]));
    const other: string[] = [];
    const quiet = new DigitCollector(clock, { interDigitMs: 2000, maxDigits: 0, terminator: "#" }, (k) => other.push(k));
    const keys = Array.from({ length: 1000 }, (_, i) => "0123456789*ABCD"[i % 15]!).join("");
    for (let i = 0; i < keys.length; i++) {
      c.press(keys[i]!);
      if (i === 500) for (const k of "12#") quiet.press(k); // another call's collector, mid-flood
      clock.advance(5);
    }
    expect(c.pending).toBe(keys.slice(-64));
    expect(out).toEqual([]);
    clock.advance(2000);
    expect(out).toEqual([[keys.slice(-64), 936]]);
    expect(other).toEqual(["12#"]);
    // The next group starts empty, its count from 0; # still ends it at once, and a group held by the
    // one-a-second rule is bounded the same way.
    clock.advance(MIN_GROUP_GAP_MS);
    for (const k of "9".repeat(70) + "#") c.press(k);
    expect(out.at(-1)).toEqual(["9".repeat(63) + "#", 7]);
    for (const k of "1#") c.press(k); // complete at once, held (< 1 s since the last group)
    for (let i = 0; i < 100; i++) c.press("5");
    expect(c.pending.length).toBe(64);
    clock.advance(1000);
    expect(out.at(-1)).toEqual(["5".repeat(64), 38]);
  });
  test("a length ends a group; flash and junk are ignored", () => {
    const { out, c } = collect({ maxDigits: 3 });
    for (const k of ["1", "flash", "x", "2", "3", "4"]) c.press(k);
    expect(out).toEqual(["123"]);
    expect(c.pending).toBe("4");
    c.dispose();
    expect(c.pending).toBe("");
  });
});

describe("DTMF turn text and send_dtmf arguments", () => {
  test("round trip; spoken text is not keys", () => {
    expect(dtmfOfTurn(dtmfTurnText("12#"))).toBe("12#");
    expect(dtmfOfTurn("one two")).toBeNull();
  });
  test("send_dtmf validates its digits", () => {
    expect(sendDtmf.parseArgs({ digits: "1 2-3#" })).toEqual({ ok: true, args: { digits: "123#" } });
    expect(sendDtmf.parseArgs({ digits: 42 })).toEqual({ ok: true, args: { digits: "42" } });
    expect(sendDtmf.parseArgs({ digits: "1x" }).ok).toBe(false);
    expect(sendDtmf.parseArgs({}).ok).toBe(false);
    expect(sendDtmf.parseArgs({ digits: "1".repeat(33) }).ok).toBe(false);
  });
});

function setup(replies: FakeReply[], scripted?: LlmProvider) {
  const clock = new FakeClock();
  const playout = new Playout({ sink: { sendFrame: () => true }, codec: "PCMU" });
  new Pacer({ clock }).add(playout);
  const stt = new FakeStt();
  const fake = new FakeLlm({ replies, clock });
  const llm = scripted ?? fake;
  const tts = new FakeTts({ clock, msPerChar: 25 });
  const sent: string[] = [];
  const record: CallRecord = {
    id: "c1", sipCallId: "x", direction: "inbound", from: "a", to: "b", state: "connected",
    startedAt: new Date().toISOString(), turns: [], bargeIns: 0,
  };
  const call = new AgentCall({
    record, clock, log: silentLogger, stt, llm, tts, system: "test", tools: [sendDtmf.spec], output: playout, codec: "PCMU",
    hangup: () => {},
    sendDtmf: (k) => (sent.push(k), true),
  });
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
  };
  return { call, llm: fake, stt, tts, record, run, sent };
}

describe("AgentCall with DTMF", () => {
  test("keys pressed during the greeting cut it and reach the LLM as one caller turn", async () => {
    const s = setup(["Hello, press one for sales or two for support, then the pound key.", "Sales it is."]);
    await s.call.start();
    await s.run(300); // the greeting is playing
    s.call.onDtmf("1");
    await s.run(200);
    s.call.onDtmf("#");
    await s.run(2000);
    expect(s.llm.requests.length).toBe(2);
    expect(s.llm.requests[1]!.history.at(-1)).toEqual({ role: "user", text: "[keys pressed: 1#]" });
    expect(s.record.turns.map((t) => [t.speaker, t.text]).slice(1)).toEqual([["caller", "[keys pressed: 1#]"], ["agent", "Sales it is."]]);
    expect(s.record.turns[0]!.interrupted).toBe(true);
    s.call.stop();
  });

  test("the send_dtmf tool hands validated keys to the RTP side", async () => {
    const s = setup([
      [{ type: "tool_call", name: "send_dtmf", args: { digits: "2#" } }],
    ]);
    await s.call.start();
    await s.run(500);
    expect(s.sent).toEqual(["2#"]);
    s.call.stop();
  });
});

describe("a dialogue step's expectation reaches the recogniser and the key grouping", () => {
  const script = validateScript({
    name: "t",
    start: "menu",
    states: {
      menu: {
        say: "Sales or support?",
        listen: { capture: "topic", as: "category", next: "code", categories: { sales: ["buy", "price"], support: ["broken", "help"] }, keys: { "1": "code" } },
      },
      code: { say: "Your four digit code.", listen: { capture: "code", as: "digits", next: "ok", dtmf: { terminator: "none", maxDigits: 4 } } },
      ok: { say: "Code {code}. Goodbye.", end: {} },
    },
  });

  test("category words for the first step; digit words and a 4-key group without terminator for the next", async () => {
    const s = setup(["unused"], createScriptedLlm(script));
    await s.call.start();
    await s.run(200);
    expect(s.stt.streams[0]!.expectations).toEqual([{ kind: "category", words: ["buy", "price", "broken", "help"] }]);
    s.call.onDtmf("1");
    await s.run(2500); // "1" alone ends by the 2 s default timeout → the code step
    const code = s.stt.streams[0]!.expectations.at(-1)!;
    expect(code.digits).toEqual({ terminator: "", maxDigits: 4 });
    expect(code.words).toContain("seven");
    await s.run(2000);
    for (const k of "12#4") s.call.onDtmf(k); // "#" is an ordinary key here; the 4th key ends the group
    await s.run(300);
    expect(s.record.turns.filter((t) => t.speaker === "caller").map((t) => t.text)).toEqual(["[keys pressed: 1]", "[keys pressed: 12#4]"]);
    s.call.stop();
  });
});
