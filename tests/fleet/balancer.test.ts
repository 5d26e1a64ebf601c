/**
 * Three compiled agents behind Kamailio running the shipped deploy/kamailio/kamailio.cfg (dispatcher,
 * algorithm 10, OPTIONS probes every second), all on loopback, callers played by SIPp:
 * - 30 calls are spread over the agents by load; each call's 200 carries Kamailio's Record-Route and the
 *   agent's own Contact, and the caller's ACK and BYE follow that route;
 * - re-INVITEs, UPDATEs and the BYE from the caller's side reach the agent that holds the call;
 * - an agent drained with SIGTERM answers OPTIONS 503, is marked inactive, gets no new call, its live
 *   calls end normally, and it is marked active again and gets calls after a restart;
 * - an agent killed with SIGKILL mid-run: new calls go to the other two (a call that hit the dead agent
 *   is retried on the next one: no caller sees more than that one failed attempt, and none fails), and
 *   the survivors' calls are unaffected.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { describeSipp, runSipp, type SippResult } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { freeUdpPortRange } from "../support/ports.ts";
import { waitFor } from "../e2e/agent.ts";
import { callOutcomes, startFleet, type Fleet } from "./support.ts";

const ready = !!Bun.which("kamailio") && !!Bun.which("sipp") && !!Bun.which("kamcmd");
let fleet: Fleet;

beforeAll(async () => {
  if (!ready) return;
  fleet = await startFleet({ agents: 3, maxCalls: 12 });
  await waitFor(async () => [...(await fleet.flags()).values()].filter((f) => f === "AP").length === 3, 15_000, "all agents active");
}, 90_000);
afterAll(async () => {
  await fleet?.stop();
});

/** `n` short calls through Kamailio (SIPp soak-call: INVITE, 200, ACK, pause, BYE). */
function calls(n: number, o: { rate: number; callMs: number; limit?: number }): Promise<SippResult> {
  return runSipp({
    scenario: "soak-call",
    target: `127.0.0.1:${fleet.port}`,
    pauseMs: o.callMs,
    timeoutMs: 120_000,
    extraArgs: ["-m", String(n), "-l", String(o.limit ?? n), "-r", String(o.rate)],
  });
}

/** The agent each call ended up on (the last dispatch of its Call-ID), from Kamailio's log. */
function placement(): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of fleet.dispatches()) out.set(d.callId, d.agent);
  return out;
}

async function inboundRecords(i: number): Promise<any[]> {
  const l = await fleet.get(i, "/calls");
  return [...l.active, ...l.recent].filter((c: any) => c.direction === "inbound");
}

