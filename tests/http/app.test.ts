import { afterAll, describe, expect, test } from "bun:test";
import { createApp, MAX_BODY_BYTES } from "../../src/http/app";
import { CallStore, type CallRecord } from "../../src/pipeline/call-record";

function record(id: string): CallRecord {
  return {
    id,
    sipCallId: `${id}@127.0.0.1`,
    direction: "inbound",
    from: "sip:alice@127.0.0.1",
    to: "sip:agent@127.0.0.1",
    state: "connected",
    startedAt: new Date(Date.now() - 5000).toISOString(),
    answeredAt: new Date(Date.now() - 4000).toISOString(),
    turns: [{ index: 0, speaker: "agent", text: "Hello.", at: new Date().toISOString() }],
    bargeIns: 0,
  };
}

describe("HTTP app", () => {
  const store = new CallStore(2);
  const app = createApp({
    store,
    health: { version: "9.9.9", mode: "inbound", providers: { stt: "pocketsphinx", llm: "scripted", tts: "flite" } },
  });
  const get = async (path: string) => {
    const res = await app.handle(new Request(`http://localhost${path}`));
    return { status: res.status, body: (await res.json()) as any };
  };

  test("GET / reports status, version, mode, providers and active calls", async () => {
    store.add(record("a"));
    const { status, body } = await get("/");
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: "ok", version: "9.9.9", mode: "inbound", activeCalls: 1 });
    expect(body.providers).toEqual({ stt: "pocketsphinx", llm: "scripted", tts: "flite" });
  });

  test("GET /calls lists active and recent calls; ended calls get duration and reason", async () => {
    store.add(record("b"));
    store.end("a", "remote_bye");
    const { body } = await get("/calls");
    expect(body.active.map((c: CallRecord) => c.id)).toEqual(["b"]);
    expect(body.recent[0]).toMatchObject({ id: "a", state: "ended", endReason: "remote_bye" });
    expect(body.recent[0].durationMs).toBeGreaterThanOrEqual(3900);
    expect(body.recent[0].turns[0].text).toBe("Hello.");
  });

  test("recent list is bounded", async () => {
    store.add(record("c"));
    store.add(record("d"));
    store.end("b", "x");
    store.end("c", "x");
    store.end("d", "x");
    expect(store.list().recent.map((r) => r.id)).toEqual(["d", "c"]);
  });

  test("GET /calls/:id returns one call, 404 with a message otherwise", async () => {
    expect((await get("/calls/d")).body.id).toBe("d");
    const miss = await get("/calls/nope");
    expect(miss.status).toBe(404);
    expect(miss.body).toEqual({ error: "not_found", message: "no call with id nope" });
    expect((await get("/nothing-here")).status).toBe(404);
  });
});

describe("health for orchestrators: /health/live and /health/ready", () => {
  const verdict: { v: import("../../src/http/app").ReadyVerdict } = { v: { accept: true, active: 1, capacity: 2 } };
  const app = createApp({
    store: new CallStore(2),
    apiToken: "0123456789abcdef0123",
    health: { version: "9.9.9", mode: "inbound", providers: { stt: "x", llm: "y", tts: "z" }, ready: () => verdict.v },
  });
  const get = async (path: string) => {
    const res = await app.handle(new Request(`http://localhost${path}`));
    return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as any };
  };

  test("live: 200 without a token", async () => {
    expect(await get("/health/live")).toMatchObject({ status: 200, body: { status: "live" } });
  });

  test("ready: 200 with the load while calls are taken; 503 + Retry-After with the reason otherwise", async () => {
    verdict.v = { accept: true, active: 1, capacity: 2 };
    expect(await get("/health/ready")).toMatchObject({ status: 200, retryAfter: null, body: { status: "ready", activeCalls: 1, capacity: 2 } });
    verdict.v = { accept: false, reason: "full", detail: "2 calls are live (MAX_CALLS 2)", retryAfterS: 30, active: 2, capacity: 2 };
    expect(await get("/health/ready")).toMatchObject({
      status: 503,
      retryAfter: "30",
      body: { status: "unavailable", reason: "full", message: "2 calls are live (MAX_CALLS 2)", activeCalls: 2, capacity: 2 },
    });
    verdict.v = { accept: false, reason: "draining", detail: "the agent is draining (shutting down)", retryAfterS: 10, active: 0, capacity: 2 };
    expect(await get("/health/ready")).toMatchObject({ status: 503, retryAfter: "10", body: { reason: "draining" } });
  });

  test("other routes still need the token", async () => {
    expect((await get("/calls")).status).toBe(401);
  });
});

