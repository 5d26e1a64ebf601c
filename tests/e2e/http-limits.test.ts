/**
 * Limits of the HTTP API on the compiled binary (loopback, API_TOKEN set):
 *
 * - a body sent chunked (`Transfer-Encoding: chunked`, no Content-Length) is counted while it is read:
 *   past 64 KB (MAX_BODY_BYTES) the agent answers 413 with a JSON message and closes the connection,
 *   the rest unread. Before, Bun read such a body whole up to 1 MB and Elysia parsed it on the call
 *   thread (a 900 KB body reached the route: 403 outbound_disabled); past 1 MB came a bare 413.
 * - `GET /events` (server-sent events) takes at most 32 watchers at once; the next gets 503 +
 *   Retry-After with a message, and a watcher that disconnects frees its place. Before, there was no cap.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const TOKEN = "e2e-http-limits-token-0123456789";
let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
}, 30_000);

/**
 * Posts a chunked JSON body of up to `total` bytes in 16 KB chunks over a raw socket, stopping as soon as
 * the agent answers. Resolves with the response text, the bytes written and whether the agent closed.
 */
function postChunked(port: number, total: number): Promise<{ response: string; written: number; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    let response = "";
    let written = 0;
    let closed = false;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ response, written, closed });
    };
    const timer = setTimeout(done, 15_000);
    sock.on("data", (d) => {
      response += d.toString("latin1");
      const end = response.indexOf("\r\n\r\n");
      const length = Number(/^content-length:\s*(\d+)/im.exec(response)?.[1] ?? NaN);
      if (end >= 0 && response.length - end - 4 >= length) setTimeout(done, 200); // whole: a close may follow
    });
    sock.on("end", () => ((closed = true), setTimeout(done, 50)));
    sock.on("close", () => ((closed = true), done()));
    sock.on("error", (e) => (response ? done() : reject(e)));
    sock.on("connect", async () => {
      sock.write(
        "POST /outbound/call HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
          `Authorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      );
      // A valid JSON object: {"phone_number":…,"metadata":{"pad":"aaaa…"}}, the pad sent in 16 KB chunks.
      const head = '{"phone_number":"+14155550123","opening_reason":"t","objective":"t","metadata":{"pad":"';
      const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n`;
      sock.write(chunk(head));
      written += head.length;
      const pad = "a".repeat(16 * 1024);
      while (written + pad.length < total && !response && !closed) {
        if (!sock.write(chunk(pad))) await new Promise((r) => sock.once("drain", r));
        written += pad.length;
        await Bun.sleep(1); // let the answer overtake the upload
      }
      if (!response && !closed) sock.write(chunk('"}}') + "0\r\n\r\n");
    });
  });
}

describe("HTTP limits (compiled binary, loopback)", () => {
  test("a chunked body past 64 KB: 413 with a message, connection closed, the rest unread", async () => {
    agent ??= await startAgent({ API_TOKEN: TOKEN });
    const r = await postChunked(agent.httpPort, 900 * 1024);
    expect(r.response).toMatch(/^HTTP\/1\.1 413 /);
    expect(r.response.toLowerCase()).toContain("connection: close");
    expect(r.response).toContain('"error":"payload_too_large"');
    expect(r.response).toContain("at most 65536 are accepted");
    expect(r.closed).toBe(true);
    expect(r.written).toBeLessThan(700 * 1024); // stopped by the answer, not by the end of the body
    // A small chunked body is still read and reaches the route (outbound is off in inbound mode).
    const small = await postChunked(agent.httpPort, 2 * 1024);
    expect(small.response).toMatch(/^HTTP\/1\.1 403 /);
    expect(small.response).toContain("outbound_disabled");
  }, 40_000);

  test("/events: 32 watchers at most, the next gets 503 + Retry-After; a disconnect frees a place", async () => {
    agent ??= await startAgent({ API_TOKEN: TOKEN });
    const url = `http://127.0.0.1:${agent.httpPort}/events`;
    const open = async () => {
      const ctl = new AbortController();
      const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` }, signal: ctl.signal });
      if (res.status === 200) {
        const first = await res.body!.getReader().read(); // the snapshot frame: the stream is live
        expect(new TextDecoder().decode(first.value)).toContain("event: snapshot");
      }
      return { res, ctl };
    };
    const watchers = [];
    for (let i = 0; i < 32; i++) watchers.push(await open());
    expect(watchers.map((w) => w.res.status)).toEqual(Array(32).fill(200));
    const refused = await open();
    expect(refused.res.status).toBe(503);
    expect(refused.res.headers.get("retry-after")).toBe("10");
    expect(await refused.res.json()).toMatchObject({ error: "too_many_subscribers", message: expect.stringContaining("at most 32") });
    // Three watchers go away (the browser tab closed): their places come back.
    for (const w of watchers.splice(0, 3)) w.ctl.abort();
    const again = await waitFor(
      async () => {
        const w = await open();
        if (w.res.status === 200) return w;
        await w.res.body?.cancel();
        return undefined;
      },
      10_000,
      "a place freed by the disconnected watchers",
    );
    expect(again.res.status).toBe(200);
    for (const w of [...watchers, again]) w.ctl.abort();
  }, 40_000);
});
