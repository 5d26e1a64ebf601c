/**
 * Operating the compiled agent: /metrics after a scripted run of known calls, and SIGTERM during two
 * live calls (new INVITEs refused with 503, the live calls hear a goodbye and get a BYE, exit 0, no RTP
 * port or temp file left behind).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { RtpCapture } from "../support/capture.ts";
import { describeSipp, runSipp, type SippResult } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { udpExchange, parseSipStatusLine } from "../support/udp.ts";
import { freeUdpPort, isUdpPortFree } from "../support/ports.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const started: RunningAgent[] = [];
afterAll(async () => {
  await Promise.all(started.map((a) => a.stop().catch(() => null)));
});

/** Prometheus text exposition → { "name{labels}": value } (strict enough to fail on garbage). */
function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)( \d+)?$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    out.set(`${m[1]}${m[2] ?? ""}`, Number(m[3]));
  }
  return out;
}

async function metrics(agent: RunningAgent): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

function invite(port: number, local: number): string {
  const sdp = "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
  return [
    `INVITE sip:agent@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-drain-${Date.now()}`,
    "Max-Forwards: 70",
    "From: <sip:late@127.0.0.1>;tag=late1",
    `To: <sip:agent@127.0.0.1:${port}>`,
    `Call-ID: drain-${Date.now()}@127.0.0.1`,
    "CSeq: 1 INVITE",
    `Contact: <sip:late@127.0.0.1:${local}>`,
    "Content-Type: application/sdp",
    `Content-Length: ${sdp.length}`,
    "",
    sdp,
  ].join("\r\n");
}

