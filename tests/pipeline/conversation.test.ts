/**
 * The conversation core on the scripted provider fakes (src/providers/fake) and the real audio output
 * (Playout on the Pacer), all on a fake clock: the state machine, the speech handle, hold/resume, the
 * LLM watchdog, a TTS failing mid-reply, and the provider named in the record after a fallback.
 */
import { describe, expect, test } from "bun:test";
import { Playout } from "../../src/media/playout";
import { AgentCall } from "../../src/pipeline/agent-call";
import type { CallRecord } from "../../src/pipeline/call-record";
import { conversationMachine } from "../../src/pipeline/conversation-state";
import { heardPart, wholeSentences } from "../../src/pipeline/heard-text";
import { SpeechHandle, fixedSource } from "../../src/pipeline/speech-handle";
import { FakeLlm, FakeStt, FakeTts, type FakeReply } from "../../src/providers/fake";
import { ProviderError, type TtsProvider } from "../../src/providers/types";
import { Pacer } from "../../src/rtp/pacer";
import { FakeClock } from "../../src/util/clock";
import { silentLogger } from "../../src/util/log";
import { IllegalTransitionError } from "../../src/util/state-machine";

const APOLOGY = "Sorry, I had a problem just now. Could you say that again?";
const frame = { pcm: new Int16Array(160), payload: new Uint8Array(160).fill(0xff), codec: "PCMU" as const };

function output(clock: FakeClock) {
  const playout = new Playout({ sink: { sendFrame: () => true }, codec: "PCMU" });
  new Pacer({ clock }).add(playout);
  return playout;
}

/** Advances fake time in 10 ms steps, letting promise callbacks run between them. */
async function run(clock: FakeClock, ms: number, each?: () => void) {
  for (let t = 0; t < ms; t += 10) {
    clock.advance(10);
    each?.();
    for (let i = 0; i < 6; i++) await Promise.resolve();
  }
}

function record(): CallRecord {
  return { id: "c", sipCallId: "s", direction: "inbound", from: "a", to: "b", state: "connected", startedAt: new Date().toISOString(), turns: [], bargeIns: 0 };
}

function setup(o: { replies: FakeReply[]; firstTokenDelayMs?: number; chunkDelayMs?: number; tts?: TtsProvider; fallbackLlm?: FakeLlm; settings?: object; transfer?: ConstructorParameters<typeof AgentCall>[0]["transfer"] }) {
  const clock = new FakeClock();
  const out = output(clock);
  const stt = new FakeStt();
  const llm = new FakeLlm({ replies: o.replies, clock, firstTokenDelayMs: o.firstTokenDelayMs, chunkDelayMs: o.chunkDelayMs });
  const tts = new FakeTts({ clock });
  const fallbackTts = new FakeTts({ clock }, "offline-tts");
  const rec = record();
  const hangups: string[] = [];
  const call = new AgentCall({
    record: rec,
    clock,
    log: silentLogger,
    stt,
    llm,
    tts: o.tts ?? tts,
    fallbackTts,
    fallbackLlm: o.fallbackLlm,
    system: "test",
    tools: [],
    output: out,
    codec: "PCMU",
    settings: { idlePromptMs: 2000, idlePromptsBeforeHangup: 2, ...o.settings },
    hangup: (r) => hangups.push(r),
    transfer: o.transfer,
  });
  /** The caller says `text` (a final with speechFinal; no VAD, so the turn ends on the STT alone). */
  const say = (text: string) => stt.streams[0]!.emit({ type: "final", text, speechFinal: true });
  return { clock, out, stt, llm, tts, fallbackTts, rec, hangups, call, say, run: (ms: number, each?: () => void) => run(clock, ms, each) };
}

describe("conversation state machine", () => {
  test("the table rejects illegal moves", () => {
    const m = conversationMachine();
    expect(m.state).toBe("greeting");
    m.to("listening");
    expect(() => m.to("greeting")).toThrow(IllegalTransitionError);
    m.to("on-hold");
    m.to("replying");
    m.to("ending");
    expect(() => m.to("replying")).toThrow(IllegalTransitionError);
    expect(() => m.to("on-hold")).toThrow(IllegalTransitionError);
    m.to("stopped");
    for (const s of ["greeting", "listening", "replying", "on-hold", "ending", "stopped"] as const) expect(m.can(s)).toBe(false);
  });

  test("a call moves greeting → listening → replying → listening → stopped", async () => {
    const s = setup({ replies: ["Hello there.", "Sure thing."] });
    const seen: string[] = [];
    await s.call.start();
    seen.push(s.call.state.state);
    await s.run(1000);
    seen.push(s.call.state.state);
    s.say("book me in");
    await s.run(920); // without a VAD the turn ends minSilenceMs (900) after the final
    seen.push(s.call.state.state);
    await s.run(1500);
    seen.push(s.call.state.state);
    s.call.stop();
    seen.push(s.call.state.state);
    expect(seen).toEqual(["greeting", "listening", "replying", "listening", "stopped"]);
    expect(() => s.call.state.to("replying")).toThrow(IllegalTransitionError);
    // Nothing happens after the stop: no prompt, no reply.
    s.say("hello?");
    await s.run(5000);
    expect(s.llm.requests).toHaveLength(2);
  });
});

