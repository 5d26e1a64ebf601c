/**
 * One SIP message size limit for UDP and TCP, and every refusal counted, on the compiled agent
 * (loopback only):
 * - a 60 KB INVITE over UDP (60 KB X-Pad header) gets 513 Message Too Large, no 100 Trying, no call;
 * - the same INVITE over TCP closes the connection (headers over 16 KB);
 * - the 65th simultaneous TCP connection from one address is refused;
 * each visible in voice_agent_sip_refused_total{reason}. A normal call afterwards is served.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { metricValue, sipRequest } from "./attack-support.ts";

const hasSipp = !!Bun.which("sipp");
let agent: RunningAgent | undefined;
const sockets: Array<{ end(): void }> = [];
afterAll(async () => {
  for (const s of sockets) s.end();
  await agent?.stop();
}, 20_000);

describe("SIP message size limit and TCP refusals (compiled agent)", () => {
  test("60 KB INVITE: 513 over UDP, connection closed over TCP; connection cap; all in /metrics", async () => {
    agent = await startAgent({ SIP_RATE_LIMIT: "0", IDLE_PROMPT_S: "3600" });
    const target = { host: "127.0.0.1", port: agent.sipPort };
    const refused = async (reason: string) =>
      metricValue(await (await fetch(`http://127.0.0.1:${agent!.httpPort}/metrics`)).text(), "voice_agent_sip_refused_total", { reason }) ?? 0;
    const pad = (text: string) => text.replace("\r\n", `\r\nX-Pad: ${"a".repeat(60_000)}\r\n`);

    // UDP
    const answers: string[] = [];
    const udp = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void answers.push(new TextDecoder().decode(d)) } });
    try {
      udp.send(pad(sipRequest("INVITE", { to: target, from: { host: "127.0.0.1", port: udp.port } })), target.port, target.host);
      await waitFor(() => answers.length > 0, 5000, "an answer to the 60 KB INVITE");
      await Bun.sleep(300);
      expect(answers.map((a) => a.split("\r\n")[0])).toEqual(["SIP/2.0 513 Message Too Large"]);
    } finally {
      udp.close();
    }
    expect(await refused("oversize_rejected")).toBe(1);

    // TCP: the same INVITE closes the connection.
    let closed = false;
    const c = await Bun.connect({ hostname: "127.0.0.1", port: target.port, socket: { data: () => {}, close: () => void (closed = true) } });
    sockets.push(c);
    c.write(pad(sipRequest("INVITE", { to: target, from: { host: "127.0.0.1", port: 5999 } }).replace("SIP/2.0/UDP", "SIP/2.0/TCP")));
    await waitFor(() => closed, 5000, "the TCP connection closed");
    expect(await refused("oversize_dropped")).toBe(1);

    // TCP: 64 connections per source address; the 65th is refused and counted.
    const closedIdx = new Set<number>();
    for (let i = 0; i < 65; i++) {
      sockets.push(await Bun.connect({ hostname: "127.0.0.1", port: target.port, socket: { data: () => {}, close: () => void closedIdx.add(i) } }));
    }
    await waitFor(async () => (await refused("tcp_connection_limit")) >= 1, 5000, "the connection refusal counted");
    // The agent counts the refusal as it closes the socket; the close reaches this client a moment later.
    await waitFor(() => closedIdx.size >= 1, 5000, "the refused connection closed");
    expect(await refused("tcp_connection_limit")).toBe(1);
    expect([...closedIdx]).toEqual([64]);
    for (const s of sockets.splice(0)) s.end();
    expect((await agent.get("/calls")).recent ?? []).toHaveLength(0);
  }, 60_000);

  test.skipIf(!hasSipp)("a normal call is still served", async () => {
    const r = await runSipp({ scenario: "inbound-call", target: `127.0.0.1:${agent!.sipPort}`, audioFile: silenceFile(1), pauseMs: 500, timeoutMs: 20_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
  }, 30_000);
});
