import { describe, expect, test } from "bun:test";
import { SileroSpeechDetector } from "../../src/pipeline/speech-detector";
import { EchoReference, rms } from "../../src/pipeline/echo-reference";
import { encodeFrame } from "../../src/media/g711";
import type { VadStream } from "../../src/media/vad/silero";

/** A VAD whose probability per frame is chosen by the test (a function of the frame's level). */
function levelVad(): VadStream {
  return { process: async (pcm: Int16Array) => (rms(pcm) > 100 ? 0.95 : 0.01) } as unknown as VadStream;
}

function tone(amplitude: number): Int16Array {
  const f = new Int16Array(160);
  for (let i = 0; i < 160; i++) f[i] = Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / 8000));
  return f;
}

async function feed(d: SileroSpeechDetector, frames: Int16Array[]) {
  for (const f of frames) {
    d.push(f);
    await Bun.sleep(0);
  }
}

function collect(d: SileroSpeechDetector) {
  const ev: string[] = [];
  d.listen({ onSpeechStart: () => ev.push("start"), onSpeechEnd: () => ev.push("end") });
  return ev;
}

describe("SileroSpeechDetector", () => {
  test("without the agent talking, speech starts after the segmenter's minimum and ends after silence", async () => {
    const d = new SileroSpeechDetector(levelVad());
    const ev = collect(d);
    await feed(d, Array(9).fill(tone(3000))); // 180 ms < 200 ms
    expect(ev).toEqual([]);
    await feed(d, Array(3).fill(tone(3000)));
    expect(ev).toEqual(["start"]);
    await feed(d, Array(30).fill(tone(0)));
    expect(ev).toEqual(["start", "end"]);
  });

  test("while the agent talks, 120 ms of caller speech interrupts (fast barge-in)", async () => {
    const d = new SileroSpeechDetector(levelVad(), { bargeInMinSpeechMs: 120 });
    const ev = collect(d);
    d.setAgentSpeaking(true);
    await feed(d, Array(5).fill(tone(3000)));
    expect(ev).toEqual([]);
    await feed(d, [tone(3000)]);
    expect(ev).toEqual(["start"]);
    await feed(d, Array(20).fill(tone(3000)));
    expect(ev).toEqual(["start"]); // the segmenter's later confirmation is the same speech
  });

  test("bargeInStrong: confident speech in both streams, loud enough, interrupts after its shorter minimum; a confident but quiet voice does not", async () => {
    const levelEcho = { noteSent() {}, lastLevelDb: undefined as number | undefined, isLikelyEcho(pcm: Int16Array) { this.lastLevelDb = 20 * Math.log10(rms(pcm) / 8000); return false; } };
    const confidentVad = () => ({ process: async (pcm: Int16Array) => (rms(pcm) > 100 ? 0.97 : 0.01) }) as unknown as VadStream;
    // The strong rule alone: the absolute floor (first-turn-peak.test.ts) would hold the quiet voice by itself.
    const opts = { echo: levelEcho, bargeInMinSpeechMs: 80, bargeInStrong: { p: 0.9, minSpeechMs: 40, withinDb: 10 }, confirm: confidentVad(), firstTurnFloorDbfs: null };
    const caller = new SileroSpeechDetector(confidentVad(), opts);
    const ev = collect(caller);
    caller.setAgentSpeaking(true);
    await feed(caller, Array(2).fill(tone(6000))); // ≈ −5 dB next to what we send: 40 ms suffice
    expect(ev).toEqual(["start"]);
    const background = new SileroSpeechDetector(confidentVad(), { ...opts, confirm: confidentVad() });
    const evBg = collect(background);
    background.setAgentSpeaking(true);
    await feed(background, Array(3).fill(tone(1500))); // ≈ −17 dB: the full 80 ms applies
    expect(evBg).toEqual([]);
    await feed(background, [tone(1500)]);
    expect(evBg).toEqual(["start"]);
    // Not confident enough (p 0.95 < 0.97 needed): the full minimum too.
    const unsure = new SileroSpeechDetector(levelVad(), { ...opts, bargeInStrong: { p: 0.97, minSpeechMs: 40 }, confirm: levelVad() });
    const evU = collect(unsure);
    unsure.setAgentSpeaking(true);
    await feed(unsure, Array(3).fill(tone(6000)));
    expect(evU).toEqual([]);
  });

  test("bargeInStrong with q: a loud frame needs only the main stream, once the confirming stream has called the run speech; a loud sound it never calls speech does not interrupt", async () => {
    const levelEcho = { noteSent() {}, lastLevelDb: undefined as number | undefined, isLikelyEcho(pcm: Int16Array) { this.lastLevelDb = 20 * Math.log10(rms(pcm) / 8000); return false; } };
    /** The confirming stream: probabilities in order, one per frame. */
    const scripted = (ps: number[]) => {
      let i = 0;
      return { process: async () => ps[Math.min(i++, ps.length - 1)]! } as unknown as VadStream;
    };
    const opts = { echo: levelEcho, bargeInMinSpeechMs: 80, bargeInStrong: { p: 0.5, q: 0, minSpeechMs: 20, withinDb: 12 } };
    const traces: Array<{ rule: string; runMs: number; lagMs: number; frames: string }> = [];
    // Loud speech; the confirming stream (cold after echo) reaches 0.5 on the second frame.
    const voice = new SileroSpeechDetector(levelVad(), { ...opts, confirm: scripted([0.3, 0.6, 0.9]), onBargeInDecision: (t) => traces.push(t) });
    const ev = collect(voice);
    voice.setAgentSpeaking(true);
    await feed(voice, [tone(6000)]);
    expect(ev).toEqual([]);
    await feed(voice, [tone(6000)]);
    expect(ev).toEqual(["start"]); // 40 ms, not the 80 ms of the counted run
    expect(traces).toHaveLength(1);
    expect(traces[0]!.rule).toBe("strong");
    expect(traces[0]!.runMs).toBe(40);
    expect(traces[0]!.lagMs).toBeGreaterThanOrEqual(0);
    // The two frames judged: p and q ×9 (q 0.3 → 3, 0.6 → 5), counted, the agent talking, −17.7 dBFS.
    expect(traces[0]!.frames).toBe("93.18 95.18");
    // A loud cough over our echo: the main stream says 1.0, the confirming stream never reaches 0.5.
    const cough = new SileroSpeechDetector(levelVad(), { ...opts, confirm: scripted([0.1]) });
    const evC = collect(cough);
    cough.setAgentSpeaking(true);
    await feed(cough, Array(8).fill(tone(9000)));
    expect(evC).toEqual([]);
  });

  test("an early start that never becomes confirmed speech reports an end", async () => {
    const d = new SileroSpeechDetector(levelVad(), { bargeInMinSpeechMs: 120 });
    const ev = collect(d);
    d.setAgentSpeaking(true);
    await feed(d, Array(7).fill(tone(3000))); // 140 ms: fast start, below 200 ms
    d.setAgentSpeaking(false);
    await feed(d, Array(5).fill(tone(0)));
    expect(ev).toEqual(["start", "end"]);
  });

  test("the agent's own voice coming back 20 dB down is not speech; the caller talking over it is", async () => {
    const echo = new EchoReference("PCMU", { erlDb: 12, windowMs: 400 });
    const d = new SileroSpeechDetector(levelVad(), { echo, bargeInMinSpeechMs: 120 });
    const ev = collect(d);
    d.setAgentSpeaking(true);
    const sent = encodeFrame(tone(8000), "PCMU");
    const echoes: Int16Array[] = [];
    for (let i = 0; i < 50; i++) {
      echo.noteSent(sent);
      echoes.push(tone(800)); // −20 dB
    }
    await feed(d, echoes);
    expect(ev).toEqual([]);
    expect(d.echoFrames).toBe(50);
    await feed(d, Array(8).fill(tone(6000))); // the caller, about as loud as the agent
    expect(ev).toEqual(["start"]);
  });

  test("a pause inside speech is reported early; sound in it is activity; speech going on is a new start", async () => {
    const d = new SileroSpeechDetector(levelVad());
    const ev: string[] = [];
    d.listen({
      onSpeechStart: () => ev.push("start"),
      onSpeechEnd: () => ev.push("end"),
      onSpeechPause: (ms) => ev.push(`pause ${ms}`),
      onSpeechActivity: () => ev.push("activity"),
    });
    await feed(d, Array(15).fill(tone(3000)));
    await feed(d, Array(8).fill(tone(0))); // 160 ms
    expect(ev).toEqual(["start", "pause 160"]);
    await feed(d, [tone(3000)]);
    expect(ev).toEqual(["start", "pause 160", "activity"]);
    await feed(d, Array(3).fill(tone(3000))); // 80 ms of speech in all: the caller goes on
    expect(ev).toEqual(["start", "pause 160", "activity", "start"]);
    await feed(d, Array(8).fill(tone(0)));
    await feed(d, [tone(3000)]); // a click: activity, then the pause again
    await feed(d, Array(8).fill(tone(0)));
    expect(ev.slice(4)).toEqual(["pause 160", "activity", "pause 160"]);
    await feed(d, Array(20).fill(tone(0)));
    expect(ev.slice(7)).toEqual(["end"]);
  });
});

