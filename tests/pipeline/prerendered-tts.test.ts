/** PrerenderedTts: the opening rendered ahead is replayed for the same text, anything else goes live. */
import { describe, expect, test } from "bun:test";
import { PrerenderedTts } from "../../src/pipeline/prerendered-tts";
import type { TtsProvider, TtsStream } from "../../src/providers/types";

/** A TTS that "renders" each text as one chunk whose samples are its char codes; `failOn` throws. */
function recordingTts(failOn?: string) {
  const opened: string[][] = [];
  const tts: TtsProvider = {
    name: "rec",
    open(): TtsStream {
      const texts: string[] = [];
      opened.push(texts);
      let end!: () => void;
      const ended = new Promise<void>((r) => (end = r));
      return {
        pushText: (t) => void texts.push(t),
        end: () => end(),
        cancel: () => end(),
        audio: (async function* () {
          await ended;
          const text = texts.join(" ");
          if (text === failOn) throw new Error("synthesis failed");
          yield Int16Array.from(text, (c) => c.charCodeAt(0));
        })(),
      };
    },
  };
  return { tts, opened };
}

async function play(s: TtsStream, texts: string[]): Promise<string> {
  for (const t of texts) s.pushText(t);
  s.end();
  let out = "";
  for await (const pcm of s.audio) out += String.fromCharCode(...pcm);
  return out;
}

const OPTS = () => ({ signal: new AbortController().signal, callId: "c" });

describe("PrerenderedTts", () => {
  test("the same text (split into sentences) replays the rendering: one synthesis in all", async () => {
    const { tts, opened } = recordingTts();
    const p = PrerenderedTts.render(tts, "Hello! Do you have a moment?", OPTS());
    expect(await play(p.open(OPTS()), ["Hello!", "Do you  have a moment?"])).toBe("Hello! Do you have a moment?");
    expect(opened).toEqual([["Hello!", "Do you have a moment?"]]); // rendered in the chunks a reply pushes
  });

  test("other text is synthesised live; later contexts go to the inner TTS", async () => {
    const { tts, opened } = recordingTts();
    const p = PrerenderedTts.render(tts, "Hello!", OPTS());
    expect(await play(p.open(OPTS()), ["Hi there."])).toBe("Hi there.");
    expect(await play(p.open(OPTS()), ["Next."])).toBe("Next.");
    expect(opened.map((t) => t.join(" "))).toEqual(["Hello!", "Hi there.", "Next."]);
  });

  test("a rendering that failed before any audio: the reply is synthesised live", async () => {
    const { tts, opened } = recordingTts("Hello!");
    const p = PrerenderedTts.render(tts, "Hello!", OPTS());
    await Bun.sleep(1);
    const s = p.open(OPTS());
    await expect(play(s, ["Hello!"])).rejects.toThrow("synthesis failed"); // the live one fails the same way
    expect(opened.length).toBe(2);
  });

  test("cancel before the text ended: no audio", async () => {
    const { tts } = recordingTts();
    const p = PrerenderedTts.render(tts, "Hello!", OPTS());
    const s = p.open(OPTS());
    s.pushText("Hel");
    s.cancel();
    const got: Int16Array[] = [];
    for await (const pcm of s.audio) got.push(pcm);
    expect(got).toEqual([]);
  });

  test("discard: the rendering stops and the next context is live", async () => {
    const { tts, opened } = recordingTts();
    const p = PrerenderedTts.render(tts, "Hello!", OPTS());
    p.discard();
    expect(await play(p.open(OPTS()), ["Hello!"])).toBe("Hello!");
    expect(opened.length).toBe(2);
  });
});
