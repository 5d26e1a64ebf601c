/**
 * bench:load's warm-up wave (`--warmup`): before a row's measured wave, the same agent process carries a
 * first wave of the same callers, which is not measured. An agent on a VPS runs for days; a fresh process
 * spends its first minute of load compiling (JavaScriptCore's JITWorker thread took 5–11 % of the core in
 * the first ~70 s of a 200-call row, 1–3 % later, 7 Dec 2026), and a row without a warm-up measures that.
 *
 *   const warm = await runWarmup({ callers, calls: 200, holdS: 48, pid, sipPort, httpPort, captureFilter, dir, say });
 *   warm.callsWithReply === warm.calls    // the wave was real calls that heard replies (calls long enough for a turn)
 *
 * The wave's own capture (the agent's RTP, dumpcap) says its calls were answered and heard replies; its
 * CPU by thread kind is read over the whole wave (ramp included). It ends when every caller process has
 * ended and the agent reports no live call (GET / `activeCalls`), so none of it is in the measured
 * wave's capture or window. Used by tests/support/load.ts.
 *
 * Units: % of one core, s.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { phrasesOf, type WarmupFigures } from "./load-gate.ts";
import { cpuTicks, threadSplit, threadTicks, threadLine } from "./load-probes.ts";
import { readTurns, type LoadCallers } from "./load-turns.ts";
import { udpDatagramsFromFile } from "./pcap.ts";
import { spawnManaged } from "./process.ts";
import { rtpStreamsFromDatagrams } from "./rtp-streams.ts";

/** A warm-up wave: `calls` callers of the row's kind, each with `holdS` (the row's --hold semantics). */
export interface WarmupOptions {
  calls: number;
  holdS: number;
}

const CLK_TCK = 100;

/** Sum of voice_agent_calls_total over its labels in a /metrics text. */
export function callsEnded(metrics: string): number {
  let n = 0;
  for (const m of metrics.matchAll(/^voice_agent_calls_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

/**
 * Runs the wave on the agent (`pid`, its SIP and HTTP ports) and waits until it has no live call.
 * `captureFilter`: dumpcap's filter for the agent's RTP; `dir`: a folder for the wave's capture.
 * @throws Error when a caller process fails or the agent still holds calls 30 s after the callers ended.
 */
export async function runWarmup(w: { callers: LoadCallers; calls: number; holdS: number; pid: number; sipPort: number; httpPort: number; captureFilter: string; dir: string; say: (line: string) => void }): Promise<WarmupFigures> {
  const pcapPath = join(w.dir, "warmup-rtp.pcap");
  const cap = spawnManaged(["dumpcap", "-q", "-i", "lo", "-B", "64", "-f", w.captureFilter, "-w", pcapPath], { name: "dumpcap-warmup" });
  await Bun.sleep(1500);
  const ticks0 = cpuTicks(w.pid);
  const threads0 = threadTicks(w.pid);
  const t0 = performance.now();
  await w.callers.start(w.sipPort);
  w.say(`warm-up: ${w.calls} calls ramping, each ${(w.callers.callMs / 1000).toFixed(0)} s, not measured`);
  const fails = await w.callers.finished();
  if (fails.length) throw new Error(`warm-up wave: ${fails.join("; ")}`);
  const base = `http://127.0.0.1:${w.httpPort}`;
  const live = async () => ((await (await fetch(`${base}/`)).json()) as { activeCalls: number }).activeCalls;
  const until = performance.now() + 30_000;
  while ((await live()) > 0) {
    if (performance.now() > until) throw new Error(`warm-up wave: the agent still holds ${await live()} calls 30 s after its callers ended`);
    await Bun.sleep(200);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpuPct = ((cpuTicks(w.pid) - ticks0) / CLK_TCK / seconds) * 100;
  const threads1 = threadTicks(w.pid);
  const agentCallsEnded = callsEnded(await (await fetch(`${base}/metrics`)).text());
  await Bun.sleep(300);
  await cap.stop({ signal: "SIGINT", graceMs: 5000 });
  const streams = rtpStreamsFromDatagrams(udpDatagramsFromFile(new Uint8Array(readFileSync(pcapPath)))).filter((s) => s.audioPackets.length > 50);
  const turns = readTurns(streams, w.callers.turnsOf);
  const callsGreeted = streams.filter((s) => phrasesOf(s).phrases.length > 0).length;
  w.say(`  warm-up done in ${seconds.toFixed(0)} s: ${streams.length} streams, ${callsGreeted} with the agent's speech, ${turns.callsWithReply}/${w.calls} calls heard replies (${turns.replies}), the agent counted ${agentCallsEnded} calls ended; cpu ${cpuPct.toFixed(1)} %`);
  w.say(`  warm-up threads (% of the core): ${threadLine(threads0, threads1, seconds)}`);
  return { calls: w.calls, holdS: w.holdS, streams: streams.length, callsGreeted, callsWithReply: turns.callsWithReply, replies: turns.replies, seconds, cpuPct, threadPct: threadSplit(threads0, threads1, seconds), agentCallsEnded };
}
