/**
 * One behavioural suite over both call stores: SQLite (DATA_DIR/calls.db, the default) and PostgreSQL
 * (DATABASE_URL, a throwaway PostgreSQL 15 cluster). What a record is after reopening, the final
 * transcript, listing and its filters, restart recovery, and what differs by design for a fleet
 * (PostgreSQL: one agent's recovery leaves another agent's live calls alone; every agent lists all).
 * PostgreSQL only: versioned migrations, a server restart while writes are queued loses nothing, and an
 * unreachable server fails start-up with a message naming DATABASE_URL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import type { CallRecord } from "../../src/pipeline/call-record";
import { outbound, turn } from "./records";
import { PgCallStore, PG_SCHEMA_VERSION, SqliteCallStore, StoreError, storeTotals } from "../../src/store";
import { hasPostgres, startPostgres, type TestPostgres } from "../support/postgres.ts";
import { freeTcpPort } from "../support/ports.ts";

type AnyStore = SqliteCallStore | PgCallStore;

interface Subject {
  name: string;
  skip: boolean;
  /** A fresh, empty place for records (a directory, a database). */
  fresh(): Promise<string>;
  open(where: string, o?: { now?: () => Date; agentId?: string }): Promise<AnyStore>;
  /** Until every write so far has landed. */
  settle(s: AnyStore): Promise<void>;
}

const dirs: string[] = [];
let pg: TestPostgres | undefined;
let dbs = 0;
beforeAll(async () => {
  if (hasPostgres) pg = await startPostgres();
}, 90_000);
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await pg?.destroy();
});

const subjects: Subject[] = [
  {
    name: "SQLite",
    skip: false,
    async fresh() {
      const d = mkdtempSync(join(tmpdir(), "va-store-b-"));
      dirs.push(d);
      return d;
    },
    open: async (dir, o = {}) => SqliteCallStore.open({ dir, now: o.now }),
    settle: async () => undefined,
  },
  {
    name: "PostgreSQL",
    skip: !hasPostgres,
    fresh: () => pg!.createDb(`b${++dbs}`),
    open: (url, o = {}) => PgCallStore.open({ url, agentId: o.agentId ?? "agent-a", now: o.now }),
    settle: async (s) => {
      expect(await (s as PgCallStore).flush(10_000)).toBe(0);
    },
  },
];

