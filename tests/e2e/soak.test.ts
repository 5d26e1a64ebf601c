/**
 * The short form of the soak benchmark (scripts/bench-soak.ts runs 10,000): 200 short calls through
 * the compiled agent, 8 at a time, and what the agent holds afterwards is back to where it started —
 * file descriptors and sockets, RTP ports, child processes, temp files. RSS may grow while the heap
 * and JIT warm up; it must stay bounded (printed in the table). The JavaScript heap, measured after the
 * agent's own idle collection (IDLE_GC_S=2 here) before and after the calls, must not grow: an ended
 * call kept alive by anything (its SIP transactions kept each one 32 s) shows as ~30 KiB per call.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { stopAllManaged } from "../support/process.ts";
import { runSoak, soakTable } from "../support/soak.ts";

afterAll(() => stopAllManaged());

describe.skipIf(!Bun.which("sipp"))("soak (short form)", () => {
  test("200 short calls: descriptors, sockets, RTP ports, children and temp files back to their start level", async () => {
    const r = await runSoak({ calls: 200, concurrency: 8, rate: 20, callMs: 300, idleCollection: true, env: { IDLE_GC_S: "2" } });
    console.log(soakTable(r));
    expect(r.sippExit).toBe(0);
    expect(r.completed).toBe(200);
    expect(r.peak.activeCalls).toBeGreaterThan(1); // calls really overlapped
    expect(r.end.activeCalls).toBe(0);
    expect(r.end.rtpPortsInUse).toBe(0);
    // Idle keep-alive connections to the LLM's HTTP endpoint are reused by later calls: bounded by the
    // peak of simultaneous calls, not by the number of calls. Everything else must be back.
    const pooledGrowth = r.end.pooledHttp - r.start.pooledHttp;
    expect(r.end.pooledHttp).toBeLessThanOrEqual(8);
    expect(r.end.fds - pooledGrowth).toBeLessThanOrEqual(r.start.fds);
    expect(r.end.udpSockets).toBe(r.start.udpSockets);
    expect(r.end.tcpConnections).toBeLessThanOrEqual(r.start.tcpConnections);
    expect(r.end.children).toBeLessThanOrEqual(r.start.children);
    expect(r.end.tempFiles).toBeLessThanOrEqual(r.start.tempFiles);
    expect(r.end.threads).toBeLessThanOrEqual(r.start.threads + 2);
    expect(r.end.rssMiB - r.start.rssMiB).toBeLessThan(96);
    expect(r.errors).toEqual([]);
    // Live JS objects after a full collection on a quiet agent: 200 calls later, the same (±4 MiB).
    expect(r.idle!.end.heapUsedMiB - r.idle!.start.heapUsedMiB).toBeLessThan(4);
  }, 240_000);
});