// A 100 MB body read and parsed on the thread that paces RTP stalled a live call's audio for ~450 ms:
// bodies over MAX_BODY_BYTES are refused with 413 before they are read, on a real listening server.
describe("request body size limit", () => {
  const token = "0123456789abcdef0123";
  const app = createApp({
    store: new CallStore(2),
    apiToken: token,
    outboundDisabledReason: "off in this test",
    health: { version: "9.9.9", mode: "inbound", providers: { stt: "x", llm: "y", tts: "z" } },
  });
  app.listen({ hostname: "127.0.0.1", port: 0, reusePort: false });
  afterAll(() => app.stop(true));
  const post = (body: string | ReadableStream<Uint8Array>, auth = true) =>
    fetch(`http://127.0.0.1:${app.server!.port}/outbound/call`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${token}` } : {}) },
      body,
    });
  const json = (pad: number) =>
    JSON.stringify({ phone_number: "+14155550123", opening_reason: "a test", objective: "none", metadata: { pad: "a".repeat(pad) } });

  test("a body within the limit reaches the route", async () => {
    const res = await post(json(MAX_BODY_BYTES - 200));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe("outbound_disabled");
  });

  test("a larger body with Content-Length gets 413 and a message naming the limit", async () => {
    const res = await post(json(MAX_BODY_BYTES + 1));
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: "payload_too_large",
      message: `request body of ${json(MAX_BODY_BYTES + 1).length} bytes; at most ${MAX_BODY_BYTES} are accepted`,
    });
  });

  test("a larger chunked body (no Content-Length) is refused too", async () => {
    const chunk = new TextEncoder().encode("a".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ < 4 * 1024) c.enqueue(chunk);
        else c.close();
      },
    });
    const res = await post(stream);
    expect(res.status).toBe(413);
    expect(sent).toBeLessThan(4 * 1024); // the 64 MB were not all read
  });

  // Under Bun's own 1 MB limit a chunked body used to be read whole and parsed (here: 403 from the route).
  test("a chunked body over MAX_BODY_BYTES (under 1 MB) gets 413 with a message, the rest unread", async () => {
    const body = new TextEncoder().encode(json(4 * MAX_BODY_BYTES));
    let offset = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (offset >= body.length) return c.close();
        c.enqueue(body.subarray(offset, offset + 8192));
        offset += 8192;
      },
    });
    const res = await post(stream);
    expect(res.status).toBe(413);
    expect(res.headers.get("connection")).toBe("close");
    const err = (await res.json()) as { error: string; message: string };
    expect(err.error).toBe("payload_too_large");
    expect(err.message).toContain(`at most ${MAX_BODY_BYTES} are accepted`);
  });

  test("a small chunked body is parsed as JSON and reaches the route", async () => {
    const body = new TextEncoder().encode(json(100));
    const res = await post(new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(body), c.close()) }));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe("outbound_disabled");
  });

  test("a chunked body that is not JSON gets 400 parse", async () => {
    const body = new TextEncoder().encode("{not json");
    const res = await post(new ReadableStream<Uint8Array>({ start: (c) => (c.enqueue(body), c.close()) }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("parse");
  });

  test("without the token: 401 first", async () => {
    expect((await post(json(MAX_BODY_BYTES + 1), false)).status).toBe(401);
  });
});
