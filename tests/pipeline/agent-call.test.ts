import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../src/util/clock";
import { heardPart } from "../../src/pipeline/agent-call";
import { Playout } from "../../src/media/playout";
import { Pacer } from "../../src/rtp/pacer";
import { FakeLlm, FakeStt, FakeTts, type FakeReply } from "../../src/providers/fake";
import { ProviderError, type LlmChunk } from "../../src/providers/types";
import { ScriptedVad, testAgentCall, testRecord } from "./support/agent-call";

/** The real audio output (Playout) on the real Pacer, driven by the fake clock; counts clearBuffer calls. */
function clockOutput(clock: FakeClock) {
  const playout = new Playout({ sink: { sendFrame: () => true }, codec: "PCMU" });
  new Pacer({ clock }).add(playout);
  let cleared = 0;
  const clearBuffer = playout.clearBuffer.bind(playout);
  playout.clearBuffer = () => {
    cleared++;
    clearBuffer();
  };
  return Object.defineProperty(playout, "cleared", { get: () => cleared }) as Playout & { readonly cleared: number };
}

/** The scripted fakes (src/providers/fake) on the fake clock; TTS speech at 25 ms per character. */
function fakes(clock: FakeClock, replies: FakeReply[], ttsDelayMs = 0, llmChunkDelayMs = 0) {
  const stt = new FakeStt();
  const llm = new FakeLlm({ replies, clock, chunkDelayMs: llmChunkDelayMs });
  const tts = new FakeTts({ clock, msPerChar: 25, delayMs: ttsDelayMs });
  /** The caller says `text` (a final with speechFinal on the call's STT stream). */
  const say = (text: string) => stt.streams[0]!.emit({ type: "final", text, speechFinal: true });
  return { stt, llm, tts, say };
}

/** VAD driven by the test. */

function setup(replies: FakeReply[], settings = {}, ttsDelayMs = 0, llmChunkDelayMs = 0) {
  const clock = new FakeClock();
  const sink = clockOutput(clock);
  const { stt, llm, tts, say } = fakes(clock, replies, ttsDelayMs, llmChunkDelayMs);
  const vad = new ScriptedVad();
  const hangups: string[] = [];
  const record = testRecord();
  const endpointing = { minSilenceMs: 900, maxSilenceMs: 1600 };
  const call = testAgentCall({ record, clock, stt, llm, tts, system: "You are a test.", output: sink, vad, settings: { endpointing, ...settings }, hangup: (r) => hangups.push(r) });
  const frame = { pcm: new Int16Array(160), payload: new Uint8Array(160), codec: "PCMU" as const };
  const vadEvent = (e: "start" | "end") => {
    call.onAudioFrame(frame);
    if (e === "start") vad.ev!.onSpeechStart();
    else vad.ev!.onSpeechEnd(0);
  };
  /** Advances fake time in small steps, letting promises settle between them. */
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
  };
  return { clock, sink, tts, say, stt, llm, vad, vadEvent, hangups, record, call, run };
}

const text = (t: string): LlmChunk => ({ type: "text", text: t });

