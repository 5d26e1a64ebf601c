/**
 * bench-soak: 10,000 short calls (SIPp, several at a time) through the compiled agent with the cloud
 * provider fakes, then a table of what the agent process holds at the start, at its peak and at the end:
 * file descriptors and sockets, RTP ports in use, child processes, temp files, threads, RSS. A leak
 * shows as an end above the start. Not part of `bun test` (tests/e2e/soak.test.ts runs 200 calls).
 *
 *   bun run bench:soak                                   1,000 warm-up calls, then 10,000, 8 at a time, 20 per second
 *   bun run bench:soak --calls 2000 --concurrency 16 --rate 40 --call-ms 500 --warm-calls 100
 *
 * Memory: the start and end snapshots are both taken after the agent's own idle collection
 * (IDLE_GC_S, 40 s after the last call: src/util/idle-collector.ts), i.e. what a quiet agent holds, once
 * after the warm-up calls (allocator arenas, JIT code and pools that every call shares are then in
 * place), once half-way through the calls and once after them. Without it the numbers are points of
 * the garbage collector's sawtooth: JavaScriptCore does not collect an idle heap, and 40 s after 1,000
 * calls 48–76 MiB of garbage were still resident. The verdict compares start and end (MiB, KiB per
 * call; exit 1 above --rss-tolerance-mib); the plateau check splits that into the two halves: a leak
 * grows in both, pages the allocator keeps from the first busy minutes (measured here: +7–21 MiB over
 * the first 1,000 calls, then flat) in the first only, and the run passes when the second half stays
 * within half the tolerance. The least-squares slope of the sampled RSS and the mean RSS / JS heap
 * floor of the first and last 1,000 calls are printed too (both move with the collector's sawtooth).
 *
 * Needs sipp. On a shared 2-core machine a full run takes about 12 minutes at 20 calls/s.
 */
import { parseArgs } from "node:util";
import { growthPer1000Calls, memoryWindows, runSoak, soakTable } from "../tests/support/soak.ts";
import { stopAllManaged } from "../tests/support/process.ts";

const { values: opt } = parseArgs({
  options: {
    calls: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "8" },
    rate: { type: "string", default: "20" },
    "call-ms": { type: "string", default: "300" },
    "warm-calls": { type: "string", default: "1000" },
    /** RSS after the idle collection may end this much above its start and count as "back", MiB. */
    "rss-tolerance-mib": { type: "string", default: "10" },
    /** The agent's IDLE_GC_S; below 33 the last calls' SIP transactions (64·T1) are still alive at the collection. */
    "idle-gc-s": { type: "string", default: "40" },
  },
});
const calls = Math.max(1, Number(opt.calls));
const concurrency = Math.max(1, Number(opt.concurrency));
const rate = Math.max(1, Number(opt.rate));
const callMs = Math.max(0, Number(opt["call-ms"]));
const warmCalls = Math.max(1, Number(opt["warm-calls"]));
const rssToleranceMiB = Math.max(0, Number(opt["rss-tolerance-mib"]));