describe("SpeechHandle", () => {
  test("an interrupt keeps exactly the text whose audio was heard", async () => {
    const clock = new FakeClock();
    const out = output(clock);
    const tts = new FakeTts({ clock }); // 10 ms of audio per character
    const text = "one two three four five six seven eight nine ten.";
    const h = new SpeechHandle(null, () => clock.now(), clock.now());
    out.listen({
      onPlaybackStarted: (e) => e.segmentId === h.segmentId && h.playbackStarted(),
      onPlaybackFinished: (e) => e.segmentId === h.segmentId && h.playbackFinished(e),
    });
    const done = h.run({ source: () => fixedSource(text), tts, output: out, callId: "c", callSignal: new AbortController().signal });
    await run(clock, 200); // 10 frames of 20 ms went out (the first at t = 20)
    expect(h.startedAt).toBe(20);
    expect(h.latency.firstRtpMs).toBe(20);
    out.clearBuffer();
    h.interrupt();
    await done;
    expect(h.playedMs).toBe(200);
    expect(h.audioComplete).toBe(true);
    expect(h.queuedSamples).toBe(text.length * 80);
    // 200 ms of 500 ms: 40 % of the characters (20), back to the word boundary.
    expect(heardPart(text, 1600, text.length * 80)).toBe("one two three four");
    expect(h.heardText(533)).toBe("one two three four");
    expect(h.unheardRest("one two three four")).toBe("five six seven eight nine ten.");
    // Interrupted: no more audio is captured, the TTS context was cancelled.
    expect(tts.cancels).toBe(1);
  });

  test("a TTS that fails while the LLM still streams ends the run at once with the TTS error", async () => {
    const clock = new FakeClock();
    const out = output(clock);
    const failing: TtsProvider = {
      name: "broken-tts",
      open: () => ({
        pushText() {},
        end() {},
        cancel() {},
        audio: (async function* () {
          throw new ProviderError("broken-tts", "tts", "unavailable", "socket dropped", true);
        })(),
      }),
    };
    const llm = new FakeLlm({ replies: ["a b c d e f g h i j k l m n o p"], clock, chunkDelayMs: 1000 });
    const h = new SpeechHandle("hi", () => clock.now(), 0);
    let result: { error: unknown } | undefined;
    void h.run({ source: (signal) => llm.generate({ system: "", history: [], tools: [], signal }), tts: failing, output: out, callId: "c", callSignal: new AbortController().signal }).then((r) => (result = r));
    await run(clock, 100);
    expect((result?.error as ProviderError).provider).toBe("broken-tts");
    expect(h.generated.split(" ").length).toBeLessThan(4); // the LLM was stopped, not read to its end (16 s)
  });
});