describe("AgentCall", () => {
  test("greets first, then answers a turn with the history and records latency", async () => {
    const s = setup([[text("Hello, "), text("how can I help you? ")], [text("Sure. "), text("Booked.")]]);
    await s.call.start();
    await s.run(2000);
    expect(s.tts.texts).toEqual(["Hello, how can I help you?"]);
    s.vadEvent("start");
    await s.run(500);
    s.vadEvent("end");
    s.say("book me in");
    await s.run(3000);
    expect(s.llm.requests[1].history).toEqual([
      { role: "assistant", text: "Hello, how can I help you?" },
      { role: "user", text: "book me in" },
    ]);
    expect(s.tts.texts.slice(1)).toEqual(["Sure.", "Booked."]);
    const turns = s.record.turns.map((t) => [t.speaker, t.text]);
    expect(turns).toEqual([
      ["agent", "Hello, how can I help you?"],
      ["caller", "book me in"],
      ["agent", "Sure. Booked."],
    ]);
    const lat = s.record.turns[2].latency!;
    expect(lat.firstTokenMs).toBeGreaterThanOrEqual(900); // endpointing silence
    expect(lat.firstRtpMs).toBeGreaterThanOrEqual(lat.firstAudioMs!);
    s.call.stop();
  });

  test("the caller starting while a reply waits for its next sentence (playout ran dry) is a barge-in: the rest is not said over them", async () => {
    // "Yes." is 100 ms of audio; the next sentence comes from the LLM 1.5 s later.
    const s = setup([[text("Yes. "), text("And here is the rest of what I wanted to say.")]], {}, 0, 1500);
    await s.call.start();
    await s.run(600);
    expect(s.tts.texts).toEqual(["Yes."]);
    expect(s.sink.isPlaying).toBe(false); // between sentences: nothing queued, silence going out
    s.vadEvent("start");
    await s.run(2000);
    expect(s.record.bargeIns).toBe(1);
    expect(s.tts.texts).toEqual(["Yes."]); // the second sentence was never synthesised
    const agent = s.record.turns[0]!;
    expect(agent.interrupted).toBe(true);
    expect(agent.generatedText).toBe("Yes.");
    expect("Yes.".startsWith(agent.text)).toBe(true); // heard: estimated at the nominal rate (the fake speaks faster)
    s.call.stop();
  });

  test("barge-in during playback cancels TTS, clears audio and keeps only what was heard", async () => {
    const long = "one two three four five six seven eight nine ten eleven twelve.";
    const s = setup([[text(long)]]);
    await s.call.start();
    await s.run(400); // 1.6 s of audio queued (64 characters), ~0.4 s played
    expect(s.sink.isPlaying).toBe(true);
    s.vadEvent("start");
    await s.run(100);
    expect(s.sink.cleared).toBe(1);
    expect(s.record.bargeIns).toBe(1);
    const agent = s.record.turns[0];
    expect(agent.interrupted).toBe(true);
    expect(agent.generatedText).toBe(long);
    expect(long.startsWith(agent.text)).toBe(true);
    expect(agent.text.split(" ").length).toBeLessThanOrEqual(4);
    expect(s.call.transcript[0]).toEqual({ role: "assistant", text: agent.text });
    s.call.stop();
  });

  test("end_call hangs up only after the goodbye has been played", async () => {
    const s = setup([[text("Goodbye now."), { type: "tool_call", name: "end_call", args: {} }]]);
    await s.call.start();
    await s.run(100);
    expect(s.hangups).toEqual([]);
    await s.run(600); // 12 characters = 300 ms of audio, well played by now
    expect(s.hangups).toEqual(["end_call"]);
    s.call.stop();
  });

  test("a failed reply speaks the apology and the next turn works", async () => {
    const s = setup([
      [text("Hi.")],
      new ProviderError("fake-llm", "llm", "unavailable", "boom", true, 503),
      [text("Second try works.")],
    ]);
    await s.call.start();
    await s.run(500);
    s.say("first");
    await s.run(2000);
    expect(s.tts.texts).toContain("Sorry, I had a problem just now. Could you say that again?");
    expect(s.record.turns.find((t) => t.error)?.error).toMatch(/unavailable 503/);
    s.say("again");
    await s.run(2000);
    expect(s.tts.texts.at(-1)).toBe("Second try works.");
  });

  test("silence prompts, then goodbye and hang-up", async () => {
    const s = setup([[text("Hi.")]], { idlePromptMs: 1000, idlePromptsBeforeHangup: 2 });
    await s.call.start();
    await s.run(6000);
    const said = s.record.turns.map((t) => t.text);
    expect(said.filter((t) => t === "Are you still there?")).toHaveLength(2);
    expect(said.at(-1)).toMatch(/Goodbye/);
    expect(s.hangups).toEqual(["agent_goodbye"]);
  });

  test("a slow TTS: the idle prompt is rendered ahead and starts when the idle time is over", async () => {
    // 600 ms before each chunk's audio (a TTS on a busy machine); the prompt is due 3 s after the
    // playback of what the agent said finished (the playbackFinished event), not 3.6 s.
    const PROMPT = "Are you still there?";
    const s = setup([[text("Hi.")]], { idlePromptMs: 3000, idlePromptsBeforeHangup: 1 }, 600);
    const events: string[] = [];
    const at: { started: number[]; finished: number[] } = { started: [], finished: [] };
    s.sink.listen({
      onPlaybackStarted: () => at.started.push(s.clock.now()),
      onPlaybackFinished: (e) => (at.finished.push(s.clock.now()), events.push(e.interrupted ? "cut" : "done")),
    });
    await s.call.start();
    await s.run(12_000);
    expect(s.record.turns.map((t) => t.text)).toEqual(["Hi.", PROMPT, "I have not heard from you, so I will end the call now. Goodbye."]);
    expect(events).toEqual(["done", "done", "done"]);
    for (const i of [1, 2]) {
      const gap = at.started[i]! - at.finished[i - 1]!;
      expect(gap, `gap before segment ${i}`).toBeGreaterThanOrEqual(3000);
      expect(gap, `gap before segment ${i}`).toBeLessThanOrEqual(3000 + 40); // two pacer ticks
    }
    // One TTS context per thing said: nothing rendered twice, nothing cancelled.
    expect(s.tts.contexts.map((c) => [c.texts.join(" "), c.cancelled])).toEqual([
      ["Hi.", false],
      [PROMPT, false],
      ["I have not heard from you, so I will end the call now. Goodbye.", false],
    ]);
    expect(s.hangups).toEqual(["agent_goodbye"]);
  });

  test("the caller speaks while the idle prompt is being rendered: it is dropped, not said", async () => {
    const s = setup([[text("Hi.")], [text("Sure.")]], { idlePromptMs: 3000, idlePromptsBeforeHangup: 1 }, 600);
    await s.call.start();
    await s.run(700 + 2000); // the greeting has played; the prompt is being rendered (1.5 s before it is due)
    expect(s.tts.contexts.map((c) => c.texts.join(" "))).toEqual(["Hi.", "Are you still there?"]);
    s.vadEvent("start");
    await s.run(1500);
    expect(s.tts.contexts[1]!.cancelled).toBe(true);
    expect(s.record.turns.map((t) => t.text)).toEqual(["Hi."]);
  });

  test("continuationGraceMs: speech 100 ms into a reply continues the turn under the 200 ms default, interrupts with 0", async () => {
    for (const [settings, bargeIns] of [[{}, 0], [{ continuationGraceMs: 0 }, 1]] as const) {
      const s = setup([[text("Hello. ")], [text("Sure, a table for two tonight at eight.")], [text("Noted.")]], settings);
      await s.call.start();
      await s.run(1500);
      s.vadEvent("start");
      await s.run(500);
      s.vadEvent("end");
      s.say("A table for two, please."); // a finished sentence with speech_final: the turn ends at once
      await s.run(120); // the reply's first audio went out ~100 ms ago
      expect(s.sink.isPlaying).toBe(true);
      s.vadEvent("start");
      await s.run(20);
      expect(s.record.bargeIns).toBe(bargeIns);
      // Continued: the reply to the first part is forgotten (no agent turn for it); cut: recorded as interrupted.
      expect(s.record.turns.filter((t) => t.speaker === "agent").length).toBe(1 + bargeIns);
      s.call.stop();
    }
  });

  test("words of speech the VAD took for background stay on the record but neither cut the agent nor get a reply; the caller's words after a start do", async () => {
    const long = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen.";
    const s = setup([[text(long)], [text("Sure.")]]);
    await s.call.start();
    await s.run(400);
    expect(s.sink.isPlaying).toBe(true);
    s.vad.heldBackground = true; // e.g. a voice under the first-turn floor over the greeting
    s.say("what time do you close today");
    await s.run(2000);
    expect(s.sink.isPlaying).toBe(true); // the greeting goes on
    expect(s.llm.requests).toHaveLength(1);
    expect(s.sink.cleared).toBe(0); // not cut
    expect(s.record.turns.filter((t) => t.speaker === "caller").map((t) => t.text)).toEqual(["what time do you close today"]); // on the record
    // The caller's own speech (a reported start) clears it: their words are a turn again.
    s.vad.heldBackground = false;
    s.vadEvent("start");
    await s.run(300);
    s.vadEvent("end");
    s.say("can I book a room");
    await s.run(3000);
    expect(s.llm.requests).toHaveLength(2);
    expect(s.llm.requests[1].history.filter((m) => m.role === "user").at(-1)).toEqual({ role: "user", text: "can I book a room" });
    expect(s.record.turns.filter((t) => t.speaker === "caller").map((t) => t.text)).toEqual(["what time do you close today", "can I book a room"]);
    s.call.stop();
  });

  test("the same words without a held voice cut the agent and are answered (what the rule above changes)", async () => {
    const long = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen.";
    const s = setup([[text(long)], [text("Sure.")]]);
    await s.call.start();
    await s.run(400);
    s.say("what time do you close today");
    await s.run(2000);
    expect(s.llm.requests).toHaveLength(2);
    expect(s.record.turns.find((t) => t.speaker === "agent")!.interrupted).toBe(true); // the greeting, cut
    s.call.stop();
  });

  test("heardPart cuts at a word boundary proportionally", () => {
    expect(heardPart("one two three four", 0, 100)).toBe("");
    expect(heardPart("one two three four", 50, 100)).toBe("one two");
    expect(heardPart("one two three four", 100, 100)).toBe("one two three four");
  });
});

