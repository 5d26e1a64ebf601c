/**
 * Shared call records for a fleet, on compiled agents: two agents write to one PostgreSQL database
 * (DATABASE_URL); a call answered by agent A is listed by agent B, live and then ended with its turns;
 * PostgreSQL down from the middle of a call until after its end loses no completed record.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { hasPostgres, startPostgres, type TestPostgres } from "../support/postgres.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const ready = hasPostgres && !!Bun.which("sipp");
const started: RunningAgent[] = [];
let pg: TestPostgres | undefined;
beforeAll(async () => {
  if (ready) pg = await startPostgres();
}, 90_000);
afterAll(async () => {
  await Promise.all(started.map((a) => a.stop().catch(() => null)));
  await pg?.destroy();
});

describe.skipIf(!ready)("a fleet's calls in PostgreSQL (compiled agents)", () => {
  test("a call on agent A is listed by agent B, live then ended; a PostgreSQL restart mid-call loses nothing", async () => {
    const url = await pg!.createDb("fleet_e2e");
    const a = await startAgent({ DATABASE_URL: url, AGENT_ID: "agent-a" });
    const b = await startAgent({ DATABASE_URL: url, AGENT_ID: "agent-b" });
    started.push(a, b);
    const call = runSipp({ scenario: "inbound-call", target: `127.0.0.1:${a.sipPort}`, audioFile: silenceFile(2), pauseMs: 7000, timeoutMs: 40_000 });
    // Live on A, seen by B (as A last wrote it).
    const seen = await waitFor(async () => (await b.get("/calls")).active.find((c: any) => c.state === "connected"), 20_000, "B to list A's live call");
    expect((await a.get("/calls")).active.map((c: any) => c.id)).toEqual([seen.id]);
    // PostgreSQL goes away while the call is up and comes back only after it ended: the end (row and
    // turns) waits in A's queue. Meanwhile B cannot list the fleet's calls: 503, not an empty list.
    await pg!.stop();
    const r = await call;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const down = await fetch(`http://127.0.0.1:${b.httpPort}/calls`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as any).error).toBe("store_unavailable");
    expect((await a.get(`/calls/${seen.id}`)).state).toBe("ended"); // A serves its own from memory
    await waitFor(() => a.logs().some((l) => l.msg === "call store unavailable: writes queued, calls go on"), 10_000, "A to queue");
    await pg!.start();
    const ended = await waitFor(
      async () => (await b.get("/calls")).recent.find((c: any) => c.id === seen.id && c.state === "ended"),
      30_000,
      "B to list the ended call",
    );
    expect(ended.endReason).toBe("remote_bye");
    expect(ended.turns.length).toBeGreaterThan(0); // the greeting at least
    expect(ended.turns[0].speaker).toBe("agent");
    expect(await b.get(`/calls/${seen.id}`)).toMatchObject({ id: seen.id, state: "ended" });
    // And the other way round, after the restart: a call on B is listed by A.
    const r2 = await runSipp({ scenario: "inbound-call", target: `127.0.0.1:${b.sipPort}`, audioFile: silenceFile(1), pauseMs: 1500, timeoutMs: 30_000 });
    expect(r2.exitCode, describeSipp(r2)).toBe(0);
    const both = await waitFor(async () => {
      const l = await a.get("/calls");
      return l.recent.length === 2 ? l : undefined;
    }, 30_000, "A to list both calls");
    expect(both.recent.every((c: any) => c.state === "ended")).toBe(true);
    expect(a.logs().some((l) => l.msg === "call store writes resumed")).toBe(true);
    for (const ag of [a, b]) expect(await ag.stop()).toBe(0);
  }, 150_000);

  test("kill -9 of an agent mid-call: after its restart the call is ended (restart) in the shared records; the other agent's calls are untouched", async () => {
    const url = await pg!.createDb("fleet_kill");
    const a = await startAgent({ DATABASE_URL: url, AGENT_ID: "agent-a" });
    const b = await startAgent({ DATABASE_URL: url, AGENT_ID: "agent-b" });
    started.push(a, b);
    // Killed with its agent (~1–3 s in); nothing is checked of this caller, so SIPp is stopped at 10 s
    // (it was 15 s, 5 s of the file spent waiting for a BYE to a dead agent to go unanswered).
    const onA = runSipp({ scenario: "inbound-call", target: `127.0.0.1:${a.sipPort}`, audioFile: silenceFile(2), pauseMs: 8000, timeoutMs: 10_000 });
    const onB = runSipp({ scenario: "inbound-call", target: `127.0.0.1:${b.sipPort}`, audioFile: silenceFile(2), pauseMs: 6000, timeoutMs: 40_000 });
    const live = await waitFor(async () => {
      const l = await b.get("/calls");
      return l.active.length === 2 && l.active.every((c: any) => c.state === "connected") ? l.active : undefined;
    }, 20_000, "both calls connected, as B sees them");
    // Which call is A's: the one A has logged and B has not. Logs reach the test asynchronously, so a
    // call whose log lines have not arrived yet is neither's: wait until each agent has logged exactly one
    // (picking "not in B's logs" alone once took B's own call, whose lines were still on their way).
    const idOnA = await waitFor(() => {
      const logged = (ag: typeof a) => live.filter((c: any) => ag.logs().some((x) => x.callId === c.id));
      const [onA, onB] = [logged(a), logged(b)];
      return onA.length === 1 && onB.length === 1 && onA[0].id !== onB[0].id ? (onA[0].id as string) : undefined;
    }, 10_000, "each agent's log naming its own call");
    a.proc.signal("SIGKILL");
    await a.proc.exited;
    const a2 = await startAgent({ DATABASE_URL: url, AGENT_ID: "agent-a" });
    started.push(a2);
    expect(a2.logs().some((l) => l.msg === "calls left live by the previous run marked ended (restart)")).toBe(true);
    expect(await b.get(`/calls/${idOnA}`)).toMatchObject({ state: "ended", endReason: "restart" });
    const rB = await onB;
    expect(rB.exitCode, describeSipp(rB)).toBe(0); // B's call went on and ended normally
    const endedOnB = await waitFor(async () => (await a2.get("/calls")).recent.find((c: any) => c.id !== idOnA), 20_000, "B's call listed by the new A");
    expect(endedOnB.endReason).toBe("remote_bye");
    await onA; // the caller of the killed agent: its BYE goes unanswered until SIPp is stopped at 10 s
  }, 120_000);
});
