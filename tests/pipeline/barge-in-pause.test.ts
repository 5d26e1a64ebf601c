/**
 * A barge-in that pauses the reply until its sound is known (src/pipeline/barge-in-pause.ts): the
 * decision as a table, and the conversation on the scripted fakes (src/providers/fake), the real audio
 * output (Playout on the Pacer) and a fake clock — a backchannel or a sound without words goes on from
 * the same sample, words or long speech cut as a barge-in did before.
 */
import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../src/util/clock";
import { BACKCHANNEL_MAX_SPEECH_MS, duringPause, PAUSE_MAX_MS } from "../../src/pipeline/barge-in-pause";
import { Playout } from "../../src/media/playout";
import { Pacer } from "../../src/rtp/pacer";
import { FakeLlm, FakeStt, FakeTts } from "../../src/providers/fake";
import type { FakeSttOptions } from "../../src/providers/fake/fake-stt";
import type { LlmChunk } from "../../src/providers/types";
import { ScriptedVad, testAgentCall, testRecord } from "./support/agent-call";

describe("duringPause", () => {
  const base = { speechMs: 400, callerSpeaking: false, sinceOnsetMs: 500, ended: false, words: "", pausedMs: 400, wordsWaitMs: 900 };
  test.each([
    ["words that are not a backchannel cut at once, even mid-speech", { callerSpeaking: true, words: "wait" }, "cut"],
    ["an interim that grows past a backchannel cuts", { words: "okay so what" }, "cut"],
    ["speech longer than a backchannel cuts, words or not", { callerSpeaking: true, speechMs: BACKCHANNEL_MAX_SPEECH_MS + 1 }, "cut"],
    ["a backchannel that goes on too long cuts", { speechMs: BACKCHANNEL_MAX_SPEECH_MS + 1, words: "uh huh" }, "cut"],
    ["the pause at its limit cuts", { pausedMs: PAUSE_MAX_MS }, "cut"],
    ["still speaking, short, no words: wait", { callerSpeaking: true }, "wait"],
    ["still speaking, a backchannel so far: wait for the end", { callerSpeaking: true, words: "yeah" }, "wait"],
    ["quiet, a backchannel: go on at once", { words: "uh huh" }, "unpause"],
    ["quiet, a backchannel, the speech not ended yet (a pause): go on at once", { words: "okay" }, "unpause"],
    ["ended, no words yet, within the words wait from the onset: wait", { sinceOnsetMs: 899, ended: true }, "wait"],
    ["ended, no words, the words wait over: go on", { sinceOnsetMs: 900, ended: true }, "unpause"],
    ["a pause in the speech without words (a comma): wait, however long", { sinceOnsetMs: 1100 }, "wait"],
  ] as const)("%s", (_, x, want) => {
    expect(duringPause({ ...base, ...x })).toBe(want);
  });
});


const GREETING = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen.";
const text = (t: string): LlmChunk => ({ type: "text", text: t });

/** The greeting (25 ms of audio per character: 2 s), a reply; barge-in pauses with a 900 ms words wait. */
function setup(sttOpts: FakeSttOptions = {}) {
  const clock = new FakeClock();
  const sent: number[] = []; // per tick: 1 audio, 0 silence
  const playout = new Playout({ sink: { sendFrame: (p) => (sent.push(p.some((b) => b !== 0xff) ? 1 : 0), true) }, codec: "PCMU" });
  const pacer = new Pacer({ clock });
  pacer.add(playout);
  const stt = new FakeStt(sttOpts);
  const llm = new FakeLlm({ replies: [[text(GREETING)], [text("Of course.")]], clock });
  const tts = new FakeTts({ clock, msPerChar: 25 });
  const vad = new ScriptedVad();
  const record = testRecord({ startedAt: "" });
  const settings = { endpointing: { minSilenceMs: 900, maxSilenceMs: 1600 }, bargeInPauseWaitMs: 900 };
  const call = testAgentCall({ record, clock, stt, llm, tts, output: playout, vad, settings });
  const frame = { pcm: new Int16Array(160), payload: new Uint8Array(160), codec: "PCMU" as const };
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      call.onAudioFrame(frame);
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
  };
  const final = (t: string) => stt.streams[0]!.emit({ type: "final", text: t, speechFinal: true });
  const interim = (t: string) => stt.streams[0]!.emit({ type: "interim", text: t });
  const audioMs = () => sent.reduce((a, b) => a + b, 0) * 20;
  return { clock, playout, pacer, stt, llm, vad, record, call, run, final, interim, audioMs, sent };
}

