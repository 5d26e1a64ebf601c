import { describe, expect, test } from "bun:test";
import { CallEventHub } from "../../src/call/events";
import { eventsObserver } from "../../src/call/observer";
import { createApp } from "../../src/http/app";
import { CallStore, type CallRecord } from "../../src/pipeline/call-record";

function record(id: string, over: Partial<CallRecord> = {}): CallRecord {
  return {
    id,
    sipCallId: `${id}@127.0.0.1`,
    direction: "inbound",
    from: "sip:+15551230001@127.0.0.1",
    to: "sip:agent@127.0.0.1",
    state: "ringing",
    startedAt: new Date().toISOString(),
    turns: [],
    bargeIns: 0,
    ...over,
  };
}

const parse = (frame: string | null) => {
  if (frame === null) return null;
  const type = /^event: (.+)$/m.exec(frame)![1];
  return { type, data: JSON.parse(/^data: (.+)$/m.exec(frame)![1]!) };
};

describe("CallEventHub", () => {
  test("a subscriber gets a snapshot of live calls, then the call's events in order", async () => {
    const hub = new CallEventHub();
    const obs = eventsObserver(hub);
    const a = record("a");
    obs.callStarted(a);
    const sub = hub.subscribe()!;
    expect(parse(await sub.next())).toEqual({ type: "snapshot", data: { calls: [expect.objectContaining({ id: "a", state: "ringing" })] } });
    a.state = "connected";
    obs.callAnswered(a);
    obs.interim!(a, "hello th");
    const heard = { index: 1, speaker: "agent" as const, text: "Sure, the", at: new Date().toISOString(), interrupted: true, generatedText: "Sure, the shop opens at nine.", latency: { finalTranscriptMs: 200, firstTokenMs: 500, firstAudioMs: 700, firstRtpMs: 720 } };
    obs.bargeIn(a);
    obs.turn(a, heard);
    obs.callEnded(a, "remote_bye");
    const got = [];
    for (let i = 0; i < 5; i++) got.push(parse(await sub.next()));
    expect(got.map((e) => e!.type)).toEqual(["call", "interim", "bargeIn", "turn", "call"]);
    expect(got[0]!.data.call.state).toBe("connected");
    expect(got[1]!.data).toMatchObject({ callId: "a", text: "hello th" });
    expect(got[3]!.data.turn).toEqual(heard);
    expect(hub.liveCalls()).toEqual([]);
  });

  test("a call filter passes only that call's events; the snapshot carries its turns so far", async () => {
    const hub = new CallEventHub();
    const obs = eventsObserver(hub);
    const a = record("a", { state: "connected", turns: [{ index: 0, speaker: "agent", text: "Hello.", at: new Date().toISOString() }] });
    const b = record("b");
    obs.callStarted(a);
    obs.callStarted(b);
    const sub = hub.subscribe({ callId: "a" })!;
    expect(parse(await sub.next())!.data.turns).toEqual(a.turns);
    obs.interim!(b, "not this one");
    obs.interim!(a, "this one");
    expect(parse(await sub.next())!.data).toMatchObject({ callId: "a", text: "this one" });
    expect(sub.queued).toBe(0);
  });

  test("a slow subscriber is dropped (bounded queue), never waited for; others keep their events", async () => {
    const hub = new CallEventHub(8);
    const obs = eventsObserver(hub);
    const a = record("a");
    obs.callStarted(a);
    const slow = hub.subscribe()!;
    const fast = hub.subscribe()!;
    const fastGot: string[] = [];
    for (let i = 0; i < 20; i++) {
      obs.interim!(a, `word ${i}`);
      const f = parse(await fast.next());
      fastGot.push(f!.type);
    }
    expect(slow.isClosed).toBe(true);
    expect(hub.dropped).toBe(1);
    expect(hub.subscriberCount).toBe(1);
    const frames = [];
    for (let f = await slow.next(); f !== null; f = await slow.next()) frames.push(parse(f)!.type);
    expect(frames.length).toBe(9); // snapshot + 7 events + the final "dropped"
    expect(frames.at(-1)).toBe("dropped");
    expect(fastGot.filter((t) => t === "interim").length).toBe(19); // the first read was the snapshot
  });

  test("subscribers are capped: past maxSubscribers subscribe refuses; a closed one frees its place", () => {
    const hub = new CallEventHub(8, 3);
    const subs = [hub.subscribe(), hub.subscribe(), hub.subscribe()];
    expect(subs.every((s) => s !== undefined)).toBe(true);
    expect(hub.subscribe()).toBeUndefined();
    expect(hub.subscriberCount).toBe(3);
    subs[1]!.close();
    expect(hub.subscriberCount).toBe(2);
    expect(hub.subscribe()).toBeDefined();
    expect(hub.subscribe()).toBeUndefined();
  });

  test("publishing without subscribers does not serialize (nothing kept)", () => {
    const hub = new CallEventHub();
    const a = record("a");
    let reads = 0;
    const spy = new Proxy(a, { get: (t, k) => (k === "bargeIns" && reads++, Reflect.get(t, k)) });
    hub.started(spy);
    expect(reads).toBe(0);
    expect(hub.liveCalls().length).toBe(1);
  });
});