describe.skipIf(!ready)("three agents behind Kamailio (compiled, loopback)", () => {
  test("30 calls are spread by load; Record-Route honoured both ways; Contact is the agent's own", async () => {
    const r = await calls(30, { rate: 10, callMs: 3000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const outcomes = callOutcomes(r.messages);
    expect([...outcomes.values()].filter((o) => o.ok)).toHaveLength(30);
    const placed = placement();
    const share = [0, 1, 2].map((i) => [...outcomes.keys()].filter((id) => placed.get(id) === i).length);
    expect(share.reduce((a, b) => a + b, 0)).toBe(30);
    console.log(`30 calls through Kamailio: ${share.join(" / ")} per agent`);
    for (const n of share) expect(n).toBeGreaterThanOrEqual(7); // 10 each when the load is even
    // What Kamailio says it did is what each agent recorded.
    await waitFor(async () => (await Promise.all([0, 1, 2].map(inboundRecords))).every((l) => l.every((c) => c.state === "ended")), 15_000, "calls ended");
    for (const i of [0, 1, 2]) {
      const mine = new Set((await inboundRecords(i)).map((c: any) => c.sipCallId));
      expect([...outcomes.keys()].filter((id) => mine.has(id))).toEqual([...outcomes.keys()].filter((id) => placed.get(id) === i));
    }
    // The 200: Kamailio's Record-Route, the agent's own Contact (its SIP port, not Kamailio's).
    const ok = r.messages.find((m) => m.direction === "received" && m.status === 200 && /^CSeq:\s*1 INVITE/im.test(m.text))!;
    expect(ok.text).toMatch(new RegExp(`^Record-Route: <sip:127\\.0\\.0\\.1:${fleet.port};lr[^>]*>`, "im"));
    const agentPort = Number(/^Contact:.*?sip:[^@>]*@?127\.0\.0\.1:(\d+)/im.exec(ok.text)?.[1]);
    expect(fleet.slots.map((s) => s.sipPort)).toContain(agentPort);
    // Its SDP: the agent's own address and one of its own RTP ports, so media bypasses Kamailio.
    const slot = fleet.slots.find((s) => s.sipPort === agentPort)!;
    expect(ok.text).toMatch(/^c=IN IP4 127\.0\.0\.1$/m);
    const rtpPort = Number(/^m=audio (\d+) /m.exec(ok.text)?.[1]);
    expect(rtpPort).toBeGreaterThanOrEqual(slot.rtpStart);
    expect(rtpPort).toBeLessThanOrEqual(slot.rtpEnd);
    // The caller's BYE: Request-URI = the agent's Contact, Route = Kamailio.
    const bye = r.messages.find((m) => m.direction === "sent" && m.method === "BYE")!;
    expect(bye.firstLine).toMatch(/^BYE sip:\S*127\.0\.0\.1:\d+/);
    expect(bye.text).toMatch(new RegExp(`^Route: <sip:127\\.0\\.0\\.1:${fleet.port};lr[^>]*>`, "im"));
  }, 120_000);

  test("re-INVITEs, UPDATEs and the BYE from the trunk's side reach the agent that holds the call", async () => {
    const r = await runSipp({
      scenario: "in-dialog",
      target: `127.0.0.1:${fleet.port}`,
      mediaPort: await freeUdpPortRange(4),
      keys: { audio: `${silenceFile(1, "mulaw")},-1,0` },
      pauseMs: 400,
      timeoutMs: 60_000,
    });
    expect(r.exitCode, describeSipp(r)).toBe(0); // every in-dialog request answered as the agent answers it
    const callId = /^Call-ID:\s*(\S+)/im.exec(r.messages[0]!.text)![1]!;
    const holder = placement().get(callId)!;
    const sent = r.messages.filter((m) => m.direction === "sent");
    expect(sent.filter((m) => m.method === "INVITE").length).toBeGreaterThanOrEqual(3); // initial + re-INVITEs
    for (const m of sent.filter((x) => x.method !== "INVITE" || !/^CSeq:\s*1 /im.test(x.text))) {
      expect(m.text).toMatch(new RegExp(`^Route: <sip:127\\.0\\.0\\.1:${fleet.port};lr`, "im")); // through Kamailio
    }
    const rec = await waitFor(async () => (await inboundRecords(holder)).find((c: any) => c.sipCallId === callId && c.state === "ended"), 10_000, "the record");
    expect(rec.endReason).toBe("remote_bye");
    for (const i of [0, 1, 2].filter((x) => x !== holder)) expect((await inboundRecords(i)).some((c: any) => c.sipCallId === callId)).toBe(false);
  }, 90_000);

  test("SIGTERM: OPTIONS 503, marked inactive, no new calls, live calls end normally; active again after restart", async () => {
    const live = calls(6, { rate: 20, callMs: 9000 });
    await waitFor(async () => (await fleet.get(0, "/")).activeCalls >= 1, 15_000, "a live call on agent 0");
    const exited = fleet.kill(0, "SIGTERM");
    await waitFor(async () => (await fleet.flags()).get(0)?.startsWith("I"), 10_000, "Kamailio to mark agent 0 inactive");
    const during = await calls(6, { rate: 10, callMs: 500 });
    expect(during.exitCode, describeSipp(during)).toBe(0);
    const placed = placement();
    for (const id of callOutcomes(during.messages).keys()) expect(placed.get(id)).not.toBe(0);
    const before = await live;
    expect(before.exitCode, describeSipp(before)).toBe(0); // the drained agent's calls too: BYE answered 200
    expect(await exited).toBe(0);
    await fleet.restart(0);
    await waitFor(async () => (await fleet.flags()).get(0)?.startsWith("A"), 15_000, "Kamailio to mark agent 0 active");
    const after = await calls(3, { rate: 10, callMs: 1500 });
    expect(after.exitCode, describeSipp(after)).toBe(0);
    const again = placement();
    expect([...callOutcomes(after.messages).keys()].some((id) => again.get(id) === 0)).toBe(true);
  }, 120_000);

  test("kill -9 mid-run: new calls go to the other two, no caller gets more than one failed attempt, survivors unaffected", async () => {
    const run = calls(18, { rate: 3, callMs: 4000 });
    await waitFor(async () => (await fleet.get(2, "/")).activeCalls >= 1, 15_000, "a live call on agent 2");
    await Bun.sleep(1000);
    const t = fleet.mark();
    await fleet.kill(2, "SIGKILL");
    const r = await run;
    const outcomes = callOutcomes(r.messages);
    expect(outcomes.size).toBe(18);
    const ds = fleet.dispatches();
    const onDeadBefore = new Set(ds.filter((d) => d.at < t).reduce((m, d) => m.set(d.callId, d.agent), new Map<string, number>()).entries().filter(([, a]) => a === 2).map(([id]) => id));
    for (const [id, o] of outcomes) {
      const attempts = ds.filter((d) => d.callId === id);
      expect(attempts.filter((d) => d.failover).length).toBeLessThanOrEqual(1); // at most one failed attempt
      if (onDeadBefore.has(id) && !attempts.some((d) => d.at >= t)) continue; // was live on the killed agent
      expect(o.ok, `call ${id}: ${JSON.stringify(o)}`).toBe(true);
      expect(o.finals.filter((s) => s >= 300)).toEqual([]); // the caller never saw a failure
      const last = attempts.at(-1)!;
      if (last.at >= t) expect(last.agent).not.toBe(2);
    }
    // Calls that reached the dead agent before Kamailio noticed (FR_TIMER_MS without a reply, or a failed
    // probe) were each retried once on a live agent; once it was marked down, no call went to it.
    const log = fleet.kamailio.stderr();
    const downAt = Math.min(
      ...[new RegExp(`agent ${fleet.slots[2]!.uri} did not answer`), /dispatcher: destination down/]
        .map((re) => [...log.matchAll(new RegExp(re.source, "g"))].map((m) => m.index!).find((i) => i >= t) ?? Infinity),
    );
    expect(downAt).toBeLessThan(Infinity);
    expect(ds.filter((d) => d.at > downAt && d.agent === 2)).toEqual([]);
    console.log(`kill -9: ${ds.filter((d) => d.at >= t && d.agent === 2).length} call(s) reached the dead agent before it was marked down, each retried once`);
    await waitFor(async () => (await fleet.flags()).get(2)?.startsWith("I"), 10_000, "agent 2 marked inactive");
  }, 120_000);
});