describe("operating the compiled agent", () => {
  test("/metrics parses as Prometheus text and its counters match a scripted run of known calls", async () => {
    const agent = await startAgent();
    started.push(agent);
    const target = `127.0.0.1:${agent.sipPort}`;
    const runs: SippResult[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await runSipp({ scenario: "options", target, timeoutMs: 10_000 });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      runs.push(r);
    }
    // The agent's RTP is captured so its packet counters can be checked against the wire, not against
    // a rate: how much a call sends in 2.5 s depends on how fast a loaded machine synthesizes.
    const cap = await RtpCapture.start({ portRanges: [[agent.rtpStart, agent.rtpEnd]] });
    for (let i = 0; i < 2; i++) {
      const r = await runSipp({ scenario: "inbound-call", target, audioFile: silenceFile(2), pauseMs: 2500, timeoutMs: 20_000 });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      runs.push(r);
    }
    const streams = (await cap.stop()).rtpStreams;
    expect((await runSipp({ scenario: "bad-codec", target, timeoutMs: 10_000 })).exitCode).toBe(0);
    await waitFor(async () => (await agent.get("/")).activeCalls === 0, 15_000, "calls to end");
    const m = await metrics(agent);
    // The counters count what crossed the wire, so they are checked against SIPp's own trace: on a
    // loaded machine a late 200 makes SIPp retransmit (T1 = 500 ms), and each copy is a request received.
    const wire = runs.flatMap((r) => r.messages);
    const sent = (method: string) => wire.filter((x) => x.direction === "sent" && x.method === method).length;
    const got = (status: number, method: string) =>
      wire.filter((x) => x.direction === "received" && x.status === status && new RegExp(`^CSeq: \\d+ ${method}$`, "im").test(x.text)).length;
    expect(sent("OPTIONS")).toBeGreaterThanOrEqual(3);
    expect(sent("BYE")).toBeGreaterThanOrEqual(2);
    expect(m.get('voice_agent_sip_requests_total{method="OPTIONS"}')).toBe(sent("OPTIONS"));
    expect(m.get('voice_agent_sip_requests_total{method="BYE"}')).toBe(sent("BYE"));
    expect(got(200, "OPTIONS")).toBeGreaterThanOrEqual(3);
    expect(m.get('voice_agent_sip_responses_total{code="200",method="OPTIONS"}') ?? m.get('voice_agent_sip_responses_total{method="OPTIONS",code="200"}')).toBe(got(200, "OPTIONS"));
    expect(m.get('voice_agent_calls_total{direction="inbound",result="remote_bye"}')).toBe(2);
    expect(m.get("voice_agent_active_calls")).toBe(0);
    // RTP: one stream each way per call on the wire. Every packet the agent sent is counted once.
    // Incoming: SIPp streams its 2 s file (100 packets) in each 2.5 s call; the agent counts what reached
    // it while the call lived, which on the wire is at most what SIPp sent and more than one call's worth.
    const ours = (p: number) => p >= agent.rtpStart && p <= agent.rtpEnd;
    const out = streams.filter((s) => ours(s.src.port));
    const inn = streams.filter((s) => ours(s.dst.port));
    expect(out.length, "agent → caller streams").toBe(2);
    expect(inn.length, "caller → agent streams").toBe(2);
    const onWire = (ss: typeof streams) => ss.reduce((n, s) => n + s.packets.length + s.duplicates, 0);
    expect(m.get('voice_agent_rtp_packets_total{direction="out"}')).toBe(onWire(out));
    const counted = m.get('voice_agent_rtp_packets_total{direction="in"}')!;
    expect(counted).toBeGreaterThan(100);
    expect(counted).toBeLessThanOrEqual(onWire(inn));
    expect(m.get("voice_agent_pacer_lateness_ms_count")).toBeGreaterThan(0);
    const code488 = [...m.entries()].find(([k]) => k.startsWith("voice_agent_sip_responses_total") && k.includes('code="488"'));
    expect(code488?.[1]).toBe(1);
  }, 90_000);

  test("SIGTERM during two live calls: 503 to new calls, goodbye then BYE on the live ones, exit 0, nothing left", async () => {
    const agent = await startAgent({ DRAIN_TIMEOUT_S: "2" });
    started.push(agent);
    const target = `127.0.0.1:${agent.sipPort}`;
    // Two callers that talk silence and wait for the agent's BYE (the scenario answers it 200).
    const calls = [0, 1].map(() => runSipp({ scenario: "agent-hangup", target, audioFile: silenceFile(30), timeoutMs: 40_000 }));
    await waitFor(async () => (await agent.get("/")).activeCalls === 2, 10_000, "two live calls");
    await Bun.sleep(1500);
    agent.proc.signal("SIGTERM");
    await waitFor(async () => (await agent.get("/")).status === "draining", 10_000, "health to say draining");
    const local = await freeUdpPort();
    const late = await udpExchange({ target: { port: agent.sipPort }, payload: invite(agent.sipPort, local), localPort: local, timeoutMs: 6000, expectCount: 2 });
    const statuses = late.replies.map((r) => parseSipStatusLine(r.text)?.code);
    expect(statuses).toContain(503);
    expect(late.replies.find((r) => r.text.startsWith("SIP/2.0 503"))?.text).toMatch(/Retry-After: \d+/i);
    const results = await Promise.all(calls);
    for (const r of results) expect(r.exitCode, describeSipp(r)).toBe(0);
    const code = await agent.proc.exited;
    expect(code).toBe(0);
    expect(agent.logs().filter((l) => l.msg === "call ended")).toHaveLength(2);
    // The goodbye was spoken (a turn is recorded once its last packet went out) before the BYE.
    const db = new Database(join(agent.dataDir, "calls.db"), { readonly: true });
    const rows = db
      .query("SELECT c.id, c.end_reason AS reason, (SELECT text FROM turns t WHERE t.call_id = c.id ORDER BY idx DESC LIMIT 1) AS last FROM calls c")
      .all() as { id: string; reason: string; last: string }[];
    db.close();
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r.reason).toBe("shutdown");
      expect(r.last).toMatch(/I have to end the call now\. .*Goodbye\.$/);
    }
    for (let p = agent.rtpStart; p <= agent.rtpEnd; p += 2) expect(await isUdpPortFree(p), `RTP port ${p}`).toBe(true);
    // Only the agent's own TMPDIR counts (other processes on this machine create their own /tmp files).
    // Bun's runtime unpacks `.bun-*` files there itself; everything else (the onnxruntime copy) is ours.
    const leftovers = readdirSync(agent.tmpDir).filter((f) => !f.startsWith(".bun-"));
    expect(leftovers).toEqual([]);
  }, 90_000);
});