describe("GET /events and the page", () => {
  const token = "page-token-0123456789abc";
  const hub = new CallEventHub();
  const store = new CallStore();
  const app = createApp({ store, apiToken: token, events: hub, health: { version: "1", mode: "inbound", providers: { stt: "a", llm: "b", tts: "c" } } });
  const req = (path: string, auth = true) =>
    app.handle(new Request(`http://localhost${path}`, { headers: auth ? { authorization: `Bearer ${token}` } : {} }));

  test("the event stream and the call data refuse access without the token; the static shell does not hold data", async () => {
    expect((await req("/events", false)).status).toBe(401);
    expect((await req("/calls", false)).status).toBe(401);
    expect((await req("/calls/x", false)).status).toBe(401);
    const page = await req("/ui", false);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    expect(html).toContain('id="login"');
    expect(html).not.toContain("cdn");
    expect((await req("/ui/app.js", false)).headers.get("content-type")).toContain("javascript");
    expect(hub.subscriberCount).toBe(0);
  });

  test("with the token: text/event-stream with the snapshot, then live events; closing unsubscribes", async () => {
    const res = await req("/events");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    expect(dec.decode((await reader.read()).value)).toStartWith("event: snapshot\n");
    const a = record("z");
    eventsObserver(hub).callStarted(a);
    expect(dec.decode((await reader.read()).value)).toContain('"id":"z"');
    await reader.cancel();
    expect(hub.subscriberCount).toBe(0);
  });

  test("GET /calls searches recent calls by number and day; a bad parameter is a 400 naming it", async () => {
    const day = new Date().toISOString().slice(0, 10);
    store.add(record("c1", { from: "sip:+15550001111@x" }));
    store.add(record("c2", { from: "sip:+15559992222@x" }));
    store.end("c1", "remote_bye");
    store.end("c2", "remote_bye");
    const search = async (q: string) => ((await (await req(`/calls?${q}`)).json()) as any).recent.map((r: CallRecord) => r.id);
    expect(await search("q=0001111")).toEqual(["c1"]);
    expect(await search(`q=555&day=${day}`)).toEqual(["c2", "c1"]);
    expect(await search("day=1999-01-01")).toEqual([]);
    const bad = await req("/calls?day=yesterday");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).message).toStartWith("day:");
    // Shaped like a date but not one: 400 too (it was 200 with an empty list, as if no call matched).
    for (const d of ["2026-13-45", "2026-02-30", "2026-00-10"]) {
      const r = await req(`/calls?day=${d}`);
      expect(r.status).toBe(400);
      expect(((await r.json()) as any).message).toBe(`day: expected a date YYYY-MM-DD, got "${d}"`);
    }
  });
});

describe("DTMF and tool calls reach the stream through the combined observer", () => {
  test("dtmf and tool events, in order; a throwing observer does not stop the others", async () => {
    const { combineObservers } = await import("../../src/call/observer");
    const hub = new CallEventHub();
    const errors: unknown[] = [];
    const broken = { ...eventsObserver(new CallEventHub()), dtmf: () => { throw new Error("full disk"); } };
    const obs = combineObservers({ error: (o: unknown) => errors.push(o) } as any, broken, eventsObserver(hub));
    const a = record("a");
    obs.callStarted(a);
    const sub = hub.subscribe({ callId: "a" })!;
    await sub.next(); // snapshot
    obs.dtmf!(a, "5");
    obs.toolCall!(a, "end_call", { reason: "booked" });
    obs.saying!(a, "Certainly.");
    expect(parse(await sub.next())).toEqual({ type: "dtmf", data: expect.objectContaining({ callId: "a", key: "5" }) });
    expect(parse(await sub.next())).toEqual({ type: "tool", data: expect.objectContaining({ name: "end_call", args: { reason: "booked" } }) });
    expect(parse(await sub.next())).toEqual({ type: "saying", data: expect.objectContaining({ callId: "a", text: "Certainly." }) });
    expect(errors.length).toBe(1);
  });
});