for (const subject of subjects) {
  describe.skipIf(subject.skip)(`call store behaviour: ${subject.name}`, () => {
    test("a record reads back field for field after reopening (metadata, cause, latency, interrupted turns, AMD)", async () => {
      const where = await subject.fresh();
      const a = await subject.open(where);
      const r = outbound("c2");
      a.add(r);
      r.state = "connected";
      r.status = "connected";
      r.ringingAt = "2026-11-29T10:00:01.000Z";
      r.answeredAt = "2026-11-29T10:00:02.000Z";
      r.codec = "PCMA";
      r.bargeIns = 1;
      r.bargeInPauses = { resumed: 2, cut: 1, resumedMs: 610, maxResumedMs: 340 };
      r.rtcp = { fractionLost: 0.0390625, cumulativeLost: 3, jitterMs: 2.5, rttMs: 41.2 };
      r.amd = {
        result: "machine",
        reason: "long_greeting",
        decidedAt: "2026-11-29T10:00:05.000Z",
        afterMs: 2900,
        action: "message",
        beepAt: "2026-11-29T10:00:11.000Z",
        beepHz: 1000,
        beepMs: 400,
        messageAfter: "beep",
        messageLeft: true,
      };
      a.save(r);
      r.turns.push(turn(0, "agent", "Hello there", { interrupted: true, generatedText: "Hello there, how are you today?" }));
      a.addTurn(r.id, r.turns[0]!);
      r.turns.push(turn(1, "caller", "Busy", { latency: { finalTranscriptMs: 120 } }));
      r.turns.push(turn(2, "agent", "Sorry", { error: "llm unavailable: 503", latency: { firstTokenMs: 5 } }));
      r.turns.push(turn(3, "agent", "Sorry, I had a problem just now.", { tts: "flite (fallback)" }));
      r.hangupCause = { code: 486, reason: "Busy Here", source: "remote" };
      r.status = "busy";
      a.end("c2", "rejected", new Date("2026-11-29T10:00:12.000Z"));
      const live = structuredClone(r);
      expect(await a.get("c2")).toEqual(live); // at once, even before the write landed
      await a.close();

      const b = await subject.open(where);
      expect(await b.get("c2")).toEqual(live);
      expect(await b.get("nope")).toBeUndefined();
      await b.close();
    });

    test("end() stores exactly the final transcript (a turn the conversation withdrew is removed)", async () => {
      const where = await subject.fresh();
      const s = await subject.open(where);
      const r = outbound("c3");
      s.add(r);
      for (const x of [turn(0, "agent", "Hi"), turn(1, "caller", "so I was")]) {
        r.turns.push(x);
        s.addTurn(r.id, x);
      }
      await subject.settle(s);
      r.turns.pop(); // AgentCall merges a caller turn into a longer one: the record drops it
      s.end("c3", "local_bye");
      await subject.settle(s);
      await s.close();
      const again = await subject.open(where);
      expect((await again.get("c3"))!.turns.map((x) => x.text)).toEqual(["Hi"]);
      await again.close();
    });

    test("list: live calls first, ended calls newest first, filters and limit; both directions", async () => {
      const s = await subject.open(await subject.fresh());
      for (let i = 0; i < 5; i++) {
        const r = outbound(`o${i}`, `2026-11-29T10:0${i}:00.000Z`);
        s.add(r);
        r.status = i % 2 ? "busy" : "completed";
        s.end(r.id, "x");
      }
      const inbound: CallRecord = { ...outbound("in1", "2026-11-29T11:00:00.000Z"), direction: "inbound", status: undefined };
      s.add(inbound);
      s.end("in1", "remote_bye");
      const live = outbound("live", "2026-11-29T12:00:00.000Z");
      s.add(live);
      for (const settled of [false, true]) {
        if (settled) await subject.settle(s);
        expect((await s.list()).active.map((r) => r.id)).toEqual(["live"]);
        expect((await s.list()).recent.map((r) => r.id)).toEqual(["in1", "o4", "o3", "o2", "o1", "o0"]);
        expect((await s.list({ direction: "outbound", limit: 2 })).recent.map((r) => r.id)).toEqual(["o4", "o3"]);
        expect((await s.list({ status: "busy" })).recent.map((r) => r.id)).toEqual(["o3", "o1"]);
        expect((await s.list({ direction: "inbound" })).active).toEqual([]);
      }
      expect(await s.count()).toBe(7);
      expect(s.activeCount).toBe(1);
      await s.close();
    });

    test("calls left live by a process that never closed the store are ended with reason restart", async () => {
      const where = await subject.fresh();
      const clock = { t: Date.parse("2026-11-29T10:00:00.000Z") };
      const now = () => new Date(clock.t);
      const a = await subject.open(where, { now });
      const ringing = outbound("ringing");
      a.add(ringing);
      const connected = outbound("connected");
      a.add(connected);
      clock.t += 2000;
      connected.state = "connected";
      connected.status = "connected";
      connected.answeredAt = now().toISOString();
      a.save(connected);
      await subject.settle(a);
      clock.t += 7000;
      const t0 = turn(0, "agent", "Hello");
      connected.turns.push(t0);
      a.addTurn("connected", t0); // last write: 10:00:09
      const done = outbound("done");
      a.add(done);
      done.status = "completed";
      a.end("done", "remote_bye", now());
      await subject.settle(a);
      // No close(): the process "dies" here.

      clock.t += 60_000;
      const b = await subject.open(where, { now });
      expect(b.recovery.ended.sort()).toEqual(["connected", "ringing"]);
      expect(b.activeCount).toBe(0);
      const c = (await b.get("connected"))!;
      expect(c).toMatchObject({
        state: "ended",
        status: "failed",
        endReason: "restart",
        hangupCause: { code: null, reason: "the agent restarted during the call", source: "local" },
      });
      expect(c.endedAt).toBe("2026-11-29T10:00:09.000Z"); // the last write, not the restart time
      expect(c.durationMs).toBe(7000);
      expect(c.turns.map((t) => t.text)).toEqual(["Hello"]);
      expect(await b.get("ringing")).toMatchObject({ state: "ended", status: "failed", endReason: "restart" });
      expect(await b.get("done")).toMatchObject({ state: "ended", status: "completed", endReason: "remote_bye" });
      await b.close();
      const c2 = await subject.open(where, { now });
      expect(c2.recovery.ended).toEqual([]);
      await c2.close();
      if (a instanceof PgCallStore) await a.close(0);
      else a.close();
    });
  });
}

