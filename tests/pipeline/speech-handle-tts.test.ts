/**
 * How a reply's text reaches TTS (SpeechHandle.run): what each transcript holds, and what the caller
 * hears at their boundaries when every transcript waits for its own time to first audio (FakeTts
 * `delayMs`, as bench:load's Cartesia fake in its "serial" mode).
 */
import { describe, expect, test } from "bun:test";
import { Playout } from "../../src/media/playout";
import { SpeechHandle } from "../../src/pipeline/speech-handle";
import { FakeLlm, FakeTts, type FakeReply } from "../../src/providers/fake";
import { Pacer } from "../../src/rtp/pacer";
import { FakeClock } from "../../src/util/clock";

const CLAUSE = "Thank you, I can help with that booking,";
const REST = "and I am glad you called us today.";
const NEXT = "Let me check which tables are still free tonight.";

/** Runs one reply to its end on a fake clock: TTS 120 ms to first audio per transcript, 2 ms of audio per character. */
async function reply(llmReply: FakeReply, chunkDelayMs: number) {
  const clock = new FakeClock();
  const out = new Playout({ sink: { sendFrame: () => true }, codec: "PCMU" });
  new Pacer({ clock }).add(out);
  const tts = new FakeTts({ clock, delayMs: 120, msPerChar: 2 });
  const llm = new FakeLlm({ replies: [llmReply], clock, chunkDelayMs });
  const h = new SpeechHandle("hi", () => clock.now(), 0);
  let done = false;
  void h
    .run({ source: (signal) => llm.generate({ system: "", history: [], tools: [], signal }), tts, output: out, callId: "c", callSignal: new AbortController().signal })
    .then(() => (done = true));
  for (let t = 0; t < 5000 && !(done && out.queuedMs === 0 && !out.isPlaying); t += 10) {
    clock.advance(10);
    for (let i = 0; i < 6; i++) await Promise.resolve();
  }
  return { texts: tts.contexts[0]!.texts, out, h };
}

describe("a reply's text to TTS", () => {
  test("a clause and the rest of its sentence generated together go as one transcript: no silence frame at their boundary", async () => {
    // One LLM chunk holds the first clause, the rest of the sentence and the next sentence (bench:load's replies).
    const { texts, out, h } = await reply([{ type: "text", text: `${CLAUSE} ${REST} ` }, { type: "text", text: `${NEXT} ` }], 40);
    expect(texts).toEqual([`${CLAUSE} ${REST}`, NEXT]);
    expect(h.spokenText).toBe(`${CLAUSE} ${REST} ${NEXT}`);
    expect(h.usage.ttsChars).toBe(`${CLAUSE} ${REST}`.length + NEXT.length);
    // The second transcript (120 ms to its first audio) was asked for 40 ms after the first, whose 150 ms
    // of audio still played: the reply is one talkspurt.
    expect(out.underruns).toEqual({ tts_late: 0, paused: 0 });
    expect(out.audioFrames).toBe(Math.ceil(((CLAUSE.length + REST.length + 1 + NEXT.length) * 16) / 160));
  });

  test("a clause generated before the rest of its sentence goes alone (its audio starts before the rest exists)", async () => {
    // Word by word, 40 ms apart: the clause is complete ~300 ms before the sentence.
    const { texts, out } = await reply(`${CLAUSE} ${REST}`, 40);
    expect(texts).toEqual([CLAUSE, REST]);
    // Its 80 ms of audio ends before the rest's first audio (asked for ~270 ms later, 120 ms to first
    // audio): the silence between them is counted as an underrun of the reply, not hidden.
    expect(out.underruns.tts_late).toBeGreaterThan(0);
    expect(out.underruns.paused).toBe(0);
  });
});