describe("logObserver", () => {
  test("one 'agent turn' line per agent reply: our callId, the SIP Call-ID, latency, cut, cost; the words under pii", async () => {
    const { logObserver } = await import("../../src/call/observer");
    const lines: Array<[any, string]> = [];
    const log = { info: (o: any, msg: string) => lines.push([o, msg]) } as any;
    const obs = logObserver(log);
    const a = record("a");
    obs.turn(a, { index: 1, speaker: "caller", text: "hi", at: new Date().toISOString() });
    obs.turn(a, {
      index: 2,
      speaker: "agent",
      text: "Sure, the",
      generatedText: "Sure, the shop opens at nine.",
      interrupted: true,
      at: new Date().toISOString(),
      latency: { finalTranscriptMs: 200, firstTokenMs: 500, firstAudioMs: 700, firstRtpMs: 720 },
      usage: { llmInputTokens: 10, llmOutputTokens: 7, ttsChars: 29 },
    });
    expect(lines.length).toBe(1);
    const [o, msg] = lines[0]!;
    expect(msg).toBe("agent turn");
    expect(o).toMatchObject({ callId: "a", sipCallId: "a@127.0.0.1", turn: 2, interrupted: true, latencyMs: { firstRtpMs: 720 }, usage: { ttsChars: 29 } });
    expect(o.pii).toEqual({ text: "Sure, the", generatedText: "Sure, the shop opens at nine." });
    expect(JSON.stringify({ ...o, pii: undefined })).not.toContain("shop");
  });
});

describe("the live list's states: on hold and transferring", () => {
  test("hold, a transfer under way and its end reach the stream as `call` events, in order", async () => {
    const { CallSession } = await import("../../src/call/session");
    const { transferHook } = await import("../../src/call/transfer");
    const { FakeClock } = await import("../../src/util/clock");
    const { silentLogger } = await import("../../src/util/log");
    const hub = new CallEventHub();
    const clock = new FakeClock();
    const rec = record("a");
    const { combineObservers, storeObserver } = await import("../../src/call/observer");
    const observer = combineObservers(silentLogger, storeObserver(new CallStore()), eventsObserver(hub)); // as in agent-server.ts
    const session = new CallSession({ record: rec, observer, log: silentLogger, clock, sip: { hangup: async () => {} } });
    const sub = hub.subscribe()!;
    await sub.next(); // snapshot
    session.holdLease({ port: 40000, host: "127.0.0.1", socket: null as never, onPacket: null, onError: null, released: false, release() {} } as never);
    session.answered();
    let hooks!: import("../../src/call/session").MediaHooks;
    session.startMedia((_lease, h) => ((hooks = h), { start() {}, close() {} }));
    // The peer holds the call (src/call/media.ts renegotiate sets record.onHold), then resumes.
    rec.onHold = true;
    hooks.onRecordChanged();
    delete rec.onHold;
    hooks.onRecordChanged();
    hooks.onRecordChanged(); // nothing changed: no event
    // A transfer by REFER (src/call/transfer.ts): 202, then the final NOTIFY 200.
    let notify!: (n: { status: number | undefined; terminated: boolean }) => void;
    const transfer = transferHook({
      call: { refer: async () => 202, on: (_e, fn) => ((notify = fn), () => {}) },
      targets: new Map([["desk", "sip:desk@127.0.0.1"]]),
      peerHost: "127.0.0.1",
      clock,
      record: rec,
      onRecordChanged: hooks.onRecordChanged,
      log: silentLogger,
    })!;
    const done = transfer.run("desk");
    await Promise.resolve();
    notify({ status: 200, terminated: true });
    expect(await done).toBe(true);
    session.release("remote_bye");
    const states: string[] = [];
    for (let f = sub.queued; f > 0; f--) {
      const c = parse(await sub.next())!.data.call;
      states.push(c.state === "connected" ? (c.transferring ? "transferring" : c.onHold ? "on hold" : "talking") : c.state);
    }
    // Transferred: "transferring" until the call ends (the agent hangs up at once).
    expect(states).toEqual(["talking", "on hold", "talking", "transferring", "transferring", "ended"]);
    expect(rec.onHold).toBeUndefined();
    expect(rec.transfer?.outcome).toBe("transferred");
    // A transfer that failed leaves the caller with the agent: talking again.
    const { summarize } = await import("../../src/call/events");
    const failed = record("b", { state: "connected", transfer: { target: "desk", method: "refer", outcome: "failed", finalStatus: 486, startedAt: new Date().toISOString() } });
    expect(summarize(failed).transferring).toBeUndefined();
    expect(summarize({ ...failed, transfer: { ...failed.transfer!, outcome: "pending" } }).transferring).toBe(true);
    // REFER refused, the agent bridged the caller to the target (TRANSFER_FALLBACK=bridge): "bridged" until the bridge ends.
    const bridged = { ...failed, transfer: { ...failed.transfer!, method: "bridge" as const, outcome: "bridged" as const, bridgedAt: new Date().toISOString() } };
    expect(summarize(bridged)).toMatchObject({ bridged: true, transferring: undefined });
    expect(summarize({ ...bridged, transfer: { ...bridged.transfer, endedAt: new Date().toISOString() } }).bridged).toBeUndefined();
  });
});
