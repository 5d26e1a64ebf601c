/**
 * bench-fleet: calls per second of set-up through the balancer, and the share of calls per agent.
 * Three compiled agents (cloud providers are the local protocol fakes, so a call costs no recognition)
 * behind Kamailio running deploy/kamailio/kamailio.cfg (dispatcher algorithm 10), all on 127.0.0.1;
 * SIPp offers calls at increasing rates (each call: INVITE → 200 → ACK, held --hold-ms, BYE).
 *
 *   bun run bench:fleet                       rates 10, 20, 40 calls/s, 60 calls each
 *   bun run scripts/bench-fleet.ts --rates 20,50 --calls 100 --hold-ms 2000
 *
 * Per rate: set-up calls/s achieved (answered calls / time from the first INVITE to the last 200),
 * INVITE → 200 p50/p95/max (ms, at the caller, through Kamailio), failed calls, and each agent's share
 * (from Kamailio's dispatch log, checked against the agents' own records). Not part of `bun test`.
 */
import { parseArgs } from "node:util";
import { startFleet, callOutcomes, type Fleet } from "../tests/fleet/support.ts";
import { waitFor } from "../tests/e2e/agent.ts";
import { runSipp, type SippMessage } from "../tests/support/sipp.ts";
import { stopAllManaged } from "../tests/support/process.ts";

const { values: opt } = parseArgs({
  options: {
    rates: { type: "string", default: "10,20,40" },
    calls: { type: "string", default: "60" },
    "hold-ms": { type: "string", default: "1000" },
    agents: { type: "string", default: "3" },
  },
});
const RATES = opt.rates!.split(",").map(Number);
const CALLS = Number(opt.calls);
const HOLD_MS = Number(opt["hold-ms"]);
const AGENTS = Number(opt.agents);

const sippTime = (t: string) => {
  const [date, clock] = t.split(/\s+/);
  const [hms, frac = "0"] = clock!.split(".");
  return Date.parse(`${date}T${hms}Z`) + Number(`0.${frac}`) * 1000;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

async function runRate(fleet: Fleet, rate: number) {
  const before = new Set(fleet.dispatches().map((d) => d.callId));
  const r = await runSipp({
    scenario: "soak-call",
    target: `127.0.0.1:${fleet.port}`,
    pauseMs: HOLD_MS,
    timeoutMs: 300_000,
    extraArgs: ["-m", String(CALLS), "-l", String(CALLS), "-r", String(rate)],
  });
  const byCall = new Map<string, { invite?: number; ok?: number }>();
  const cid = (m: SippMessage) => /^Call-ID:\s*(\S+)/im.exec(m.text)?.[1] ?? "";
  for (const m of r.messages) {
    const e = byCall.get(cid(m)) ?? {};
    byCall.set(cid(m), e);
    if (m.direction === "sent" && m.method === "INVITE" && /^CSeq:\s*1 INVITE/im.test(m.text)) e.invite ??= sippTime(m.time);
    if (m.direction === "received" && m.status === 200 && /^CSeq:\s*1 INVITE/im.test(m.text)) e.ok ??= sippTime(m.time);
  }
  const answered = [...byCall.values()].filter((e) => e.invite !== undefined && e.ok !== undefined) as { invite: number; ok: number }[];
  const setup = answered.map((e) => e.ok - e.invite);
  const span = Math.max(...answered.map((e) => e.ok)) - Math.min(...answered.map((e) => e.invite));
  const outcomes = callOutcomes(r.messages);
  const failed = [...outcomes.values()].filter((o) => !o.ok).length;
  const placed = new Map<string, number>();
  for (const d of fleet.dispatches()) if (!before.has(d.callId)) placed.set(d.callId, d.agent);
  const share = fleet.slots.map((s) => [...placed.values()].filter((a) => a === s.index).length);
  return { rate, answered: answered.length, perSecond: (answered.length / span) * 1000, p50: pct(setup, 50), p95: pct(setup, 95), max: Math.max(...setup), failed, share };
}

const fleet = await startFleet({ agents: AGENTS, maxCalls: Math.max(50, CALLS) });
try {
  await waitFor(async () => [...(await fleet.flags()).values()].every((f) => f.startsWith("A")) && (await fleet.flags()).size === AGENTS, 20_000, "agents active");
  const rows = [];
  for (const rate of RATES) {
    rows.push(await runRate(fleet, rate));
    await waitFor(async () => (await Promise.all(fleet.slots.map((s) => fleet.get(s.index, "/")))).every((h) => h.activeCalls === 0), 30_000, "calls to end");
  }
  // The agents' own records agree with Kamailio's dispatch log.
  const recorded = await Promise.all(fleet.slots.map(async (s) => (await fleet.get(s.index, "/calls?limit=1000")).recent.length));
  console.log(`\n## Set-up through Kamailio (dispatcher algorithm 10), ${AGENTS} compiled agents, ${CALLS} calls per rate, held ${HOLD_MS} ms\n`);
  console.log(`| offered calls/s | answered | set-up calls/s | INVITE→200 p50 ms | p95 ms | max ms | failed | share per agent |`);
  console.log(`|---:|---:|---:|---:|---:|---:|---:|---|`);
  for (const r of rows) {
    const total = r.share.reduce((a, b) => a + b, 0) || 1;
    console.log(
      `| ${r.rate} | ${r.answered} | ${r.perSecond.toFixed(1)} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.max.toFixed(1)} | ${r.failed} | ${r.share.map((n) => `${n} (${Math.round((n / total) * 100)} %)`).join(" / ")} |`,
    );
  }
  console.log(`\nCalls recorded by each agent (all rates): ${recorded.join(" / ")}`);
} finally {
  await fleet.stop();
  await stopAllManaged();
}
