/**
 * Fuzzed SIP at the compiled agent, short form (issue 10): 10,000 mutated datagrams of real captures
 * and fixtures (tests/support/sip-fuzz.ts) from 8 loopback ports while a SIPp call is connected, then
 * a second call. The agent must not crash, the live call must complete, the next call must be served.
 * The long form is `bun run bench:fuzz` (10⁶ datagrams, scripts/bench-fuzz.ts). (It was 20,000 at
 * 2,000/s, 10 s of fuzz inside a 14 s call: the file took 17.8 s on CPU 1, 6 Dec 2026. Half the stream
 * checks the same things — no crash, both calls complete, mutants reach the parser — in 5 s.)
 */
import { afterAll, describe, expect, test } from "bun:test";
import { missingTools } from "../support/process.ts";
import { runFuzz } from "../support/sip-fuzz.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { synthesizeCallerAudio } from "../support/speech.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { metricValue, udpDrops } from "./attack-support.ts";

const missing = missingTools(["sipp", "flite"]);
let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
});

const COUNT = Number(process.env.SIP_FUZZ_COUNT ?? 10_000);
const SEED = Number(process.env.SIP_FUZZ_SEED ?? 10);
/** Datagrams per second of the fuzz stream. */
const RATE = 2000;
/** The live call lasts the fuzz stream plus 4 s (the stream starts once the call is answered), ms. */
const LIVE_CALL_MS = Math.ceil(COUNT / RATE) * 1000 + 4000;

describe.skipIf(missing.length > 0)("SIP fuzz against the compiled agent (loopback)", () => {
  test(`${COUNT} mutated datagrams during a live call: no crash, the call completes, the next call is served`, async () => {
    // No rate limit: every fuzzed datagram must reach the parser and the UA.
    agent = await startAgent({ SIP_RATE_LIMIT: "0", IDLE_PROMPT_S: "3600" });
    const silence = await synthesizeCallerAudio([{ silenceMs: LIVE_CALL_MS }], { leadSilenceMs: 0, trailSilenceMs: 0 });
    const call = (pauseMs: number) =>
      runSipp({ scenario: "inbound-call", target: `127.0.0.1:${agent!.sipPort}`, audioFile: silence.path, pauseMs, timeoutMs: pauseMs + 40_000 });
    const during = call(LIVE_CALL_MS);
    await waitFor(() => agent!.logs().some((l) => l.msg === "call answered"), 20_000, "the live call to be answered");
    const f = await runFuzz({ target: { host: "127.0.0.1", port: agent.sipPort }, count: COUNT, seed: SEED, rate: RATE });
    const r1 = await during;
    const r2 = await call(2000);
    const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
    const refused = (reason: string) => metricValue(metrics, "voice_agent_sip_refused_total", { reason }) ?? 0;
    const requests = metrics
      .split("\n")
      .filter((l) => l.startsWith("voice_agent_sip_requests_total{"))
      .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
    const kernelDrops = udpDrops(agent.sipPort);
    // What the agent shed itself when it fell behind (its bounded receive queue, src/sip/transport/receive-queue.ts).
    const shed = refused("overloaded");
    const handled = f.sent - kernelDrops - shed;
    console.log(
      `sip-fuzz: seed ${SEED}, sent ${f.sent} in ${f.seconds.toFixed(1)} s (skipped ${f.skipped}), answers ${JSON.stringify(Object.fromEntries(f.answers))}, ` +
        `kernel drops at the agent's socket ${kernelDrops}, shed by the receive queue ${shed}, handled ${handled}, requests parsed ${requests}, malformed rejected ${refused("malformed_rejected")}, dropped ${refused("malformed_dropped")}`,
    );
    expect(agent.proc.running, agent.proc.stderr().slice(-2000)).toBe(true);
    expect(r1.exitCode, describeSipp(r1)).toBe(0);
    expect(r2.exitCode, describeSipp(r2)).toBe(0);
    expect(f.sent).toBe(COUNT);
    // The mutants reached the parser and the UA (not all absorbed, not all lost). On a busy machine the
    // agent cannot take a 2,000/s stream: the kernel drops part at its socket and the receive queue sheds
    // more (both counted, see the log; at load ~20 about 4,000–6,000 of 20,000 were handled).
    expect(handled).toBeGreaterThan(COUNT * 0.05);
    expect(refused("malformed_rejected") + refused("malformed_dropped")).toBeGreaterThan(handled * 0.1);
    expect(requests).toBeGreaterThan(handled * 0.01);
    expect((await agent.get("/")).status).toBe("ok");
  }, 120_000);
});
