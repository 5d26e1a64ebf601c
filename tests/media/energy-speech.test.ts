/** EnergySpeech: the synchronous speech timing AMD uses, on flite speech, silence and line noise. */
import { afterAll, describe, expect, test } from "bun:test";
import { EnergySpeech, SpeechEdge } from "../../src/media/energy-speech";
import { concat, haveAudioTools, makeTempDir, silence, speech, synth } from "./vad/audio-fixtures";

/** [edge, ms] for every edge in `pcm`. */
function edges(pcm: Int16Array): Array<[string, number]> {
  const d = new EnergySpeech();
  const out: Array<[string, number]> = [];
  for (let i = 0; i + 160 <= pcm.length; i += 160) {
    const e = d.push(pcm.subarray(i, i + 160));
    if (e === SpeechEdge.Start) out.push(["start", d.startedAtMs]);
    if (e === SpeechEdge.End) out.push(["end", d.endedAtMs]);
  }
  return out;
}

function sine(ms: number, amp: number): Int16Array {
  return Int16Array.from({ length: ms * 8 }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * 300 * i) / 8000)));
}

test("digital silence: nothing; a loud 300 ms sound: one start and one end at its edges", () => {
  expect(edges(silence(2000))).toEqual([]);
  expect(edges(concat([silence(400), sine(300, 6000), silence(400)]))).toEqual([["start", 400], ["end", 700]]);
  expect(edges(concat([silence(400), sine(40, 6000), silence(400)]))).toEqual([]); // shorter than 60 ms
  expect(edges(concat([silence(400), sine(300, 200), silence(400)]))).toEqual([]); // −44 dBFS: below the floor
});

const tools = haveAudioTools();
const tmp = tools ? makeTempDir("energy-speech-") : undefined;
afterAll(() => tmp?.remove());

describe.skipIf(!tools)("EnergySpeech on phone audio", () => {
  test('flite "Hello?" after 500 ms of silence: one utterance where the voice is (flite pads ~200 ms of quiet on each side)', async () => {
    const hello = await speech(tmp!.dir, "slt", "Hello?");
    const got = edges(concat([silence(500), hello, silence(1000)]));
    expect(got.map((e) => e[0])).toEqual(["start", "end"]);
    expect(got[0]![1]).toBeGreaterThanOrEqual(500);
    expect(got[0]![1]).toBeLessThan(800);
    expect(got[1]![1]).toBeLessThanOrEqual(500 + hello.length / 8);
    expect(got[1]![1]).toBeGreaterThan(500 + hello.length / 8 - 400);
  });

  test("steady line noise from the answer on (−40 dBFS white) is learnt: no speech; a voice over it is found", async () => {
    const noise = await synth(tmp!.dir, 3, ["whitenoise"], -36);
    expect(edges(noise)).toEqual([]);
    const hello = await speech(tmp!.dir, "kal16", "Hello, who is this?");
    const mixed = new Int16Array(noise.length);
    for (let i = 0; i < mixed.length; i++) mixed[i] = Math.max(-32768, Math.min(32767, noise[i]! + (hello[i - 8000] ?? 0)));
    const got = edges(mixed);
    expect(got[0]).toEqual(["start", expect.any(Number)]);
    expect(got[0]![1]).toBeGreaterThanOrEqual(900);
  });

  test("a 10 s greeting stays speech with its pauses as short gaps (the floor does not climb with the voice)", async () => {
    const parts = [];
    for (const t of ["Hi, you have reached the voicemail of John Smith.", "I am not able to take your call right now.", "Please leave a message after the tone."]) {
      parts.push(await speech(tmp!.dir, "rms", t)); // flite's padding leaves ~0.5 s between sentences
    }
    const got = edges(concat(parts));
    const starts = got.filter((e) => e[0] === "start");
    expect(starts.length).toBeGreaterThanOrEqual(1);
    // No silence of 700 ms (what ends a greeting's run) between the end of one utterance and the next start.
    for (let i = 1; i < got.length; i++) if (got[i]![0] === "start") expect(got[i]![1] - got[i - 1]![1]).toBeLessThan(700);
  });
});