describe("hold and resume", () => {
  test("wholeSentences: heard text cut back to its last whole sentence", () => {
    expect(wholeSentences("Hello and thank you for calling the library. This is the")).toBe("Hello and thank you for calling the library.");
    expect(wholeSentences("Is it you? Yes! And")).toBe("Is it you? Yes!");
    expect(wholeSentences("Hello and thank you")).toBe("");
    expect(wholeSentences("It costs 3.50 dollars")).toBe("");
    expect(wholeSentences("")).toBe("");
  });

  test("on hold: no idle prompt for 60 s, no caller audio fed; resume continues where it was", async () => {
    const s = setup({ replies: ["Hello there."] });
    await s.call.start();
    await s.run(1000); // greeting played
    expect(s.call.state.state).toBe("listening");
    s.call.hold();
    expect(s.call.state.state).toBe("on-hold");
    const frames = s.stt.streams[0]!.frames;
    await s.run(60_000, () => s.call.onAudioFrame(frame));
    expect(s.stt.streams[0]!.frames).toBe(frames);
    expect(s.rec.turns.map((t) => t.text)).toEqual(["Hello there."]);
    expect(s.hangups).toEqual([]);
    s.call.resume();
    expect(s.call.state.state).toBe("listening");
    await s.run(1900);
    expect(s.rec.turns).toHaveLength(1);
    await s.run(1000); // idle time (2 s) counted from the resume
    expect(s.rec.turns.map((t) => t.text)).toEqual(["Hello there.", "Are you still there?"]);
  });

  test("hold during a reply cuts it (heard part kept); resume starts again at the sentence the hold cut", async () => {
    const long = "One two. Three four five six seven eight nine ten eleven twelve.";
    const s = setup({ replies: [long] });
    await s.call.start();
    await s.run(200);
    s.call.hold();
    const cut = s.rec.turns[0]!;
    expect(cut.interrupted).toBe(true);
    expect(long.startsWith(cut.text)).toBe(true);
    expect(cut.text.length).toBeGreaterThan("One two. Three".length - 1); // the hold came inside the second sentence
    expect(cut.text.endsWith(".")).toBe(false);
    await s.run(10_000);
    expect(s.rec.turns).toHaveLength(1);
    s.call.resume();
    expect(s.call.state.state).toBe("replying");
    await s.run(1500);
    // Not mid-sentence after minutes away: the cut sentence again, whole (probe, session 11).
    expect(s.rec.turns[1]!.text).toBe("Three four five six seven eight nine ten eleven twelve.");
    expect(s.llm.requests).toHaveLength(1);
  });

  test("a hold inside the first sentence: resume says that sentence from its start", async () => {
    const long = "one two three four five six seven eight nine ten eleven twelve.";
    const s = setup({ replies: [long] });
    await s.call.start();
    await s.run(200);
    s.call.hold();
    const cut = s.rec.turns[0]!;
    expect(cut.interrupted).toBe(true);
    expect(cut.text.length).toBeGreaterThan(0);
    expect(long.startsWith(cut.text)).toBe(true);
    s.call.resume();
    await s.run(1500);
    expect(s.rec.turns[1]!.text).toBe(long);
    expect(s.llm.requests).toHaveLength(1);
  });
});

describe("hold during generation", () => {
  test("nothing heard and the generation unfinished: resume generates the reply again", async () => {
    const s = setup({ replies: ["Hello there, this is the greeting."], chunkDelayMs: 200 });
    await s.call.start();
    await s.run(300); // two words generated, no sentence yet, nothing played
    s.call.hold();
    expect(s.rec.turns).toMatchObject([{ text: "", interrupted: true }]);
    await s.run(5000);
    s.call.resume();
    await s.run(3000);
    expect(s.llm.requests).toHaveLength(2);
    expect(s.rec.turns.at(-1)).toMatchObject({ text: "Hello there, this is the greeting." });
    expect(s.rec.turns.at(-1)!.interrupted).toBeUndefined();
  });

  test("a rest cut mid-generation resumes only up to its last finished sentence", async () => {
    const s = setup({ replies: ["One two three. Four five six. Seven eight nine ten."], chunkDelayMs: 100 });
    await s.call.start();
    await s.run(750); // "One two three. Four five six. Seven" generated; "One two three." partly played
    s.call.hold();
    const cut = s.rec.turns[0]!;
    expect(cut.interrupted).toBe(true);
    s.call.resume();
    await s.run(3000);
    const rest = s.rec.turns[1]!.text;
    // The hold came inside "One two three.": that sentence again, then the rest up to the last finished one.
    expect("One two three.".startsWith(cut.text)).toBe(true);
    expect(rest).toBe("One two three. Four five six.");
    expect(s.llm.requests).toHaveLength(1);
  });
});

