/**
 * A SIP flood during two real calls to the compiled agent (issue 10): 2,000 INVITEs and 2,000 OPTIONS
 * in 10 s, half from one source port (127.0.0.2) and half spread over 50 source ports (127.0.0.3),
 * while two SIPp callers (127.0.0.1, the trusted trunk) are connected. The agent runs with
 * SIP_TRUSTED_IPS=127.0.0.1/32, the default rate limit (100/s per source IP, burst 200) and the
 * default 403 budget for untrusted sources (50/s in total, burst 100).
 *
 * Must hold: both calls complete; the agent's outgoing RTP to each caller keeps its pacing (p99
 * inter-packet lateness in the flood window within bounds of the same calls outside it, from a capture
 * on lo); the flood gets only stateless 403s (never 100 Trying or 200), no more than the 403 budget
 * lets through; the agent stays up; its RSS comes back near where it was; the log holds summaries,
 * not a line per packet. Every 403 the agent counts reaches the flooder or its loss is accounted for (the
 * flooder listens until the agent's count stands still: a starved agent answers seconds late).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { missingTools } from "../support/process.ts";
import { describeSipp } from "../support/sipp.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { flood, metricValue, pacingBound, pacingInWindow, rssKb, twoCapturedCalls, udpDrops } from "./attack-support.ts";

const missing = missingTools(["sipp", "dumpcap", "flite"]);
let agent: RunningAgent | undefined;
/** The calls go on this long after the flood (ms), for the pacing outside it, then hang up. */
const AFTER_FLOOD_MS = 5000;
afterAll(async () => {
  await agent?.stop();
});