describe.skipIf(!hasPostgres)("PostgreSQL: a fleet's records", () => {
  test("two agents, one database: each lists the other's live and ended calls; recovery ends only its own", async () => {
    const url = await pg!.createDb("fleet");
    const a = await PgCallStore.open({ url, agentId: "a" });
    const b = await PgCallStore.open({ url, agentId: "b" });
    const onA = outbound("on-a", "2026-11-29T10:00:00.000Z");
    a.add(onA);
    const onB = outbound("on-b", "2026-11-29T10:01:00.000Z");
    b.add(onB);
    const endedOnA = outbound("ended-a", "2026-11-29T09:00:00.000Z");
    a.add(endedOnA);
    endedOnA.status = "completed";
    a.end("ended-a", "remote_bye");
    await a.flush();
    await b.flush();
    const seenByB = await b.list();
    expect(seenByB.active.map((r) => r.id)).toEqual(["on-b", "on-a"]); // its own first, then the fleet's
    expect(seenByB.recent.map((r) => r.id)).toEqual(["ended-a"]);
    expect((await b.get("ended-a"))!.status).toBe("completed");
    // Agent a restarts (kill -9: no close). Its live call is ended; b's is not.
    const a2 = await PgCallStore.open({ url, agentId: "a" });
    expect(a2.recovery.ended).toEqual(["on-a"]);
    expect((await a2.get("on-b"))!.state).toBe("ringing");
    await Promise.all([a2.close(), b.close(), a.close(0)]);
  });

  test("versioned migrations: applied once, recorded; agents starting together do not race", async () => {
    const url = await pg!.createDb("migrate");
    const stores = await Promise.all([1, 2, 3].map((i) => PgCallStore.open({ url, agentId: `m${i}` })));
    const sql = new SQL(url);
    const rows = await sql`SELECT version FROM voice_agent_schema ORDER BY version`;
    expect(rows.map((r: { version: number }) => r.version)).toEqual(Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1));
    await sql`INSERT INTO voice_agent_schema (version, applied_at) VALUES (${PG_SCHEMA_VERSION + 1}, 'later')`;
    await sql.close();
    const newer = await PgCallStore.open({ url, agentId: "m4" }).catch((e) => e);
    expect(newer).toBeInstanceOf(StoreError);
    expect((newer as StoreError).code).toBe("newer_schema");
    await Promise.all(stores.map((s) => s.close()));
  });

  test("a server restart while a call writes: every write returns at once, is queued, and lands after", async () => {
    const url = await pg!.createDb("restart");
    const s = await PgCallStore.open({ url, agentId: "r" });
    const r = outbound("through-restart");
    s.add(r);
    await s.flush();
    const queuedBefore = storeTotals.queued;
    await pg!.stop();
    const t0 = performance.now();
    r.state = "connected";
    r.status = "connected";
    s.save(r);
    for (let i = 0; i < 3; i++) {
      r.turns.push(turn(i, i % 2 ? "caller" : "agent", `turn ${i}`));
      s.addTurn(r.id, r.turns[i]!);
    }
    r.status = "completed";
    s.end(r.id, "remote_bye");
    expect(performance.now() - t0).toBeLessThan(50); // no write waited for the database
    await Bun.sleep(300); // the first attempt fails: the server is down
    expect(s.queuedWrites).toBeGreaterThan(0);
    expect(storeTotals.queued).toBeGreaterThan(queuedBefore);
    await pg!.start();
    expect(await s.flush(20_000)).toBe(0);
    await s.close();
    const again = await PgCallStore.open({ url, agentId: "r2" });
    const stored = (await again.get("through-restart"))!;
    expect(stored).toMatchObject({ state: "ended", status: "completed", endReason: "remote_bye" });
    expect(stored.turns.map((t) => t.text)).toEqual(["turn 0", "turn 1", "turn 2"]);
    await again.close();
  }, 60_000);

  test("retention (RECORD_RETENTION_DAYS): ended calls older than the limit go with their turns; recent and live ones stay", async () => {
    const url = await pg!.createDb("retention");
    const now = new Date("2026-12-01T00:00:00.000Z");
    const s = await PgCallStore.open({ url, agentId: "ret", retentionDays: 30, now: () => now });
    const old = outbound("old", "2026-10-01T00:00:00.000Z");
    s.add(old);
    old.turns.push(turn(0, "agent", "Hi"));
    s.end("old", "remote_bye");
    const recent = outbound("recent", "2026-11-25T00:00:00.000Z");
    s.add(recent);
    s.end("recent", "remote_bye");
    const live = outbound("live-old", "2026-10-01T00:00:00.000Z");
    s.add(live);
    await s.flush();
    expect(await s.prune()).toBe(1);
    expect(await s.get("old")).toBeUndefined();
    expect((await s.get("recent"))?.state).toBe("ended");
    expect(await s.count()).toBe(2);
    const sql = new SQL(url);
    expect((await sql`SELECT count(*)::int AS n FROM turns WHERE call_id = 'old'`)[0].n).toBe(0);
    await sql.close();
    await s.close();
  });

  test("an unreachable server fails start-up with StoreError open_failed naming DATABASE_URL (password hidden)", async () => {
    const port = await freeTcpPort();
    const err = await PgCallStore.open({ url: `postgres://u:secret@127.0.0.1:${port}/x`, agentId: "x" }).catch((e) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe("open_failed");
    expect((err as Error).message).toContain("DATABASE_URL");
    expect((err as Error).message).not.toContain("secret");
  }, 30_000);
});