describe("AgentCall after a barge-in", () => {
  const long = "one two three four five six seven eight nine ten eleven twelve.";

  test("speech that carries no words: the agent resumes the unheard rest of its reply", async () => {
    const s = setup([[text(long)]]);
    await s.call.start();
    await s.run(400);
    s.vadEvent("start");
    await s.run(200);
    s.vadEvent("end");
    await s.run(3000);
    const agentTurns = s.record.turns.filter((t) => t.speaker === "agent");
    expect(agentTurns).toHaveLength(2);
    expect(agentTurns[0].interrupted).toBe(true);
    expect(`${agentTurns[0].text} ${agentTurns[1].text}`).toBe(long);
    expect(s.llm.requests).toHaveLength(1); // resumed from text, no new generation
  });

  test("a backchannel resumes; real words get a new reply", async () => {
    const s = setup([[text(long)], [text("Sure, tell me more.")]]);
    await s.call.start();
    await s.run(400);
    s.vadEvent("start");
    await s.run(300);
    s.vadEvent("end");
    s.say("uh-huh");
    await s.run(3000);
    expect(s.llm.requests).toHaveLength(1);
    expect(s.tts.texts.at(-1)).toMatch(/twelve\.$/);
    await s.run(3000);
    s.vadEvent("start");
    await s.run(300);
    s.vadEvent("end");
    s.say("what are your opening hours");
    await s.run(3000);
    expect(s.llm.requests).toHaveLength(2);
    expect(s.llm.requests[1].history.at(-1)).toEqual({ role: "user", text: "what are your opening hours" });
  });

  /** Talks over the reply for `speechMs` (a barge-in), then is silent. */
  async function bargeIn(s: ReturnType<typeof setup>, speechMs: number) {
    await s.call.start();
    await s.run(400);
    s.vadEvent("start");
    await s.run(speechMs);
    s.vadEvent("end");
  }
  const resumes = (s: ReturnType<typeof setup>) => s.tts.texts.filter((t) => t !== long && long.endsWith(t));

  test("a recogniser slower than noWordsResumeMs: no resume over a sentence still being recognised; its words are the turn", async () => {
    const s = setup([[text(long)], [text("Sure, tell me more.")]]);
    await bargeIn(s, 3000); // a 3 s sentence
    await s.run(2500); // pocketsphinx on a loaded machine: the words come 2.5 s after the speech ended
    expect(resumes(s)).toEqual([]); // before: "resuming interrupted reply" (no_words) at 1.5 s
    s.say("I need an appointment");
    await s.run(3000);
    expect(s.record.turns.map((t) => t.speaker)).toEqual(["agent", "caller", "agent"]);
    expect(s.llm.requests[1].history.at(-1)).toEqual({ role: "user", text: "I need an appointment" });
    expect(resumes(s)).toEqual([]);
  });

  test("long speech the recogniser never answers: resumes after noWordsMaxWaitMs of silence", async () => {
    const s = setup([[text(long)]], { noWordsMaxWaitMs: 4000 });
    await bargeIn(s, 3000);
    await s.run(3800);
    expect(resumes(s)).toEqual([]);
    await s.run(500);
    expect(resumes(s)).toHaveLength(1);
    expect(s.llm.requests).toHaveLength(1);
  });

  test("the wait grows with the slowest recogniser answer seen on the call (1.5 ×)", async () => {
    const s = setup([[text("Hello.")], [text(long)]], { noWordsMaxWaitMs: 4000 });
    await s.call.start();
    await s.run(1000);
    s.vadEvent("start");
    await s.run(2000);
    s.vadEvent("end");
    await s.run(5000); // this call's recogniser: the words 5 s after the speech ended
    s.say("I need an appointment");
    await s.run(600); // the reply plays
    s.vadEvent("start");
    await s.run(3000);
    s.vadEvent("end");
    await s.run(7000); // < 1.5 × 5 s
    expect(resumes(s)).toEqual([]);
    await s.run(800);
    expect(resumes(s)).toHaveLength(1);
  });

  test("long speech the recogniser answered with no words (Deepgram's empty Finalize answer): resumes at noWordsResumeMs", async () => {
    const s = setup([[text(long)]]);
    await bargeIn(s, 3000);
    await s.run(200);
    s.stt.streams[0]!.emit({ type: "final", text: "", speechFinal: false, fromFinalize: true });
    await s.run(1400);
    expect(resumes(s)).toHaveLength(1);
  });

  test("words that arrive after a no-words resume become a caller turn and cut the resumed rest", async () => {
    const s = setup([[text(long)], [text("Sure, tell me more.")]], { noWordsMaxWaitMs: 1500 });
    await bargeIn(s, 3000);
    await s.run(1600);
    expect(resumes(s)).toHaveLength(1);
    await s.run(200); // the rest plays
    s.say("I need an appointment");
    await s.run(3000);
    const turns = s.record.turns.map((t) => [t.speaker, !!t.interrupted]);
    // The caller turn is recorded first, then the rest it cut (with what of it was heard), then the reply.
    expect(turns).toEqual([["agent", true], ["caller", false], ["agent", true], ["agent", false]]);
    expect(s.llm.requests[1].history.at(-1)).toEqual({ role: "user", text: "I need an appointment" });
  });

  test("isBackchannel", async () => {
    const { isBackchannel } = await import("../../src/pipeline/agent-call");
    for (const t of ["uh-huh", "Okay.", "yeah yeah", "mm hmm", "right"]) expect(isBackchannel(t), t).toBe(true);
    // The common ones as a recogniser spells them (Deepgram punctuates and capitalises).
    for (const t of ["Uh-huh.", "Mm-hmm.", "Mhmm.", "Yeah.", "Yes.", "Yup.", "Right.", "Okay.", "Sure.", "I see.", "Got it.", "Oh, okay."]) expect(isBackchannel(t), t).toBe(true);
    for (const t of ["", "okay but what time", "no", "stop", "I need an appointment", "Oh wait.", "Sorry.", "Wait."]) expect(isBackchannel(t), t).toBe(false);
  });
});

