/**
 * calls.db locked by another process while a call runs (compiled agent): the call is answered, runs and
 * ends normally, the agent reports the store once, and the record is in the database once the lock is
 * gone — nothing waited on the lock, nothing was lost.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { spawnManaged } from "../support/process.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const started: RunningAgent[] = [];
afterAll(async () => {
  await Promise.all(started.map((a) => a.stop().catch(() => null)));
});

describe.skipIf(!Bun.which("sipp") || !Bun.which("sqlite3"))("calls.db unavailable", () => {
  test("another process holds the write lock during a call: the call completes; its record lands after the lock is released", async () => {
    const agent = await startAgent();
    started.push(agent);
    const db = join(agent.dataDir, "calls.db");
    // Another process holds the database's write lock: an operator's sqlite3 session in a transaction.
    // (The holder is the sqlite3 CLI, not Bun: two Bun processes were seen not to lock each other out of
    // a WAL database on this machine; the DATA_DIR lock keeps two agents apart.)
    const holder = spawnManaged(["sh", "-c", `(echo "BEGIN EXCLUSIVE; SELECT 'locked';"; sleep 600) | sqlite3 ${JSON.stringify(db)}`], { name: "sqlite3 lock holder" });
    await holder.waitForLine(/locked/, { timeoutMs: 10_000 });
    const t0 = performance.now();
    const r = await runSipp({ scenario: "inbound-call", target: `127.0.0.1:${agent.sipPort}`, audioFile: silenceFile(2), pauseMs: 2500, timeoutMs: 20_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0); // INVITE/200/ACK … BYE/200: the call was served
    expect(performance.now() - t0).toBeLessThan(15_000);
    const ok200 = r.messages.find((m) => m.direction === "received" && m.status === 200 && /CSeq: 1 INVITE/i.test(m.text));
    expect(ok200).toBeDefined();
    await waitFor(async () => (await agent.get("/")).activeCalls === 0, 10_000, "the call to end");
    const logs = agent.logs();
    expect(logs.filter((l) => l.msg === "call store unavailable: writes queued, calls go on")).toHaveLength(1);
    expect(logs.find((l) => l.msg === "call store unavailable: writes queued, calls go on")).toMatchObject({ code: expect.stringMatching(/^SQLITE_BUSY/) });
    const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
    expect(Number(/voice_agent_store_writes_total\{outcome="queued"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);

    // Release the lock (the holder exits; its open transaction wrote nothing): the queued writes go in
    // (retry backoff tops out at 5 s).
    await holder.stop({ signal: "SIGKILL" });
    await waitFor(() => agent.logs().some((l) => l.msg === "call store writes resumed"), 15_000, "the writes to resume");
    const calls = await agent.get("/calls");
    expect(calls.recent).toHaveLength(1);
    expect(calls.recent[0]).toMatchObject({ state: "ended", endReason: "remote_bye" });
    expect(calls.recent[0].turns.length).toBeGreaterThanOrEqual(1);
  }, 90_000);

  test("the WAL checkpoint worker runs in the compiled binary: an ended call reaches calls.db itself within a few checkpoint periods, and no fallback is logged", async () => {
    // Without the worker SQLite checkpoints only every 1,000 WAL pages (one call writes a few dozen), so the
    // main file alone would not hold this call until shutdown. A copy of calls.db without its -wal reads
    // only what a checkpoint copied in (src/store/wal-checkpointer.ts: every 5 s).
    const agent = await startAgent();
    started.push(agent);
    const r = await runSipp({ scenario: "inbound-call", target: `127.0.0.1:${agent.sipPort}`, audioFile: silenceFile(1), pauseMs: 1500, timeoutMs: 20_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    await waitFor(async () => (await agent.get("/")).activeCalls === 0, 10_000, "the call to end");
    const scratch = mkdtempSync(join(tmpdir(), "va-walcp-e2e-"));
    try {
      const endedInMainFile = () => {
        const copy = join(scratch, `calls-${Date.now()}.db`);
        try {
          copyFileSync(join(agent.dataDir, "calls.db"), copy); // the main file only: no -wal beside the copy
          const db = new Database(copy, { readonly: true });
          try {
            return (db.query("SELECT count(*) AS n FROM calls WHERE state = 'ended'").get() as { n: number }).n === 1;
          } finally {
            db.close();
          }
        } catch {
          return false; // copied mid-checkpoint: try again
        } finally {
          rmSync(copy, { force: true });
        }
      };
      await waitFor(endedInMainFile, 20_000, "the ended call in calls.db without its WAL");
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    expect(agent.logs().filter((l) => /WAL checkpoint worker failed/.test(String(l.msg)))).toEqual([]);
  }, 60_000);
});