describe("LLM watchdog and provider failures", () => {
  test("no first token within llmFirstTokenMs: the caller hears the apology", async () => {
    const s = setup({ replies: ["Hi."], settings: { llmFirstTokenMs: 3000 } });
    await s.call.start();
    await s.run(500);
    (s.llm as unknown as { o: { firstTokenDelayMs: number } }).o.firstTokenDelayMs = 60_000;
    s.say("are you there");
    await s.run(900 + 2900); // the turn ends 900 ms after the final; the first token is due 3 s later
    expect(s.fallbackTts.texts).toEqual([]);
    await s.run(600);
    expect(s.fallbackTts.texts).toEqual([APOLOGY]);
    const failed = s.rec.turns.find((t) => t.error);
    expect(failed?.error).toMatch(/timeout: .*no first token after 3000 ms/);
    expect(s.call.state.state).not.toBe("stopped");
  });

  test("a reply not finished within llmTotalMs gets the apology too", async () => {
    const s = setup({ replies: ["Hi.", "a b c d e f g h i j"], settings: { llmTotalMs: 5000 } });
    await s.call.start();
    await s.run(500);
    (s.llm as unknown as { o: { chunkDelayMs: number } }).o.chunkDelayMs = 1000;
    s.say("tell me a story");
    await s.run(6000);
    expect(s.fallbackTts.texts).toEqual([APOLOGY]);
    expect(s.rec.turns.find((t) => t.error)?.error).toMatch(/reply not finished after 5000 ms/);
  });

  test("an LLM silent at call start is replaced by the fallback, and the record names it", async () => {
    const offline = new FakeLlm({ replies: ["Offline hello."] }, "offline-llm");
    const s = setup({ replies: ["never"], firstTokenDelayMs: 60_000, fallbackLlm: offline, settings: { llmFirstTokenMs: 3000 } });
    await s.call.start();
    await s.run(4000);
    expect(s.rec.turns[0]!.text).toBe("Offline hello.");
    expect(s.rec.providers).toEqual({ stt: "fake-stt", llm: "offline-llm (fallback)", tts: "fake-tts" });
  });

  test("a TTS failing mid-reply: the apology is heard through the fallback voice, the next turn works", async () => {
    const clock = new FakeClock();
    let breakNext = false;
    const inner = new FakeTts({ clock });
    const flaky: TtsProvider = {
      name: "flaky-tts",
      open(o) {
        const ctx = inner.open(o);
        if (!breakNext) return ctx;
        breakNext = false;
        return {
          ...ctx,
          audio: (async function* () {
            for await (const pcm of ctx.audio) {
              yield pcm;
              throw new ProviderError("flaky-tts", "tts", "unavailable", "WebSocket closed 1006", true);
            }
          })(),
        };
      },
    };
    // No idle prompt in this test: its audio is rendered ahead (FixedSpeech.prepare) on the TTS that
    // breakNext breaks, and it is the reply's context that must break here.
    const s = setup({ replies: ["Hi.", "First sentence here. Second sentence here.", "Fine now."], chunkDelayMs: 100, tts: flaky, settings: { idlePromptMs: 60_000 } });
    await s.call.start();
    await s.run(500);
    breakNext = true;
    s.say("first");
    await s.run(3000);
    expect(s.fallbackTts.texts).toEqual([APOLOGY]);
    expect(s.rec.turns.find((t) => t.error)?.error).toMatch(/flaky-tts unavailable/);
    // The record names who spoke: the apology by the offline voice, the call's TTS still the serving one.
    const apology = s.rec.turns.find((t) => t.text === APOLOGY);
    expect(apology).toMatchObject({ speaker: "agent", tts: "offline-tts (fallback)" });
    expect(s.rec.providers?.tts ?? "flaky-tts").toBe("flaky-tts");
    s.say("again");
    await s.run(3000);
    expect(s.rec.turns.at(-1)).toMatchObject({ speaker: "agent", text: "Fine now." });
    expect(s.rec.turns.at(-1)!.tts).toBeUndefined();
  });
});

describe("transfer with the bridge fallback (TRANSFER_FALLBACK=bridge)", () => {
  /** A transfer hook whose REFER was refused: it says the bridging line, then the target rings until `answer`. */
  function bridgingHook() {
    const ring = Promise.withResolvers<boolean | "bridged">();
    return { ring, hook: { targets: ["sales"], run: async (_t: string, hooks?: { bridging?(): void }) => (hooks?.bridging?.(), ring.promise) } };
  }
  const replies: FakeReply[] = ["Hello.", [{ type: "text", text: "Connecting you." }, { type: "tool_call", name: "transfer_call", args: { target: "sales" } }]];

  test("while the target rings: the line is said, no idle prompt, no hang-up; bridged: the agent says nothing more", async () => {
    const { hook, ring } = bridgingHook();
    const t = setup({ replies, transfer: hook });
    t.call.start();
    await t.run(500);
    t.say("Sales please.");
    await t.run(10_000); // five times the idle time (2 s): the target still rings
    const said = () => t.rec.turns.filter((x) => x.speaker === "agent").map((x) => x.text);
    expect(said()).toEqual(["Hello.", "Connecting you.", "Please hold while I connect you."]);
    expect(t.hangups).toEqual([]);
    t.call.stop(); // what CallMedia.bridgeTo does once the target answered
    ring.resolve("bridged");
    await t.run(5000);
    expect(said()).toEqual(["Hello.", "Connecting you.", "Please hold while I connect you."]);
    expect(t.hangups).toEqual([]);
  });

  test("the target's leg failed: the caller hears why and the conversation goes on", async () => {
    const { hook, ring } = bridgingHook();
    const t = setup({ replies: [...replies, "Anything else?"], transfer: hook });
    t.call.start();
    await t.run(500);
    t.say("Sales please.");
    await t.run(3000);
    ring.resolve(false);
    await t.run(1000);
    expect(t.rec.turns.at(-1)).toMatchObject({ speaker: "agent", text: "I am sorry, I could not transfer you right now. Is there anything else I can help you with?" });
    t.say("No thanks.");
    await t.run(1000);
    expect(t.rec.turns.at(-1)).toMatchObject({ speaker: "agent", text: "Anything else?" });
    expect(t.hangups).toEqual([]);
  });
});
