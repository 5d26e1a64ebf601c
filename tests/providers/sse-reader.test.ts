import { describe, expect, test } from "bun:test";
import { sseData } from "../../src/providers/sse-reader";

/** A body delivering `pieces` one read each. */
function body(pieces: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (i < pieces.length) ctl.enqueue(enc.encode(pieces[i++]));
      else ctl.close();
    },
  });
}

async function events(pieces: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const d of sseData(body(pieces))) out.push(d);
  return out;
}

describe("sseData (HTML §9.2.6)", () => {
  test.each<[string, string, string[]]>([
    ["LF", 'data: {"a":1}\n\ndata: {"b":2}\n\n', ['{"a":1}', '{"b":2}']],
    ["CRLF (Google's streams)", 'data: {"a":1}\r\n\r\ndata: {"b":2}\r\n\r\n', ['{"a":1}', '{"b":2}']],
    ["CR alone", "data: x\r\rdata: y\r\r", ["x", "y"]],
    ["no space after the colon; only one space removed", "data:x\n\ndata:  y\n\n", ["x", " y"]],
    ["multi-line data joined with LF", "data: one\ndata: two\n\n", ["one\ntwo"]],
    ["comments, other fields and empty events ignored", ": keep-alive\n\nevent: e\nid: 7\nretry: 10\n\ndata: z\n\n", ["z"]],
    ["a field only starting with 'data' is not data", "datafoo: q\ndata: r\n\n", ["r"]],
    ["'data' without a colon is an empty line of data", "data\n\n", [""]],
    ["an event cut off by the end of the stream is dropped", "data: whole\n\ndata: cut", ["whole"]],
    ["UTF-8 kept", "data: café ☕\n\n", ["café ☕"]],
  ])("%s", async (_name, text, want) => {
    expect(await events([text])).toEqual(want);
  });

  test("an event is yielded as soon as its blank line has arrived, not at the end of the body", async () => {
    const enc = new TextEncoder();
    let ctl!: ReadableStreamDefaultController<Uint8Array>;
    const s = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
    const it = sseData(s)[Symbol.asyncIterator]();
    ctl.enqueue(enc.encode("data: first\r\n\r\n"));
    expect(await it.next()).toEqual({ value: "first", done: false });
    ctl.enqueue(enc.encode("data: second\r\n\r\n"));
    ctl.close();
    expect(await it.next()).toEqual({ value: "second", done: false });
    expect((await it.next()).done).toBe(true);
  });

  test("seeded fuzz: any split of the bytes (CRLF, multi-byte characters cut in two) gives the same events", async () => {
    const text = 'data: {"t":"héllo"}\r\n\r\n: c\r\ndata: a\r\ndata: b\r\n\r\ndata: ☕\n\ndata: x\r\r';
    const bytes = new TextEncoder().encode(text);
    const want = await events([text]);
    expect(want).toEqual(['{"t":"héllo"}', "a\nb", "☕", "x"]);
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 200; round++) {
      const parts: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; ) {
        const n = 1 + Math.floor(rand() * 8);
        parts.push(bytes.subarray(i, i + n));
        i += n;
      }
      let k = 0;
      const s = new ReadableStream<Uint8Array>({
        pull(c) {
          if (k < parts.length) c.enqueue(parts[k++]!);
          else c.close();
        },
      });
      const got: string[] = [];
      for await (const d of sseData(s)) got.push(d);
      expect(got).toEqual(want);
    }
  });
});
