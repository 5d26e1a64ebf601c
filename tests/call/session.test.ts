/**
 * CallSession (src/call/session.ts) on a fake clock: `end(reason)` records the first reason, ends the
 * SIP side once, releases once and is bounded in time; the port is released on every path; a throw at
 * the boundary (handler, timer, media start) ends the call with "error"; observers see each call start
 * and end exactly once, a failing observer does not stop the others; the record's serving providers are
 * persisted when a fallback changes them (store round trip, GET /calls/:id).
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CallSession, DEFAULT_TEARDOWN_LIMIT_MS, type MediaHooks, type SessionMedia } from "../../src/call/session";
import { combineObservers, storeObserver } from "../../src/call/observer";
import { createApp } from "../../src/http/app";
import type { CallRecord } from "../../src/pipeline/call-record";
import type { RtpPortLease } from "../../src/rtp";
import { SqliteCallStore } from "../../src/store";
import { FakeClock } from "../../src/util/clock";
import { silentLogger } from "../../src/util/log";
import { recordingObserver } from "./support.ts";

function record(): CallRecord {
  return {
    id: crypto.randomUUID(),
    sipCallId: "sip-call-1",
    direction: "inbound",
    from: "sip:+14155550123@198.51.100.1",
    to: "sip:+14155550100@203.0.113.10",
    state: "ringing",
    startedAt: new Date().toISOString(),
    turns: [],
    bargeIns: 0,
    providers: { stt: "deepgram (nova-3)", llm: "gemini (gemini-2.5-flash)", tts: "cartesia (sonic-2)" },
  };
}

function lease(): RtpPortLease & { releases: number } {
  const l = {
    port: 40000,
    host: "127.0.0.1",
    socket: null as never,
    onPacket: null,
    onError: null,
    releases: 0,
    released: false,
    release() {
      l.releases++;
      l.released = true;
    },
  };
  return l;
}

function setup(o: { hangup?: () => Promise<void> } = {}) {
  const clock = new FakeClock();
  const observer = recordingObserver();
  let hangups = 0;
  const rec = record();
  const session = new CallSession({
    record: rec,
    observer,
    log: silentLogger,
    clock,
    sip: {
      hangup: () => {
        hangups++;
        return o.hangup ? o.hangup() : Promise.resolve();
      },
    },
  });
  return { clock, observer, session, rec, hangups: () => hangups };
}

function fakeMedia(): SessionMedia & { started: number; closed: number; hooks?: MediaHooks } {
  const m = {
    started: 0,
    closed: 0,
    hooks: undefined as MediaHooks | undefined,
    start: () => void m.started++,
    close: () => void m.closed++,
    session: { stats: { packetsIn: 10, packetsOut: 12, lost: 0 } },
  };
  return m;
}

describe("end(reason)", () => {
  test("records the first reason, hangs up once, releases once (media closed, observer told once)", async () => {
    const x = setup();
    const l = lease();
    x.session.holdLease(l);
    const m = fakeMedia();
    expect(x.session.startMedia(() => m)).toBe(true);
    const a = x.session.end("end_call");
    const b = x.session.end("error");
    expect(b).toBe(a);
    await a;
    x.session.release("remote_bye");
    expect(x.rec.endReason).toBe("end_call");
    expect(x.hangups()).toBe(1);
    expect(m.closed).toBe(1);
    expect(l.releases).toBe(0); // the media owns the port once started (its close releases it)
    expect(x.observer.events).toEqual(["started inbound", "rtp-stats", "ended end_call"]);
  });

  test("is bounded: a SIP side that never finishes is given up after the teardown limit", async () => {
    const x = setup({ hangup: () => new Promise<void>(() => {}) });
    let done = false;
    void x.session.end("shutdown").then(() => (done = true));
    x.clock.advance(DEFAULT_TEARDOWN_LIMIT_MS - 1);
    await Bun.sleep(0);
    expect(done).toBe(false);
    expect(x.session.isReleased).toBe(true); // local resources are released at once
    x.clock.advance(1);
    await Bun.sleep(0);
    expect(done).toBe(true);
  });

  test("a call ended before media releases the held port; a port arriving after the end is released at once", () => {
    const x = setup();
    const l1 = lease();
    x.session.holdLease(l1);
    x.session.release("canceled");
    expect(l1.releases).toBe(1);
    const l2 = lease();
    expect(x.session.holdLease(l2)).toBe(false);
    expect(l2.releases).toBe(1);
    expect(x.session.startMedia(() => fakeMedia())).toBe(false);
    expect(x.observer.events).toEqual(["started inbound", "ended canceled"]);
  });
});

describe("the call boundary", () => {
  test("media that throws while starting: ended with error, the port released", async () => {
    const x = setup();
    const l = lease();
    x.session.holdLease(l);
    expect(
      x.session.startMedia(() => {
        throw new Error("no VAD stream");
      }),
    ).toBe(false);
    expect(l.releases).toBe(1);
    expect(x.rec.endReason).toBe("error");
    expect(x.observer.events).toEqual(["started inbound", "ended error"]);
  });

  test("a guarded handler's throw and a guarded handler's rejection each end the call with error", async () => {
    const a = setup();
    a.session.guard("ack", () => {
      throw new TypeError("boom");
    })();
    expect(a.rec.endReason).toBe("error");
    const b = setup();
    b.session.guard("re-invite", async () => {
      await Bun.sleep(1);
      throw new TypeError("later boom");
    })();
    expect(b.session.isReleased).toBe(false);
    await Bun.sleep(10);
    expect(b.rec.endReason).toBe("error");
    expect(b.observer.events.at(-1)).toBe("ended error");
  });

  test("a timer of the call that throws ends the call, not the process", () => {
    const x = setup();
    x.session.clock.setTimer(100, () => {
      throw new Error("idle timer bug");
    });
    x.clock.advance(100);
    expect(x.rec.endReason).toBe("error");
    expect(x.session.isReleased).toBe(true);
  });

  test("the media's own onError hook ends the call with error", () => {
    const x = setup();
    x.session.holdLease(lease());
    const m = fakeMedia();
    x.session.startMedia((_l, hooks) => ((m.hooks = hooks), m));
    m.hooks!.onError(new Error("conversation failed"));
    expect(x.rec.endReason).toBe("error");
    expect(m.closed).toBe(1);
  });
});

describe("observers", () => {
  test("one failing observer is logged and skipped; the others still see every event", () => {
    const seen = recordingObserver();
    const failing = { ...recordingObserver(), callEnded: () => { throw new Error("disk full"); } };
    const combined = combineObservers(silentLogger, failing, seen);
    const clock = new FakeClock();
    const s = new CallSession({ record: record(), observer: combined, log: silentLogger, clock, sip: { hangup: async () => {} } });
    s.release("remote_bye");
    expect(seen.events).toEqual(["started inbound", "ended remote_bye"]);
  });

  test("the provider serving a stage after a fallback is persisted and shown by GET /calls/:id", async () => {
    const dir = mkdtempSync(join(tmpdir(), "va-call-session-"));
    try {
      const store = SqliteCallStore.open({ dir, log: silentLogger });
      const rec = record();
      const s = new CallSession({ record: rec, observer: storeObserver(store), log: silentLogger, clock: new FakeClock(), sip: { hangup: async () => {} } });
      s.holdLease(lease());
      const m = fakeMedia();
      s.startMedia((_l, hooks) => ((m.hooks = hooks), m));
      // The conversation switched STT to the offline recogniser after Deepgram failed (src/pipeline).
      rec.providers = { ...rec.providers!, stt: "pocketsphinx (offline)" };
      m.hooks!.onProviderError(new Error("deepgram unreachable"));
      // In the database already (not only in memory), while the call is still up.
      const db = new Database(join(dir, "calls.db"), { readonly: true });
      const row = db.query("SELECT providers FROM calls WHERE id = ?").get(rec.id) as { providers: string };
      db.close();
      expect(JSON.parse(row.providers).stt).toBe("pocketsphinx (offline)");
      s.release("remote_bye");
      const app = createApp({ store, apiToken: undefined, health: { version: "t", mode: "inbound", providers: rec.providers!, sip: { host: "127.0.0.1", port: 5060, publicIp: "127.0.0.1" }, stats: () => ({}) } } as never);
      const res = await app.handle(new Request(`http://127.0.0.1/calls/${rec.id}`));
      expect(res.status).toBe(200);
      const body = (await res.json()) as CallRecord;
      expect(body.providers).toEqual({ stt: "pocketsphinx (offline)", llm: "gemini (gemini-2.5-flash)", tts: "cartesia (sonic-2)" });
      expect(body.endReason).toBe("remote_bye");
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
