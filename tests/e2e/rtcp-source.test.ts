/**
 * A stranger's forged RTCP on a call's RTCP port (s19 fresheyes finding): the agent's RTCP port (its RTP
 * port + 1) took receiver reports from any address, so anyone who found it could write any loss, jitter and
 * round-trip time into the call's record (`GET /calls/:id` → `rtcp`, kept in calls.db) and the RTCP
 * metrics. On the compiled agent (loopback): a call from 127.0.0.1 whose caller sends RTP, then
 *  - a forged RR about the agent's stream from 127.0.0.66 (all lost, jitter 8 s) → not in the record, not counted;
 *  - the caller's own RR from its RTCP port (its RTP port + 1) → in the record and counted;
 *  - another forgery afterwards does not overwrite it.
 * `VOICE_AGENT_E2E_BINARY=/path bun test …` runs it against another binary (the before/after).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { metricValue, sipRequest, type Udp } from "./attack-support.ts";

const STRANGER = "127.0.0.66";
const started: RunningAgent[] = [];
const sockets: Udp[] = [];
afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all(started.map((a) => a.stop()));
}, 30_000);

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const u32 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

describe("RTCP from an address that is not the caller's (compiled binary, loopback)", () => {
  test("a stranger's receiver report on the call's RTCP port is dropped; the caller's own is recorded", async () => {
    const binary = process.env.VOICE_AGENT_E2E_BINARY;
    const agent = await startAgent({ IDLE_PROMPT_S: "3600" }, ["--mode", "inbound"], binary ? { binary } : {});
    started.push(agent);
    const to = { host: "127.0.0.1", port: agent.sipPort };
    const sip: string[] = [];
    const signalling = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void sip.push(Buffer.from(d).toString()) } });
    let agentSsrc: number | undefined;
    const media = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      binaryType: "uint8array",
      socket: { data: (_s, d) => void (d[1]! < 200 && (agentSsrc ??= new DataView(d.buffer, d.byteOffset).getUint32(8))) },
    });
    const callerRtcp = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, binaryType: "uint8array" });
    const stranger = await Bun.udpSocket({ hostname: STRANGER, port: 0, binaryType: "uint8array" });
    sockets.push(signalling, media, callerRtcp, stranger);
    const from = { host: "127.0.0.1", port: signalling.port };
    const callId = `rtcp-src-${process.pid}@127.0.0.1`;
    const invite = sipRequest("INVITE", { to, from, callId, tag: "caller" }).replace(/^m=audio \d+/m, `m=audio ${media.port}`);
    signalling.send(invite, to.port, to.host);
    const ok = await waitFor(() => sip.find((m) => m.startsWith("SIP/2.0 200") && m.includes(callId)), 15_000, "the 200 OK");
    const toTag = /^To:.*;tag=([^;>\s]+)/im.exec(ok)![1]!;
    signalling.send(sipRequest("ACK", { to, from, callId, tag: "caller", toTag }), to.port, to.host);
    const rtpPort = Number(/^m=audio (\d+)/m.exec(ok)![1]);
    let seq = 0;
    const timer = setInterval(() => {
      media.send(serializeRtp({ marker: seq === 0, payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0xca11e4, payload: new Uint8Array(160).fill(0xff) }), rtpPort, "127.0.0.1");
      seq++;
    }, 20);
    const reportsCounted = async () => metricValue(await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text(), "voice_agent_rtcp_fraction_lost_count") ?? 0;
    try {
      const ssrc = await waitFor(() => agentSsrc, 15_000, "the agent's RTP (its SSRC)");
      await Bun.sleep(300); // our RTP has reached the agent: its stream is latched onto 127.0.0.1
      // RR, RC=1 about the agent's stream. Forged: 255/256 lost, cumulative 0x7fffff, jitter 65535 units (8 s).
      const forged = hex(`81c90007 ${u32(0x66666666)} ${u32(ssrc)} ff7fffff 00000001 0000ffff 00000000 00000000`);
      // The caller's: 10/256 lost, cumulative 1, jitter 80 units (10 ms).
      const real = hex(`81c90007 ${u32(0xca11e4)} ${u32(ssrc)} 0a000001 00000001 00000050 00000000 00000000`);
      for (let i = 0; i < 3; i++) stranger.send(forged, rtpPort + 1, "127.0.0.1");
      await Bun.sleep(500);
      const afterForgery = await reportsCounted();
      callerRtcp.send(real, rtpPort + 1, "127.0.0.1");
      await waitFor(async () => (await reportsCounted()) > afterForgery || undefined, 5000, "the caller's report counted");
      for (let i = 0; i < 3; i++) stranger.send(forged, rtpPort + 1, "127.0.0.1");
      await Bun.sleep(500);
      const counted = await reportsCounted();
      const [live] = (await agent.get("/calls")).active as any[];
      const rec = await agent.get(`/calls/${live.id}`);
      console.log(`rtcp-source: reports counted after the first forgeries ${afterForgery}, at the end ${counted}; record rtcp ${JSON.stringify(rec.rtcp)}`);
      expect(afterForgery).toBe(0);
      expect(counted).toBe(1);
      expect(rec.rtcp).toMatchObject({ fractionLost: 10 / 256, cumulativeLost: 1, jitterMs: 10 });
      // The caller hangs up, its RTP stopped first (a packet to the port the BYE closes draws an ICMP
      // unreachable, which Bun raises on our socket). Left up, the call held the agent's stop for its 8 s
      // grace: SIGTERM lets a live call go on for DRAIN_TIMEOUT_S, 30 s.
      clearInterval(timer);
      await Bun.sleep(100);
      signalling.send(sipRequest("BYE", { to, from, callId, tag: "caller", toTag, cseq: 2 }), to.port, to.host);
      await waitFor(() => sip.find((m) => m.startsWith("SIP/2.0 200") && m.includes(callId) && /^CSeq:\s*2 BYE/im.test(m)), 5000, "the 200 to our BYE");
    } finally {
      clearInterval(timer);
    }
  }, 60_000);
});