describe("a paused barge-in in the conversation", () => {
  test("a backchannel: paused at the onset, on again at its end from the same sample; no barge-in, no reply, the whole greeting heard", async () => {
    const s = setup();
    await s.call.start();
    await s.run(600);
    const before = s.audioMs();
    s.vad.ev!.onSpeechStart(80);
    await s.run(20);
    expect(s.playout.isPaused).toBe(true);
    const atPause = s.audioMs();
    expect(atPause - before).toBeLessThanOrEqual(40); // at most the frame on its way
    await s.run(300); // "uh-huh" goes on
    expect(s.audioMs()).toBe(atPause);
    // Paused is still "speaking" to the VAD: its barge-in rules keep watching a caller who goes on.
    expect(s.vad.agentSpeaking).toBe(true);
    s.final("Uh huh."); // the recogniser's words, then the VAD's pause (160 ms of silence)
    await s.run(10);
    expect(s.playout.isPaused).toBe(true);
    s.vad.ev!.onSpeechPause!(160);
    expect(s.playout.isPaused).toBe(false);
    await s.run(3000);
    s.vad.ev!.onSpeechEnd(500);
    await s.run(2000);
    expect(s.record.bargeIns).toBe(0);
    expect(s.llm.requests).toHaveLength(1);
    const agent = s.record.turns.find((t) => t.speaker === "agent")!;
    expect(agent.interrupted).toBeFalsy();
    expect(agent.text).toBe(GREETING);
    expect(s.audioMs()).toBe(Math.ceil((GREETING.length * 25) / 20) * 20); // every frame once
    s.call.stop();
    s.pacer.stop();
  });

  test("the caller's pause while paused asks for the words at once (Deepgram Finalize), and a backchannel answer lets the reply go on", async () => {
    const s = setup({ finalizesOnly: true });
    await s.call.start();
    await s.run(600);
    const fin = (t: string) => s.stt.streams[0]!.emit({ type: "final", text: t, speechFinal: false, fromFinalize: true });
    // A first backchannel: its Finalize answered 10 ms later, so endpointing now times a Finalize for
    // ~290 ms into a silence (its answer due when a finished sentence's 300 ms are over).
    s.vad.ev!.onSpeechStart(80);
    await s.run(200);
    s.vad.ev!.onSpeechPause!(80);
    expect(s.stt.streams[0]!.flushes).toBe(1);
    await s.run(10);
    fin("Okay.");
    await s.run(10);
    expect(s.playout.isPaused).toBe(false);
    await s.run(300);
    s.vad.ev!.onSpeechEnd(500);
    await s.run(100);
    // The second: the Finalize goes out at the pause, not 210 ms later.
    s.vad.ev!.onSpeechStart(80);
    await s.run(300);
    expect(s.playout.isPaused).toBe(true);
    s.vad.ev!.onSpeechPause!(80);
    expect(s.stt.streams[0]!.flushes).toBe(2);
    await s.run(150);
    expect(s.playout.isPaused).toBe(true);
    fin("Uh huh.");
    await s.run(10);
    expect(s.playout.isPaused).toBe(false);
    await s.run(3000);
    s.vad.ev!.onSpeechEnd(500);
    await s.run(2000);
    expect(s.record.bargeIns).toBe(0);
    expect(s.llm.requests).toHaveLength(1);
    expect(s.audioMs()).toBe(Math.ceil((GREETING.length * 25) / 20) * 20); // every frame once
    // On the record: two pauses, both resumed (pause → the answer's run step: 220 and 460 ms).
    expect(s.record.bargeInPauses).toEqual({ resumed: 2, cut: 0, resumedMs: 220 + 460, maxResumedMs: 460 });
    s.call.stop();
    s.pacer.stop();
  });

  test("an empty answer to that Finalize (the sound's soft tail came after it): asked once more at once, and its words let the reply go on", async () => {
    const s = setup({ finalizesOnly: true });
    await s.call.start();
    await s.run(600);
    const fin = (t: string) => s.stt.streams[0]!.emit({ type: "final", text: t, speechFinal: false, fromFinalize: true });
    s.vad.ev!.onSpeechStart(80);
    await s.run(300);
    s.vad.ev!.onSpeechPause!(80);
    expect(s.stt.streams[0]!.flushes).toBe(1);
    await s.run(150);
    expect(s.stt.streams[0]!.flushes).toBe(1);
    fin("");
    await s.run(20); // the answer is read on the first 10 ms step, the second asking goes on the next
    expect(s.stt.streams[0]!.flushes).toBe(2);
    expect(s.playout.isPaused).toBe(true);
    await s.run(150);
    fin("Mm hmm.");
    await s.run(10);
    expect(s.playout.isPaused).toBe(false);
    fin(""); // an empty answer after it went on asks nothing more
    await s.run(300);
    expect(s.stt.streams[0]!.flushes).toBe(2);
    expect(s.record.bargeIns).toBe(0);
    s.call.stop();
    s.pacer.stop();
  });

  test("a sound without words: on again once the VAD ended it and the words wait (900 ms from its onset) is over", async () => {
    const s = setup();
    await s.call.start();
    await s.run(600);
    const onset = s.clock.now() - 80;
    s.vad.ev!.onSpeechStart(80);
    await s.run(200);
    s.vad.ev!.onSpeechEnd(0); // a 280 ms cough
    await s.run(onset + 890 - s.clock.now());
    expect(s.playout.isPaused).toBe(true);
    await s.run(20);
    expect(s.playout.isPaused).toBe(false);
    await s.run(3000);
    expect(s.record.bargeIns).toBe(0);
    expect(s.record.turns[0]!.text).toBe(GREETING);
    s.call.stop();
    s.pacer.stop();
  });

  test("words that are not a backchannel (an interim) cut it: a barge-in, heard = what went out before the pause", async () => {
    const s = setup();
    await s.call.start();
    await s.run(600);
    s.vad.ev!.onSpeechStart(80);
    await s.run(20);
    const heardMs = s.audioMs();
    await s.run(200);
    s.interim("wait I");
    await s.run(10);
    expect(s.playout.isPaused).toBe(false); // cut: the output was cleared
    expect(s.record.bargeIns).toBe(1);
    await s.run(500);
    expect(s.audioMs()).toBe(heardMs);
    const agent = s.record.turns[0]!;
    expect(agent.interrupted).toBe(true);
    expect(GREETING.startsWith(agent.text)).toBe(true);
    expect(agent.text.length).toBeLessThan(GREETING.length / 2);
    s.call.stop();
    s.pacer.stop();
  });

  test("speech longer than a backchannel cuts it without words", async () => {
    const s = setup();
    await s.call.start();
    await s.run(600);
    s.vad.ev!.onSpeechStart(80);
    await s.run(BACKCHANNEL_MAX_SPEECH_MS - 100);
    expect(s.record.bargeIns).toBe(0);
    await s.run(40);
    expect(s.record.bargeIns).toBe(1);
    expect(s.record.bargeInPauses).toEqual({ resumed: 0, cut: 1, resumedMs: 0, maxResumedMs: 0 });
    s.call.stop();
    s.pacer.stop();
  });

  test("words arriving after it went on for want of words still cut it at once", async () => {
    const s = setup();
    await s.call.start();
    await s.run(600);
    s.vad.ev!.onSpeechStart(80);
    await s.run(300);
    s.vad.ev!.onSpeechEnd(0);
    await s.run(700);
    expect(s.playout.isPaused).toBe(false);
    expect(s.playout.isPlaying).toBe(true);
    s.final("Sorry, one question.");
    await s.run(10);
    expect(s.record.bargeIns).toBe(1);
    expect(s.playout.isPlaying).toBe(false);
    s.call.stop();
    s.pacer.stop();
  });
  test("a backchannel run straight into a question: confirmed, and the question is answered though the VAD held it as background", async () => {
    const s = setup();
    await s.call.start();
    await s.run(600);
    s.vad.ev!.onSpeechStart(80);
    await s.run(BACKCHANNEL_MAX_SPEECH_MS); // "Okay" and, 100 ms on, a question: one sound, past a backchannel's length
    expect(s.record.bargeIns).toBe(1);
    s.final("Okay."); // its own final: a backchannel turn resumes the cut reply's rest (as without the pause)
    s.vad.ev!.onSpeechEnd(0);
    await s.run(300);
    expect(s.playout.isPlaying).toBe(true); // the rest (1.4 s of audio) plays
    // The question's words, while the resumed rest plays, from speech the VAD held as background (live:
    // the caller-level rule during the pause). Before the fix: "not answered".
    s.vad.heldBackground = true;
    s.final("Can I renew a book by phone?");
    await s.run(2500);
    expect(s.llm.requests).toHaveLength(2);
    expect(s.record.turns.some((t) => t.speaker === "agent" && t.text === "Of course.")).toBe(true);
    s.call.stop();
    s.pacer.stop();
  });
});
