/**
 * The agent's side of the load-balancer contract, on the compiled binary: an out-of-dialog OPTIONS and
 * `GET /health/ready` give the verdict a new INVITE would get (200 while calls are taken; 503 +
 * Retry-After when full at MAX_CALLS or draining after SIGTERM), with `X-Calls: active/capacity`.
 * Also with SIP_FRONT=on, where the front thread answers from the status the call thread publishes every
 * 100 ms (src/sip/front/): a call's start may show a beat later, draining at once (published on SIGTERM).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { optionsProbe } from "../support/sip-options.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const started: RunningAgent[] = [];
afterAll(async () => {
  await Promise.all(started.map((a) => a.stop().catch(() => null)));
});

/** One OPTIONS probe as Kamailio's dispatcher sends it; the reply's status and headers. */
const probe = (agent: RunningAgent) => optionsProbe(agent.sipPort, "dispatcher");

async function ready(agent: RunningAgent) {
  const res = await fetch(`http://127.0.0.1:${agent.httpPort}/health/ready`);
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as any };
}

describe("health for balancers and orchestrators (compiled agent)", () => {
  for (const [variant, extra] of [["", {}], [" (SIP_FRONT=on)", { SIP_FRONT: "on" }]] as const)
  test(`OPTIONS and /health/ready: 200 with room, 503 + Retry-After at MAX_CALLS and while draining${variant}`, async () => {
    // DRAIN_TIMEOUT_S 2 (was 5: 3 s of the file waiting): the probes below run right after SIGTERM, and
    // until the live call's goodbye has played and the agent exits, it is draining either way.
    const agent = await startAgent({ MAX_CALLS: "1", DRAIN_TIMEOUT_S: "2", ...extra });
    started.push(agent);
    const target = `127.0.0.1:${agent.sipPort}`;
    expect(await probe(agent)).toEqual({ status: 200, retryAfter: undefined, calls: "0/1" });
    expect(await ready(agent)).toMatchObject({ status: 200, body: { status: "ready", activeCalls: 0, capacity: 1 } });
    expect((await fetch(`http://127.0.0.1:${agent.httpPort}/health/live`)).status).toBe(200);

    // Full: one call holds the only slot. A second INVITE is refused, and so is the probe.
    const first = runSipp({ scenario: "inbound-call", target, audioFile: silenceFile(2), pauseMs: 5000, timeoutMs: 30_000 });
    await waitFor(async () => (await agent.get("/")).activeCalls === 1, 15_000, "one live call");
    // GET / counts the call from its 200; OPTIONS reads full only once the ACK confirmed it (an unconfirmed
    // call does not close the agent), and with SIP_FRONT=on from the front's view, one beat old. On a loaded
    // machine (load average 8, two test files at once) the ACK came after the 250 ms once, in both variants:
    // probed until full, for at most 3 s of the call's ~7 s.
    let full = await probe(agent);
    for (const end = performance.now() + 3000; full.status !== 503 && performance.now() < end; ) {
      await Bun.sleep(100);
      full = await probe(agent);
    }
    expect(full).toEqual({ status: 503, retryAfter: "30", calls: "1/1" });
    expect(await ready(agent)).toMatchObject({ status: 503, retryAfter: "30", body: { reason: "full", activeCalls: 1, capacity: 1 } });
    const second = await runSipp({ scenario: "inbound-call", target, audioFile: silenceFile(1), timeoutMs: 15_000 });
    expect(second.exitCode).not.toBe(0);
    expect(second.messages.some((m) => m.direction === "received" && m.status === 503)).toBe(true);
    const r1 = await first;
    expect(r1.exitCode, describeSipp(r1)).toBe(0);
    await waitFor(async () => (await agent.get("/")).activeCalls === 0, 15_000, "the call to end");
    await Bun.sleep(250);
    expect(await probe(agent)).toEqual({ status: 200, retryAfter: undefined, calls: "0/1" });

    // Draining: a live call that waits for the agent's BYE; SIGTERM turns probes to 503 at once.
    const live = runSipp({ scenario: "agent-hangup", target, audioFile: silenceFile(40), timeoutMs: 60_000 });
    await waitFor(async () => (await agent.get("/")).activeCalls === 1, 15_000, "one live call");
    agent.proc.signal("SIGTERM");
    await waitFor(async () => (await agent.get("/")).status === "draining", 10_000, "health to say draining");
    expect(await probe(agent)).toEqual({ status: 503, retryAfter: "10", calls: "1/1" });
    expect(await ready(agent)).toMatchObject({ status: 503, retryAfter: "10", body: { reason: "draining" } });
    const r2 = await live;
    expect(r2.exitCode, describeSipp(r2)).toBe(0); // ended normally: the agent's BYE at the drain deadline, answered 200
    expect(await agent.proc.exited).toBe(0);
  }, 120_000);
});
