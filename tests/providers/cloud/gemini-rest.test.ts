/**
 * Gemini's REST stream (src/providers/gemini/rest.ts): the SSE framing on raw bytes as a server may cut
 * them (any line ending, events split across reads, a UTF-8 character split across reads), Google's in-band
 * error event, and a body cut inside an event. The provider's behaviour against the protocol fake is in
 * gemini.test.ts.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { eventData, eventEnd, GeminiHttpError, parseEvent, streamGenerateContent, streamUrl, type GeminiStreamEvent } from "../../../src/providers/gemini/rest";
import { GeminiLlm } from "../../../src/providers/gemini/provider";
import { collect } from "../../fakes/wait";

const endpoint = (baseUrl: string) => ({ baseUrl, apiVersion: "v1", model: "m", apiKey: "k" });
const body = { contents: [{ role: "user" as const, parts: [{ text: "hi" }] }] };
const event = (text: string, tokens = 1) =>
  JSON.stringify({ candidates: [{ content: { role: "model", parts: [{ text }] }, index: 0 }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: tokens } });

let server: Server<undefined> | undefined;
afterEach(async () => {
  await server?.stop(true);
  server = undefined;
});

/** A server answering every request with `pieces`, each written as its own read (20 ms apart). */
function serveBytes(pieces: (string | Uint8Array)[]): string {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch() {
      const enc = new TextEncoder();
      let i = 0;
      const stream = new ReadableStream({
        async pull(ctl) {
          if (i === pieces.length) return ctl.close();
          if (i > 0) await Bun.sleep(20);
          const p = pieces[i++]!;
          ctl.enqueue(typeof p === "string" ? enc.encode(p) : p);
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    },
  });
  return `http://127.0.0.1:${server.port}`;
}

const texts = (evs: GeminiStreamEvent[]) => evs.map((e) => e.candidates?.[0]?.content?.parts?.[0]?.text);

describe("SSE framing (pure)", () => {
  test.each([
    ["CRLF", "data: a\r\n\r\ndata: b", 7, 4],
    ["LF", "data: a\n\ndata: b", 7, 2],
    ["CR", "data: a\r\rdata: b", 7, 2],
    ["the earliest of mixed endings", "data: a\n\ndata: b\r\n\r\n", 7, 2],
    ["none yet", "data: {\"a\":", -1, 0],
  ] as const)("eventEnd: %s", (_name, buf, at, len) => {
    expect(eventEnd(buf)).toEqual([at, len]);
  });

  test.each([
    ["one data line", "data: {\"x\":1}", "{\"x\":1}"],
    ["no space after the colon", "data:{\"x\":1}", "{\"x\":1}"],
    ["only one leading space dropped", "data:  x", " x"],
    ["several data lines joined with LF", "data: {\"x\":\r\ndata: 1}", "{\"x\":\n1}"],
    ["comments and other fields ignored", ": keep-alive\nevent: message\nid: 7\ndata: y", "y"],
    ["no data line", ": comment only", null],
  ] as const)("eventData: %s", (_name, ev, want) => {
    expect(eventData(ev)).toBe(want);
  });

  test("parseEvent: Google's in-band error (code 400–599) is a GeminiHttpError with that status; other objects pass", () => {
    const raw = JSON.stringify({ error: { code: 503, message: "overloaded", status: "UNAVAILABLE" } });
    const err = (() => {
      try {
        parseEvent(raw);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(GeminiHttpError);
    expect(err).toMatchObject({ status: 503, body: raw });
    expect(parseEvent(JSON.stringify({ error: { code: 200 } }))).toEqual({ error: { code: 200 } } as never);
    expect(() => parseEvent("{not json")).toThrow(SyntaxError);
  });

  test("streamUrl: version and model in the path, alt=sse, trailing slashes of the base dropped", () => {
    expect(streamUrl({ baseUrl: "https://generativelanguage.googleapis.com//", apiVersion: "v1beta", model: "gemini-2.0-flash" })).toBe(
      "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
    );
  });
});

describe("streamGenerateContent on real bytes", () => {
  test("events split across reads, LF and CR endings, a UTF-8 character split across reads: every event, in order, intact", async () => {
    const e3 = new TextEncoder().encode(`data: ${event("caf\u00e9 \u2014 ok", 3)}\r\n\r\n`);
    const cut = e3.indexOf(0xc3) + 1; // inside the two bytes of "é"
    const url = serveBytes([`data: ${event("one", 1).slice(0, 20)}`, `${event("one", 1).slice(20)}\n\ndata: ${event("two", 2)}\r\r`, e3.subarray(0, cut), e3.subarray(cut)]);
    const got = await collect(streamGenerateContent(endpoint(url), body, new AbortController().signal));
    expect(texts(got)).toEqual(["one", "two", "caf\u00e9 \u2014 ok"]);
  });

  test("a body that stops inside an event throws (the provider's 'unavailable', retryable), after the whole events", async () => {
    const url = serveBytes([`data: ${event("whole")}\r\n\r\n`, `data: ${event("cut").slice(0, 30)}`]);
    const got: GeminiStreamEvent[] = [];
    const err = await (async () => {
      for await (const e of streamGenerateContent(endpoint(url), body, new AbortController().signal)) got.push(e);
    })().catch((e) => e);
    expect(texts(got)).toEqual(["whole"]);
    expect(err).toBeInstanceOf(Error);
    expect(String(err.message)).toContain("ended inside an event");
    const viaProvider = await collect(new GeminiLlm({ apiKey: "k", baseUrl: url }).generate({ system: "s", history: [], tools: [], signal: new AbortController().signal })).catch((e) => e);
    expect(viaProvider).toMatchObject({ code: "unavailable", retryable: true });
  });

  test("an event that is not JSON → the provider's 'protocol', not retryable", async () => {
    const url = serveBytes([`data: ${event("fine")}\r\n\r\n`, "data: {not json\r\n\r\n"]);
    const chunks: unknown[] = [];
    const err = await (async () => {
      for await (const c of new GeminiLlm({ apiKey: "k", baseUrl: url }).generate({ system: "s", history: [], tools: [], signal: new AbortController().signal })) chunks.push(c);
    })().catch((e) => e);
    expect(chunks).toEqual([{ type: "text", text: "fine" }]);
    expect(err).toMatchObject({ code: "protocol", retryable: false });
  });
});
