/**
 * The load benchmark's gate arithmetic (tests/support/load-gate.ts) on synthetic agent streams:
 * phrases split by sent silence, quiet audio inside a talkspurt not mistaken for silence, underruns
 * (sent silence inside a phrase, told by the marker bit), gaps as inter-arrival − 20 ms, lost frames
 * not paired, and the verdict of a row.
 */
import { describe, expect, test } from "bun:test";
import { gateFailures, highestPassing, loadTable, passCounts, percentile, phrasesOf, type LoadRow } from "../support/load-gate.ts";
import type { CapturedRtpPacket } from "../support/rtp-streams.ts";
import { syntheticPacket } from "../support/synthetic-rtp.ts";
import { silenceRunsInPhrases, ttsLateSilenceFrames, ttsLocator, type TtsTimeline } from "../support/tts-timeline.ts";

const SIL = 0xff;
/** One frame per letter: a = audio, q = quiet audio (zero PCM, no marker after), s = sent silence. */
function stream(pattern: string, arrival: (i: number) => number = (i) => i * 20): { audioPackets: CapturedRtpPacket[] } {
  const pk: CapturedRtpPacket[] = [];
  let lastWasAudio = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const audio = c !== "s";
    pk.push(syntheticPacket({ tick: i, seq: i, marker: audio && !lastWasAudio, fill: c === "a" ? 0x20 : SIL, arrivalMs: arrival(i) }));
    lastWasAudio = audio;
  }
  return { audioPackets: pk };
}

const row = (over: Partial<LoadRow>): LoadRow => ({
  pipeline: "cloud", calls: 10, streams: over.calls ?? 10, callsWithReply: over.calls ?? 10, replies: 20, replyP50Ms: 800, replyP90Ms: 900, cpuPct: 40, rssMiB: 200,
  gapP50Ms: 0, gapP90Ms: 1, gapP99Ms: 3, gapMaxMs: 8, underruns: 0, optionsP99Ms: 2, optionsMaxMs: 4, optionsLost: 0, pacerP99Ms: 1, ...over,
});

describe("phrasesOf", () => {
  test("phrases are separated by ≥ 1 s of sent silence; quiet audio inside a talkspurt is not silence", () => {
    const r = phrasesOf(stream("s".repeat(10) + "aaaqqqaaa" + "s".repeat(60) + "aaaa" + "s".repeat(5)));
    expect(r.phrases.map((p) => p.frames)).toEqual([9, 4]);
    expect(r.underruns).toBe(0);
    expect(r.gaps.length).toBe(8 + 3);
    expect(Math.max(...r.gaps)).toBe(0);
  });

  test("sent silence shorter than the phrase gap inside a phrase counts as underruns", () => {
    const r = phrasesOf(stream("aaaa" + "sss" + "aaaa"));
    expect(r.phrases.length).toBe(1);
    expect(r.underruns).toBe(3);
  });

  test("gap = inter-arrival − 20 ms inside phrases only; lost frames are not paired", () => {
    // frame 3 arrives 30 ms late (then frame 4 on time: negative counts as 0); silence is not measured
    const late = (i: number) => i * 20 + (i === 3 ? 30 : 0) + (i >= 10 ? 500 : 0);
    const s = stream("aaaaaa" + "s".repeat(55) + "aa", late);
    const r = phrasesOf(s);
    expect(r.gaps.slice(0, 5)).toEqual([0, 0, 30, 0, 0]);
    expect(r.gaps.length).toBe(5 + 1);
    s.audioPackets.splice(2, 1); // lost on the wire
    expect(phrasesOf(s).gaps.length).toBe(3 + 1); // (1,2) and (2,3) gone
  });
});

