/**
 * One Silero stream per call until the confirming stream is needed (src/pipeline/speech-detector.ts,
 * `forked`; src/media/vad/silero.ts `copyFrom`), with the real model: a stream continued from another
 * gives that stream's probabilities bit for bit; a detector whose confirming stream is forked lazily
 * reports exactly the events of one feeding both streams every frame, runs no second stream while no
 * echo frame other than digital silence was heard, and runs it from the first one on (with the default
 * rejoinMs, until 500 ms after the agent stopped); with rejoinMs, the confirming stream's probabilities
 * are those it gives running to the end of the call, frame by frame.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { SileroVad, VadStream } from "../../src/media/vad/silero.ts";
import { loadVadAsLoaded } from "../support/vad.ts";
import { SileroSpeechDetector } from "../../src/pipeline/speech-detector.ts";
import type { EchoDecision } from "../../src/pipeline/echo-correlation.ts";
import * as A from "../media/vad/audio-fixtures.ts";

const tools = A.haveAudioTools();
let tmp: { dir: string; remove: () => void };
let vad: SileroVad;
let caller: Int16Array;
let agent: Int16Array;

beforeAll(async () => {
  if (!tools) return;
  tmp = A.makeTempDir("vad-fork-");
  vad = await loadVadAsLoaded(); // the shared model as loaded: an AgentServer earlier in this process sets the agent's VAD settings on it (tests/support/vad.ts)
  caller = await A.speech(tmp.dir, "kal16", "I would like to book a table for two tonight, please.");
  agent = await A.speech(tmp.dir, "slt", "Thank you, I can help with that booking, and I am glad you called.");
});
afterAll(() => tmp?.remove());

/** `pcm` attenuated by `db` (an echo of it). */
function gain(pcm: Int16Array, db: number): Int16Array {
  const g = Math.pow(10, db / 20);
  return pcm.map((v) => Math.round(v * g)) as Int16Array;
}

/** The confirming stream the old way: no `copyFrom`, so the detector feeds it every frame. */
function everyFrame(s: VadStream): VadStream {
  return { process: (f) => s.process(f), reset: () => s.reset(), get last() { return s.last; }, get stats() { return s.stats; } };
}

interface Run {
  events: string[];
  confirmFrames: number;
}

/**
 * Feeds one detector: the caller speaks, then the agent speaks (`agentSpeaking`) while the line returns
 * `during` (frames the echo decision takes for echo), then the caller speaks again over the agent.
 */
async function run(lazy: boolean, during: Int16Array[]): Promise<Run> {
  const main = vad.createStream();
  const confirm = vad.createStream();
  const echoFrames = new Set(during);
  const echo: EchoDecision = { noteSent: () => {}, isLikelyEcho: (pcm) => echoFrames.has(pcm) };
  const d = new SileroSpeechDetector(main, { echo, confirm: lazy ? confirm : everyFrame(confirm) });
  const events: string[] = [];
  d.listen({
    onSpeechStart: (ago) => events.push(`start ${ago}`),
    onSpeechEnd: (ago) => events.push(`end ${ago}`),
    onSpeechPause: (ms) => events.push(`pause ${ms}`),
    onSpeechActivity: () => events.push("activity"),
  });
  const feed = async (frames: Int16Array[]) => {
    for (const f of frames) {
      d.push(f);
      await Bun.sleep(0);
    }
  };
  await feed(A.frames160(A.concat([A.silence(300), caller, A.silence(700)])));
  d.setAgentSpeaking(true);
  await feed(during);
  await feed(A.frames160(A.concat([caller, A.silence(200)])));
  d.setAgentSpeaking(false);
  await feed(A.frames160(A.silence(800)));
  const confirmFrames = confirm.stats.frames;
  // An empty frame resolves once every window before it was scored; then the detector's handlers run.
  await Promise.all([main.process(new Int16Array(0)), confirm.process(new Int16Array(0))]);
  await Bun.sleep(20);
  d.close();
  return { events, confirmFrames };
}

describe("one Silero stream per call until an echo frame", () => {
  test.skipIf(!tools)("copyFrom with windows in flight: the copy continues with the original's probabilities, bit for bit", async () => {
    const frames = A.frames160(A.concat([A.silence(200), caller, A.silence(300)]));
    const a = vad.createStream();
    const b = vad.createStream();
    await b.process(frames[0]!); // b has a history of its own, dropped by the copy
    const half = frames.length >> 1;
    for (let i = 0; i < half; i++) void a.process(frames[i]!); // not awaited: windows still in flight
    b.copyFrom!(a);
    const pa: (number | null)[] = [];
    const pb: (number | null)[] = [];
    for (let i = half; i < frames.length; i++) {
      const [x, y] = await Promise.all([a.process(frames[i]!), b.process(frames[i]!)]);
      pa.push(x);
      pb.push(y);
    }
    expect(pa.some((p) => p !== null && p > 0.5)).toBe(true); // the rest holds speech
    expect(pb).toEqual(pa);
  });

  test.skipIf(!tools)("echo frames of digital silence: no second stream runs, and the events are those of two streams", async () => {
    const silent = A.frames160(A.silence(1500));
    const lazy = await run(true, silent);
    const both = await run(false, silent);
    expect(lazy.events.some((e) => e.startsWith("start"))).toBe(true);
    expect(lazy.events).toEqual(both.events);
    expect(lazy.confirmFrames).toBe(0);
    expect(both.confirmFrames).toBeGreaterThan(200);
  });

  test.skipIf(!tools)("a real echo frame forks the second stream; the events stay those of two streams fed every frame", async () => {
    const echo = A.frames160(gain(agent, -20)).slice(0, 100);
    const lazy = await run(true, echo);
    const both = await run(false, echo);
    expect(lazy.events.some((e) => e.startsWith("start"))).toBe(true);
    expect(lazy.events).toEqual(both.events);
    expect(lazy.confirmFrames).toBeGreaterThan(100); // from the first echo frame to the end of the call
    expect(lazy.confirmFrames).toBeLessThan(both.confirmFrames);
  });
});