describe.skipIf(missing.length > 0)("SIP flood during two calls (compiled binary, loopback)", () => {
  test("4,000 requests in 10 s from 1 and from 50 source ports: calls complete, pacing holds, only bounded 403s, memory back", async () => {
    // No idle prompt: after the greeting the agent sends only its pacer's silence frames, so the flood
    // window measures the pacer against the flood, not a synthesis that blocks on a busy machine.
    agent = await startAgent({ SIP_TRUSTED_IPS: "127.0.0.1/32", IDLE_PROMPT_S: "3600" });
    const callMs = 40_000; // the callers' audio: a slow answer on a busy machine plus the 10 s flood
    const { media, cap, calls, toCaller, hangUp } = await twoCapturedCalls(agent, callMs, 20_000);
    const rssBefore = rssKb(agent.proc.pid);
    const floodFrom = Date.now();
    // Listens until the agent's own count of 403s stands still: a starved agent answers after the flood.
    const metricsNow = async () => (await fetch(`http://127.0.0.1:${agent!.httpPort}/metrics`)).text();
    const rejected = async () => metricValue(await metricsNow(), "voice_agent_sip_refused_total", { reason: "untrusted_rejected" }) ?? 0;
    const f = await flood({ host: "127.0.0.1", port: agent.sipPort }, { settled: rejected });
    const floodTo = floodFrom + f.sendingMs;
    const rssPeakAfterFlood = rssKb(agent.proc.pid);
    await Bun.sleep(Math.max(0, floodTo + AFTER_FLOOD_MS - Date.now())); // pacing outside the flood: before it, and this long after
    await hangUp();
    const results = await Promise.all(calls);
    const res = await cap.stop();
    // Memory back within 48 MB of before (GC timing): polled, as the calls now end right after the flood.
    let rssAfter = rssKb(agent.proc.pid);
    await waitFor(() => (rssAfter = rssKb(agent!.proc.pid)) - rssBefore < 48 * 1024, 20_000, "RSS back").catch(() => undefined);
    const metrics = await metricsNow();
    const health = await agent.get("/");

    for (const r of results) expect(r.exitCode, describeSipp(r)).toBe(0);
    const records = (await agent.get("/calls")).recent as any[];
    expect(records.filter((c) => c.endReason === "remote_bye").length).toBe(2);

    // Pacing of the agent's RTP to each caller: inside the flood window vs the same call outside it.
    for (const m of media) {
      const s = toCaller(res, m);
      expect(s).toBeDefined();
      const p = pacingInWindow(s!, floodFrom, floodTo);
      console.log(`sip-flood: call on ${m}: flood window ${JSON.stringify(p.inside)}, outside ${JSON.stringify(p.outside)}`);
      expect(p.inside.intervals).toBeGreaterThan(200);
      expect(p.inside.p99LatenessMs).toBeLessThan(pacingBound(p.outside.p99LatenessMs));
    }

    // The flood: only stateless 403s, never 100 Trying or a 200; at most what the shared 403 budget
    // allows (burst 100 + 50/s); everything else dropped before parsing.
    const codes = [...f.statuses.keys()];
    console.log(
      `sip-flood: sent ${f.sent} in ${Math.round(f.sendingMs)} ms, answers ${JSON.stringify(Object.fromEntries(f.statuses))} by host ${JSON.stringify(Object.fromEntries(f.byHost))}, last ${Math.round(f.lastAnswerAfterMs)} ms after the last request, lost at the flooder ${f.lostAtFlooder}`,
    );
    expect(f.sent).toBe(4000);
    expect(codes).toEqual([403]);
    const seconds = f.sendingMs / 1000;
    const answered = f.statuses.get(403) ?? 0;
    expect(answered).toBeGreaterThan(100);
    expect(answered).toBeLessThanOrEqual(100 + Math.ceil(50 * seconds) + 5);
    for (const host of ["127.0.0.2", "127.0.0.3"]) expect(f.byHost.get(host) ?? 0).toBeGreaterThan(0);
    const refused = (reason: string) => metricValue(metrics, "voice_agent_sip_refused_total", { reason }) ?? 0;
    // Every 403 the agent counts reached the flooder, or its loss is accounted for: dropped at the flooder's
    // sockets (receive buffer full), or not sent (the agent's socket would block; counted, never on loopback).
    const notSent = metricValue(metrics, "voice_agent_sip_udp_datagrams_total", { outcome: "not_sent" }) ?? 0;
    expect(answered + f.lostAtFlooder).toBeLessThanOrEqual(refused("untrusted_rejected"));
    expect(answered + f.lostAtFlooder + notSent).toBeGreaterThanOrEqual(refused("untrusted_rejected"));
    // Every flood datagram was refused at the gate, or lost in the kernel before it (busy machine).
    const kernelDrops = udpDrops(agent.sipPort);
    console.log(`sip-flood: refused rate_limited ${refused("rate_limited")}, 403 ${refused("untrusted_rejected")}, dropped ${refused("untrusted_dropped")}, shed ${refused("overloaded")}, kernel drops ${kernelDrops}`);
    // (Or shed by the receive queue, full or held over RECEIVE_MAX_AGE_MS: "overloaded".)
    expect(refused("rate_limited") + refused("untrusted_rejected") + refused("untrusted_dropped") + refused("overloaded") + kernelDrops).toBeGreaterThanOrEqual(3990);
    expect(metricValue(metrics, "voice_agent_sip_requests_total", { method: "INVITE" })).toBe(2); // only the real calls reached the UA

    // Logs: summaries, not a line per packet.
    const refusalLines = agent.logs().filter((l) => typeof l.msg === "string" && /refused|dropped/.test(l.msg) && l.source);
    const summaries = agent.logs().filter((l) => l.msg === "sip datagrams refused (summary)");
    console.log(`sip-flood: ${refusalLines.length} detail lines, ${summaries.length} summaries; RSS before ${rssBefore} kB, after flood ${rssPeakAfterFlood} kB, after calls ${rssAfter} kB`);
    expect(refusalLines.length).toBeLessThan(20);
    expect(summaries.length).toBeGreaterThanOrEqual(1);

    // The agent stayed up, and its memory came back to where it was (within 48 MB: GC timing).
    expect(agent.proc.running).toBe(true);
    expect(health.status).toBe("ok");
    expect(rssAfter - rssBefore).toBeLessThan(48 * 1024);
  }, 150_000);
});