describe("gate", () => {
  test("a clean row passes; each limit fails on its own", () => {
    expect(gateFailures(row({}))).toEqual([]);
    expect(gateFailures(row({ callsWithReply: 9 }))[0]).toContain("replies heard on 9/10");
    expect(gateFailures(row({ cpuPct: 80 }))[0]).toContain("cpu");
    expect(gateFailures(row({ gapP90Ms: 5.1 }))[0]).toContain("p90");
    expect(gateFailures(row({ gapP99Ms: 10.5 }))[0]).toContain("p99");
    expect(gateFailures(row({ underruns: 1 }))[0]).toContain("silence frames");
    expect(gateFailures(row({ optionsMaxMs: 51 }))[0]).toContain("OPTIONS");
    expect(gateFailures(row({ optionsLost: 1 }))[0]).toContain("lost");
    // The pacer goal: p99 lateness ≤ 5 ms (the histogram bucket's upper bound); 6 fails, unknown fails.
    expect(gateFailures(row({ pacerP99Ms: 5 }))).toEqual([]);
    expect(gateFailures(row({ pacerP99Ms: 6 }))).toEqual(["pacer p99 6 ms"]);
    expect(gateFailures(row({ pacerP99Ms: -1 }))).toEqual(["pacer p99 unknown"]);
    expect(gateFailures(row({ bargeIn: { overlapped: 10, cut: 10, p50Ms: 150, p90Ms: 300 } }))).toEqual([]);
    expect(gateFailures(row({ bargeIn: { overlapped: 10, cut: 9, p50Ms: 150, p90Ms: 300 } }))[0]).toContain("barge-in cut 9/10");
    expect(gateFailures(row({ bargeIn: { overlapped: 0, cut: 0, p50Ms: 0, p90Ms: 0 } }))[0]).toContain("barge-in cut 0/0");
  });

  test("highest passing N stops at the first failing N; the table has a row per run", () => {
    const rows = [row({ calls: 20 }), row({ calls: 50 }), row({ calls: 100, gapP99Ms: 30 }), row({ calls: 150 })];
    expect(highestPassing(rows, "cloud")).toBe(50);
    expect(highestPassing(rows, "offline")).toBe(0);
    // Repeats of one N: a failing one stops it, whichever order they ran in.
    expect(highestPassing([row({ calls: 150 }), row({ calls: 200 }), row({ calls: 200, cpuPct: 86 })], "cloud")).toBe(150);
    expect(highestPassing([row({ calls: 200, cpuPct: 86 }), row({ calls: 150 }), row({ calls: 200 })], "cloud")).toBe(150);
    expect(highestPassing([row({ calls: 150 }), row({ calls: 150 }), row({ calls: 200 })], "cloud")).toBe(200);
    // How many repeats of each N passed: the count a verdict of "reliably" is read from.
    expect(passCounts([row({ calls: 200 }), row({ calls: 150 }), row({ calls: 200, pacerP99Ms: 7 }), row({ calls: 200 }), row({ calls: 4, pipeline: "offline" })], "cloud")).toEqual([
      { calls: 150, passed: 1, rows: 1 },
      { calls: 200, passed: 2, rows: 3 },
    ]);
    const t = loadTable(rows).split("\n");
    expect(t.length).toBe(5);
    expect(t[3]).toContain("FAIL: gap p99 30.0 ms");
    // The agent core's speed before/after the row, when measured (pinned runs).
    expect(loadTable([row({ coreSpeed: { computeUs: 403, memoryUs: 1100, afterComputeUs: 520, afterMemoryUs: 1200 } })])).toContain(" 403/520 ");
    // CPU by thread kind (jit/gc/alloc/http/rest), and a row after a warm-up wave says so once.
    expect(loadTable([row({ threadPct: { jit: 5.24, gc: 0.5, alloc: 2, http: 1, rest: 0.04 } })])).toContain(" 5.2/0.5/2.0/1.0/0.0 ");
    const warmup = { calls: 200, holdS: 48, streams: 200, callsGreeted: 200, callsWithReply: 200, replies: 1600, seconds: 70, cpuPct: 80, threadPct: { main: 70, workers: 1, jit: 6, gc: 1, alloc: 2, http: 1, rest: 0 }, agentCallsEnded: 200 };
    expect(loadTable([row({ warmup })]).split("\n")[1]).toMatch(/^\s*cloud warm /);
    expect(loadTable([row({ warmup, label: "after warm" })]).split("\n")[1]).toMatch(/^\s*cloud after warm /);
  });

  test("percentile is nearest rank", () => {
    expect(percentile([], 0.9)).toBe(0);
    expect(percentile([5, 1, 3, 2, 4], 0.5)).toBe(3);
    expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 0.99)).toBe(99);
    expect(percentile([1, 2, 3], 1)).toBe(3);
  });
});

describe("silence in phrases before the TTS fake sent its audio (tts-timeline.ts)", () => {
  // A reply of 12 frames whose 6th and 7th went out as silence (a run of 2 inside the phrase). The fake
  // sent one 160-byte chunk (a frame of μ-law) per frame; the 6th frame's chunk is sent at `sentAt`.
  const t0 = 10_000;
  const s = stream("s".repeat(60) + "aaaaa" + "ss" + "aaaaa", (i) => t0 + i * 20);
  const due = (k: number) => t0 + (60 + k) * 20; // arrival of the reply's frame k (0-based)
  const timeline = (sentAt: number): TtsTimeline => [
    {
      connection: 1,
      contexts: [{
        contextId: "c1",
        transcripts: ["x".repeat(20), "y".repeat(28)], // 48 chars × 40 samples = 1920 bytes = 12 chunks of 160; the 6th starts transcript 1
        chunks: Array.from({ length: 12 }, (_, k): [number, number, number] => [k < 5 ? due(0) - 2 + k : sentAt + (k - 5), 160, k < 5 ? 0 : 1]),
      }],
    },
  ];

  test("sent while the audio was on the wire to the agent: the agent's underruns, the gate fails", () => {
    const t = timeline(due(5) - 30);
    expect(silenceRunsInPhrases([s])).toEqual([{ stream: 0, first: 65, frames: 2 }]);
    expect(ttsLateSilenceFrames(t, [s])).toBe(0);
    const src = ttsLocator(t, [s])({ stream: 0, first: 65, frames: 2 });
    expect(src).toMatchObject({ connection: 1, audioFrame: 6, transcript: 1, firstOfTranscript: true });
    expect(gateFailures(row({ underruns: 2, ttsLate: 0 }))).toEqual(["2 silence frames in phrases"]);
  });

  test("sent before the fake sent the audio: the load generator's, shown but not held against the agent", () => {
    expect(ttsLateSilenceFrames(timeline(due(6) + 5), [s])).toBe(2);
    expect(ttsLateSilenceFrames(timeline(due(5) + 5), [s])).toBe(1); // the 2nd silence frame went out after it was sent
    expect(gateFailures(row({ underruns: 2, ttsLate: 2 }))).toEqual([]);
    expect(gateFailures(row({ underruns: 3, ttsLate: 2 }))).toEqual(["1 silence frames in phrases (+2 before the TTS fake sent their audio)"]);
    expect(loadTable([row({ underruns: 3, ttsLate: 2 })])).toContain("3 [tts 2]");
  });
});
