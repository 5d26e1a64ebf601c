/**
 * `bun run bench:fuzz`: 10⁶ mutated SIP datagrams (real captures and fixtures, tests/support/sip-fuzz.ts)
 * at the compiled agent on loopback, while live calls are served one after another (SIPp, 20 s of
 * silence each), then one more call after the fuzz. Prints a table; exits 1 when the agent died or a
 * call failed. Not part of the test suite (tests/e2e/sip-fuzz.test.ts is the 20,000-datagram form).
 *
 *   bun run bench:fuzz [--count 1000000] [--seed 1] [--rate 2000]
 *
 * The agent runs with SIP_RATE_LIMIT=0 so every datagram reaches the parser; when it falls behind, the
 * kernel may drop some at the agent's socket (counted: /proc/net/udp) and the agent's bounded receive
 * queue drops the newest (counted: voice_agent_sip_refused_total{reason="overloaded"}).
 */
import { parseArgs } from "node:util";
import { startAgent } from "../tests/e2e/agent.ts";
import { metricValue, rssKb, udpDrops } from "../tests/e2e/attack-support.ts";
import { stopAllManaged } from "../tests/support/process.ts";
import { runFuzz } from "../tests/support/sip-fuzz.ts";
import { runSipp, type SippResult } from "../tests/support/sipp.ts";
import { synthesizeCallerAudio } from "../tests/support/speech.ts";

const { values } = parseArgs({
  options: { count: { type: "string", default: "1000000" }, seed: { type: "string", default: "1" }, rate: { type: "string", default: "2000" } },
});
const count = Number(values.count);
const seed = Number(values.seed);
const rate = Number(values.rate);

const agent = await startAgent({ SIP_RATE_LIMIT: "0", IDLE_PROMPT_S: "3600" });
const silence = await synthesizeCallerAudio([{ silenceMs: 20_000 }], { leadSilenceMs: 0, trailSilenceMs: 0 });
const call = () =>
  runSipp({ scenario: "inbound-call", target: `127.0.0.1:${agent.sipPort}`, audioFile: silence.path, pauseMs: 20_000, timeoutMs: 60_000 });
const rss0 = rssKb(agent.proc.pid);
const calls: SippResult[] = [];
let fuzzing = true;
let reported = 0;
const liveCalls = (async () => {
  while (fuzzing && agent.proc.running) calls.push(await call());
})();
const f = await runFuzz({
  target: { host: "127.0.0.1", port: agent.sipPort },
  count,
  seed,
  rate,
  progress: (n) => {
    if (Math.floor(n / 100_000) > reported) console.error(`bench:fuzz: ${(reported = Math.floor(n / 100_000)) * 100_000} sent`);
  },
});
fuzzing = false;
await liveCalls;
const after = agent.proc.running ? await call() : undefined;
const metrics = agent.proc.running ? await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text() : "";
const refused = (reason: string) => metricValue(metrics, "voice_agent_sip_refused_total", { reason }) ?? 0;
const requests = metrics
  .split("\n")
  .filter((l) => l.startsWith("voice_agent_sip_requests_total{"))
  .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
const rows: [string, string][] = [
  ["seed / rate", `${seed} / ${rate} per s`],
  ["datagrams sent", `${f.sent} in ${f.seconds.toFixed(1)} s (${f.skipped} mutants skipped: new call or maddr)`],
  ["dropped by the kernel at the agent", String(udpDrops(agent.sipPort))],
  ["dropped by the agent: receive queue full", String(refused("overloaded"))],
  ["requests parsed and handled by the UA", String(requests)],
  ["malformed: answered 400/505 / dropped", `${refused("malformed_rejected")} / ${refused("malformed_dropped")}`],
  ["answers received", JSON.stringify(Object.fromEntries(f.answers))],
  ["live calls during the fuzz (ok/total)", `${calls.filter((c) => c.exitCode === 0).length}/${calls.length}`],
  ["call after the fuzz", after?.exitCode === 0 ? "ok" : `FAILED (${after?.exitCode ?? "agent gone"})`],
  ["agent alive", String(agent.proc.running)],
  ["agent RSS start → end", `${(rss0 / 1024).toFixed(0)} MB → ${agent.proc.running ? (rssKb(agent.proc.pid) / 1024).toFixed(0) : "-"} MB`],
];
const w = Math.max(...rows.map((r) => r[0].length));
console.log(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n"));
const ok = agent.proc.running && after?.exitCode === 0 && calls.every((c) => c.exitCode === 0);
await agent.stop();
await stopAllManaged();
process.exit(ok ? 0 : 1);