/** Which stream scored each frame and with what (frame index → probability), per stream. */
interface Recorded {
  stream: VadStream;
  scored: Map<number, number | null>;
}
const inner = new WeakMap<VadStream, VadStream>();
function recorded(s: VadStream, frame: () => number): Recorded {
  const scored = new Map<number, number | null>();
  const stream: VadStream = {
    process(f) {
      const k = frame();
      const p = s.process(f);
      void p.then((x) => f.length && scored.set(k, x), () => undefined);
      return p;
    },
    copyFrom: (o) => s.copyFrom!(inner.get(o) ?? o),
    reset: () => s.reset(),
    get last() {
      return s.last;
    },
    get stats() {
      return s.stats;
    },
  };
  inner.set(stream, s);
  return { stream, scored };
}

/**
 * A call of two agent turns over an echoing line, the caller answering between them and talking over
 * the second: per frame, the probability the confirming stream stands for (its own while it runs, the
 * main stream's while one stream stands for both), the events, and the frames each stream scored.
 */
async function twoTurns(rejoinMs: number | null, backlog = false) {
  let k = 0;
  const main = recorded(vad.createStream(), () => k);
  const confirm = recorded(vad.createStream(), () => k);
  const echoLine = A.frames160(gain(agent, -20));
  const echoSet = new Set(echoLine);
  const echo: EchoDecision = { noteSent: () => {}, isLikelyEcho: (pcm) => echoSet.has(pcm) };
  const d = new SileroSpeechDetector(main.stream, { echo, confirm: confirm.stream, rejoinMs });
  const events: string[] = [];
  d.listen({ onSpeechStart: (ago) => events.push(`${k} start ${ago}`), onSpeechEnd: (ago) => events.push(`${k} end ${ago}`) });
  const feed = async (frames: Int16Array[], speaking: boolean) => {
    d.setAgentSpeaking(speaking);
    for (const f of frames) {
      d.push(f);
      // backlog: frames come faster than they are scored (a busy call thread), windows in flight at each fork and rejoin
      if (!backlog) await Promise.all([main.stream.process(new Int16Array(0)), confirm.stream.process(new Int16Array(0))]);
      if (!backlog || k % 8 === 0) await Bun.sleep(0);
      k++;
    }
  };
  await feed(A.frames160(A.concat([A.silence(300), caller, A.silence(500)])), false);
  await feed(echoLine.slice(0, 120), true); // the agent's first turn: its echo
  await feed(A.frames160(A.concat([A.silence(700), caller, A.silence(700)])), false); // the caller answers
  await feed(echoLine, true); // the second turn: echo ...
  await feed(A.frames160(A.concat([caller, A.silence(200)])), true); // ... then the caller talks over it
  await feed(A.frames160(A.silence(800)), false);
  await Promise.all([main.stream.process(new Int16Array(0)), confirm.stream.process(new Int16Array(0))]);
  await Bun.sleep(20);
  d.close();
  const q = Array.from({ length: k }, (_, i) => (confirm.scored.has(i) ? confirm.scored.get(i)! : main.scored.get(i)!));
  return { q, events, mainFrames: main.scored.size, confirmFrames: confirm.scored.size };
}

describe("rejoinMs: one stream again once the agent is silent", () => {
  test.skipIf(!tools)("the confirming stream's probabilities are those it gives running to the end, frame by frame, with fewer windows", async () => {
    const never = await twoTurns(null);
    const rejoin = await twoTurns(500);
    expect(never.events.some((e) => e.includes("start"))).toBe(true);
    expect(rejoin.q).toEqual(never.q); // bit for bit, every frame of the call
    expect(rejoin.events).toEqual(never.events);
    // The confirming stream sat out the caller's answer (it rejoined after 500 ms) and forked again.
    expect(never.confirmFrames - rejoin.confirmFrames).toBeGreaterThan(50);
    expect(rejoin.confirmFrames).toBeGreaterThan(200); // it ran again through the second turn
    expect(rejoin.mainFrames).toBe(never.mainFrames);
  }, 60_000);

  test.skipIf(!tools)("the same with frames coming faster than they are scored (windows in flight at the fork and the rejoin)", async () => {
    const never = await twoTurns(null, true);
    const rejoin = await twoTurns(500, true);
    expect(rejoin.q).toEqual(never.q);
    expect(rejoin.q.slice(1).every((p) => typeof p === "number")).toBe(true); // no frame lost its result to a copy (the first has none yet)
    expect(rejoin.events).toEqual(never.events);
    expect(never.confirmFrames - rejoin.confirmFrames).toBeGreaterThan(50);
  }, 60_000);
});