test("a reply cut by the end of the call is recorded with what was heard", async () => {
  const long = "one two three four five six seven eight nine ten eleven twelve.";
  const s = setup([[text(long)]]);
  await s.call.start();
  await s.run(400);
  s.call.stop();
  const t = s.record.turns[0];
  expect(t.speaker).toBe("agent");
  expect(t.interrupted).toBe(true);
  expect(long.startsWith(t.text)).toBe(true);
  expect(t.generatedText).toBe(long);
});

test("an LLM unreachable at call start is replaced by the fallback for the rest of the call", async () => {
  const clock = new FakeClock();
  const sink = clockOutput(clock);
  const { stt, tts, say } = fakes(clock, ["unused"]);
  const failing = new FakeLlm({ replies: [new ProviderError("fake-llm", "llm", "unavailable", "connection refused", true)], clock });
  const offline = new FakeLlm({ replies: [[text("Offline greeting.")], [text("Offline reply.")]], clock }, "offline-llm");
  const record = testRecord({ id: "c2", sipCallId: "y" });
  const call = testAgentCall({ record, clock, stt, llm: failing, fallbackLlm: offline, tts, system: "s", output: sink });
  await call.start();
  for (let t = 0; t < 3000; t += 10) {
    clock.advance(10);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
  expect(tts.texts[0]).toBe("Offline greeting.");
  say("hello");
  for (let t = 0; t < 3000; t += 10) {
    clock.advance(10);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
  expect(failing.requests).toHaveLength(1);
  expect(tts.texts.at(-1)).toBe("Offline reply.");
  call.stop();
});

test("a caller turn is on the record at once; its observers hear of it once the reply's first audio went out", async () => {
  const clock = new FakeClock();
  const sink = clockOutput(clock);
  const { stt, llm, tts, say } = fakes(clock, [[text("Hello. ")], [text("Sure.")]]);
  const order: string[] = [];
  const record = testRecord({ id: "c3", sipCallId: "z" });
  let framesBefore = 0;
  const call = testAgentCall({
    record, clock, stt, tts, system: "s", output: sink,
    llm: { name: llm.name, generate: (req) => (order.push(`llm request (record: ${record.turns.map((t) => t.speaker).join(",")})`), llm.generate(req)) },
    onTurn: (t) => order.push(`observer: ${t.speaker} #${t.index}, reply audio out: ${sink.audioFrames > framesBefore}`),
  });
  await call.start();
  for (let t = 0; t < 2000; t += 10) {
    clock.advance(10);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
  order.length = 0;
  framesBefore = sink.audioFrames;
  say("A table for two, please.");
  for (let i = 0; i < 5; i++) await Promise.resolve();
  expect(order).toEqual(["llm request (record: agent,caller)"]);
  expect(record.turns.at(-1)).toMatchObject({ speaker: "caller", text: "A table for two, please." });
  for (let t = 0; t < 100; t += 10) {
    clock.advance(10);
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
  expect(order).toEqual(["llm request (record: agent,caller)", "observer: caller #1, reply audio out: true"]);
  call.stop();
});
