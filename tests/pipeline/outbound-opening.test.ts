/**
 * AgentCall with `answer` (outbound calls): the opening waits for the callee's "Hello?" to end; a
 * caller turn before it is recorded but gets no reply; AMD hangs up on a machine, or leaves the message
 * after the beep and hangs up. Fake clock, the real Playout/Pacer, scripted provider fakes.
 */
import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../src/util/clock";
import type { OutboundAnswerSettings } from "../../src/pipeline/outbound-answer";
import { Playout } from "../../src/media/playout";
import { Pacer } from "../../src/rtp/pacer";
import { FakeLlm, FakeStt, FakeTts } from "../../src/providers/fake";
import { ScriptedVad, testAgentCall, testRecord } from "./support/agent-call";


function setup(answer: OutboundAnswerSettings, ttsDelayMs = 0) {
  const clock = new FakeClock();
  const playout = new Playout({ sink: { sendFrame: () => true }, codec: "PCMU" });
  new Pacer({ clock }).add(playout);
  const stt = new FakeStt();
  const llm = new FakeLlm({ replies: [[{ type: "text", text: "Hello! I'm calling about your order." }]], clock });
  const tts = new FakeTts({ clock, msPerChar: 10, delayMs: ttsDelayMs });
  const vad = new ScriptedVad();
  const hangups: Array<[string, number]> = [];
  const record = testRecord({ id: "o1", direction: "outbound", startedAt: "" });
  const call = testAgentCall({ record, clock, stt, llm, tts, output: playout, vad, hangup: (r) => hangups.push([r, clock.now()]), answer });
  const silent = new Int16Array(160);
  let frames: Int16Array[] = [];
  /** Runs `ms` of call time: one caller frame per 20 ms (tone frames first, when queued). */
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 20) {
      clock.advance(20);
      call.onAudioFrame({ pcm: frames.shift() ?? silent, payload: new Uint8Array(160), codec: "PCMU" });
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
  };
  /** Queues `ms` of a sine: 1000 Hz is a beep, 300 Hz stands for a voice (loud, below the beep band). */
  const tone = (hz: number, ms: number) => {
    for (let f = 0; f < ms / 20; f++) {
      const pcm = new Int16Array(160);
      for (let i = 0; i < 160; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * (f * 160 + i)) / 8000));
      frames.push(pcm);
    }
  };
  const beep = (ms: number) => tone(1000, ms);
  const voice = (ms: number) => tone(300, ms);
  const firstTts = () => tts.texts[0];
  return { clock, call, vad, stt, llm, tts, hangups, record, run, beep, voice, firstTts };
}

describe("outbound opening", () => {
  test('waits for "Hello?" to end; the words are recorded, not answered; the opening is the first LLM request', async () => {
    const s = setup({ amd: "off" });
    await s.call.start();
    await s.run(300);
    s.voice(500);
    await s.run(500); // "Hello?" 300 → 800 ms
    s.stt.streams[0]!.emit({ type: "final", text: "Hello?", speechFinal: true });
    await s.run(600);
    expect(s.llm.requests.length).toBe(0); // 1400 ms: still waiting (700 ms of silence needed)
    await s.run(200);
    expect(s.llm.requests.length).toBe(1);
    expect(s.llm.requests[0]!.history).toEqual([]);
    await s.run(2000);
    expect(s.record.turns.map((t) => [t.speaker, t.text])).toEqual([
      ["caller", "Hello?"],
      ["agent", "Hello! I'm calling about your order."],
    ]);
    expect(s.record.amd).toBeUndefined();
    s.call.stop();
  });

  test("the opening is rendered during the wait: its audio starts at once when the wait ends (TTS takes 600 ms)", async () => {
    const opening = "Hello! I'm calling about your order.";
    const s = setup({ amd: "off", opening }, 600);
    await s.call.start();
    const sentences = ["Hello!", "I'm calling about your order."];
    expect(s.tts.texts).toEqual(sentences); // rendering from the answer on, in the chunks a reply pushes
    await s.run(300);
    s.voice(400);
    await s.run(400);
    await s.run(3000);
    expect(s.tts.texts).toEqual(sentences); // not synthesised a second time
    const turn = s.record.turns.find((t) => t.speaker === "agent")!;
    expect(turn.text).toBe(opening);
    expect(turn.latency!.firstAudioMs!).toBeLessThan(100);
    s.call.stop();
  });

  test("a callee who says nothing: the opening after OPENING_NO_SPEECH_MS", async () => {
    const s = setup({ amd: "off", classifier: { noSpeechMs: 1000 } });
    await s.call.start();
    await s.run(960);
    expect(s.llm.requests.length).toBe(0);
    await s.run(60);
    expect(s.llm.requests.length).toBe(1);
    s.call.stop();
  });
});

describe("answering-machine detection in the conversation", () => {
  test("AMD=hangup: a long greeting → hang up (machine_detected), nothing said", async () => {
    const s = setup({ amd: "hangup" });
    await s.call.start();
    await s.run(400);
    s.voice(3000);
    await s.run(3000);
    expect(s.hangups.map((h) => h[0])).toEqual(["machine_detected"]);
    expect(s.hangups[0]![1]).toBeGreaterThanOrEqual(2800);
    expect(s.tts.texts).toEqual([]);
    expect(s.llm.requests.length).toBe(0);
    expect(s.record.amd).toMatchObject({ result: "machine", reason: "long_greeting", action: "hangup" });
    s.call.stop();
  });

  test("AMD=message: greeting, beep → the message after the beep, then the hang-up; message_left", async () => {
    const s = setup({ amd: "message", message: "Hi, please call us back." });
    await s.call.start();
    await s.run(400);
    s.voice(5000);
    await s.run(5000); // machine decided at ~2.8 s; the greeting goes on
    expect(s.tts.texts).toEqual([]);
    await s.run(400);
    s.beep(400);
    await s.run(400);
    expect(s.tts.texts).toEqual([]); // the beep is still sounding
    await s.run(100);
    expect(s.tts.texts).toEqual(["Hi, please call us back."]);
    await s.run(3000);
    expect(s.hangups.map((h) => h[0])).toEqual(["voicemail_message"]);
    expect(s.record.amd).toMatchObject({ result: "machine", action: "message", messageAfter: "beep", beepHz: 1000, messageLeft: true });
    expect(s.llm.requests.length).toBe(0);
    expect(s.record.turns.map((t) => [t.speaker, t.text])).toEqual([["agent", "Hi, please call us back."]]);
    s.call.stop();
  });

  test("AMD on, a human: classified human, then the opening", async () => {
    const s = setup({ amd: "message", message: "m" });
    await s.call.start();
    await s.run(300);
    s.voice(400);
    await s.run(400);
    await s.run(900);
    expect(s.record.amd).toMatchObject({ result: "human", reason: "short_greeting", action: "none", messageLeft: false });
    expect(s.record.amd!.afterMs).toBeLessThan(3000);
    expect(s.llm.requests.length).toBe(1);
    expect(s.hangups).toEqual([]);
    s.call.stop();
  });
});