describe("SileroSpeechDetector: frames handled in arrival order whenever their inference ends", () => {
  /** A VAD whose every result the test settles by hand (index = frame pushed). */
  function manualVad() {
    const settle: { ok: (p: number) => void; fail: (e: Error) => void }[] = [];
    const vad = {
      process: () =>
        new Promise<number | null>((ok, fail) => {
          settle.push({ ok, fail });
        }),
    } as unknown as VadStream;
    return { vad, settle };
  }

  test("results settled newest first: the segmenter still sees speech then silence (start, then end)", async () => {
    const { vad, settle } = manualVad();
    const d = new SileroSpeechDetector(vad);
    const ev = collect(d);
    const frames = [...Array(12).fill(tone(3000)), ...Array(30).fill(tone(0))];
    for (const f of frames) d.push(f);
    for (let i = frames.length - 1; i >= 0; i--) settle[i]!.ok(i < 12 ? 0.95 : 0.01);
    await Bun.sleep(0);
    expect(ev).toEqual(["start", "end"]);
  });

  test("a failed inference skips its frame only; nothing is handled before the frames ahead of it", async () => {
    const { vad, settle } = manualVad();
    const d = new SileroSpeechDetector(vad);
    const ev = collect(d);
    for (let i = 0; i < 13; i++) d.push(tone(3000));
    // Frames 1–12 are in, frame 0 not yet: nothing may be handled.
    for (let i = 1; i < 13; i++) settle[i]!.ok(0.95);
    await Bun.sleep(0);
    expect(ev).toEqual([]);
    settle[0]!.fail(new Error("inference failed"));
    await Bun.sleep(0);
    expect(ev).toEqual(["start"]); // 12 speech frames = 240 ms ≥ the segmenter's 200 ms
  });
});