console.log(`soak: ${warmCalls} warm-up calls, then ${calls} calls, ${concurrency} at a time, ${rate}/s, ${callMs} ms each, compiled agent with cloud fakes`);
try {
  const r = await runSoak({ calls, concurrency, rate, callMs, warmCalls, idleCollection: true, idleHalfway: true, env: { IDLE_GC_S: String(Math.max(1, Number(opt["idle-gc-s"]))) }, progress: (l) => console.log(`  ${l}`) });
  console.log("");
  console.log(soakTable(r));
  console.log("");
  console.log(`calls completed (BYE from the caller): ${r.completed} of ${calls}; SIPp exit ${r.sippExit}; ${(r.elapsedMs / 1000).toFixed(1)} s (${(r.completed / (r.elapsedMs / 1000)).toFixed(1)} calls/s)`);
  const rssGrowth = growthPer1000Calls(r.samples, "rssMiB");
  const heapGrowth = growthPer1000Calls(r.samples, "heapUsedMiB");
  const per1000 = (g: number | undefined) => (g === undefined ? "n/a (too few samples)" : `${g >= 0 ? "+" : ""}${g.toFixed(2)} MiB per 1,000 calls`);
  console.log(`memory: RSS fresh ${r.fresh.rssMiB} MiB → after ${warmCalls} warm-up calls ${r.start.rssMiB} MiB → end ${r.end.rssMiB} MiB; JS heap ${r.fresh.heapUsedMiB} → ${r.start.heapUsedMiB} → ${r.end.heapUsedMiB} MiB`);
  console.log(`memory growth over the second half of the run: RSS ${per1000(rssGrowth)}, JS heap ${per1000(heapGrowth)} (a leak of 1 KiB per call would be +0.98)`);
  const w = memoryWindows(r.samples);
  if (w) {
    const f = (n: number) => n.toFixed(1);
    console.log(
      `memory, first vs last 1,000 calls of the run (${w.callsApart} calls apart): RSS mean ${f(w.first.rssMeanMiB)} → ${f(w.last.rssMeanMiB)} MiB, ` +
        `JS heap floor (lowest sample, after a collection) ${f(w.first.heapFloorMiB)} → ${f(w.last.heapFloorMiB)} MiB`,
    );
  }
  let rssBack = true;
  if (r.idle) {
    const { start: a, mid: m, end: b } = r.idle;
    // RSS a few seconds after each idle collection (the allocator returns pages over that time).
    const d = b.rssSettledMiB - a.rssSettledMiB;
    // A leak grows in both halves; what the allocator keeps from the first calls' peaks grows in the first only.
    const second = m ? b.rssSettledMiB - m.rssSettledMiB : undefined;
    rssBack = d <= rssToleranceMiB || (second !== undefined && second <= rssToleranceMiB / 2);
    const sign = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}`;
    console.log(
      `memory verdict (a quiet agent, after its idle collection, ${warmCalls} warm-up calls vs ${r.completed} calls later): ` +
        `RSS ${a.rssSettledMiB} → ${b.rssSettledMiB} MiB (${sign(d)} MiB, ${((d * 1024) / Math.max(1, r.completed)).toFixed(2)} KiB per call), ` +
        `JS heap in use ${a.heapUsedMiB} → ${b.heapUsedMiB} MiB; peak RSS while calls ran ${r.peak.rssMiB} MiB; ` +
        `the collections took ${[a, m, b].filter(Boolean).map((x) => x!.ms).join(", ")} ms and gave back ${[a, m, b].filter(Boolean).map((x) => (x!.rssBeforeMiB - x!.rssSettledMiB).toFixed(1)).join(", ")} MiB`,
    );
    const half = Math.floor(calls / 2);
    if (m) {
      console.log(
        `memory plateau check: RSS ${a.rssSettledMiB} (start) → ${m.rssSettledMiB} (after ${half} calls) → ${b.rssSettledMiB} MiB (after ${calls}): ` +
          `first half ${sign(m.rssSettledMiB - a.rssSettledMiB)} MiB, second half ${sign(second!)} MiB (${((second! * 1024) / Math.max(1, calls - half)).toFixed(2)} KiB per call); JS heap ${a.heapUsedMiB} → ${m.heapUsedMiB} → ${b.heapUsedMiB} MiB`,
      );
    }
    console.log(
      d <= rssToleranceMiB
        ? `RSS: back to its start level (within ${rssToleranceMiB} MiB)`
        : rssBack
          ? `RSS: ${d.toFixed(1)} MiB above its start level, all of it in the first half; flat over the second half (within ${rssToleranceMiB / 2} MiB): a plateau (allocator pages kept from the busiest moments), not a leak`
          : `RSS: ${d.toFixed(1)} MiB above its start level and still growing over the second half (tolerance ${rssToleranceMiB} MiB): a leak`,
    );
  }
  if (r.errors.length) console.log(`agent error lines (first ${r.errors.length}):\n${r.errors.map((e) => `  ${JSON.stringify(e)}`).join("\n")}`);
  const pooledGrowth = r.end.pooledHttp - r.start.pooledHttp;
  const leaked =
    r.end.fds - pooledGrowth > r.start.fds ||
    r.end.udpSockets > r.start.udpSockets ||
    r.end.tcpConnections > r.start.tcpConnections ||
    r.end.rtpPortsInUse > 0 ||
    r.end.children > r.start.children ||
    r.end.tempFiles > r.start.tempFiles;
  console.log(
    leaked
      ? "RESULT: something was not given back (see end − start)"
      : `RESULT: descriptors (but ${pooledGrowth} pooled keep-alive connection(s) to the LLM), ports, children and temp files back to their start level`,
  );
  process.exitCode = leaked || !rssBack || r.completed < calls ? 1 : 0;
} finally {
  await stopAllManaged();
}
