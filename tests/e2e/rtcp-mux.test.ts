/**
 * rtcp-mux (RFC 5761) on the compiled agent: SIPp offers `a=rtcp-mux`; the caller's media (RTP and
 * RTCP) is one socket of the test at the SDP's address and port. Must hold (capture on lo):
 *  - the 200 OK answers with `a=rtcp-mux` (§5.1.1);
 *  - the agent's sender reports leave from its RTP port to the caller's RTP port (§4: "the RTCP packets
 *    are sent to the same port as the RTP packets"), nothing goes to the caller's RTP port + 1, and
 *    nothing leaves from the agent's RTP port + 1;
 *  - the caller's receiver report, sent to the agent's RTP port, is demultiplexed as RTCP (§4, by the
 *    second octet): it reaches the agent's RTCP figures (/metrics, the call record), not the audio;
 *  - the report (loss, jitter, RTT) is persisted with the call record: GET /calls/:id shows it, also
 *    from a new agent process on the same DATA_DIR (calls.db).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ntpMiddle, parseRtcp } from "../../src/rtp/rtcp.ts";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { RtpCapture } from "../support/capture.ts";
import { freeUdpPort, freeUdpPortRange } from "../support/ports.ts";
import { missingTools } from "../support/process.ts";
import { describeSipp, runSipp, tellSippToHangUp } from "../support/sipp.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { waitForLog } from "./attack-support.ts";

const missing = missingTools(["sipp", "dumpcap", "flite"]);
let agent: RunningAgent | undefined;
let reopened: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
  await reopened?.stop();
}, 30_000);

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
const u32 = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

describe.skipIf(missing.length > 0)("rtcp-mux offered by SIPp (compiled binary, loopback)", () => {
  test("answered with a=rtcp-mux; SRs on the RTP ports both ends; the caller's RR on the RTP port reaches the RTCP figures", async () => {
    agent = await startAgent({ IDLE_PROMPT_S: "3600" });
    const media = await freeUdpPortRange(2);
    const srs: Uint8Array[] = [];
    const caller = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: media,
      binaryType: "uint8array",
      socket: { data: (_s, d) => void (d[1] === 200 && srs.push(d.slice())) },
    });
    const cap = await RtpCapture.start({ portRanges: [[media, media + 1], [agent.rtpStart, agent.rtpEnd]] });
    const sippPort = await freeUdpPort();
    const sipp = runSipp({
      scenario: "rtcp-mux-call", // hangs up when told (below), once the reports have been exchanged
      target: `127.0.0.1:${agent.sipPort}`,
      localPort: sippPort,
      keys: { sdp_ip: "127.0.0.1", sdp_port: String(media) },
      timeoutMs: 60_000,
      extraArgs: ["-cid_str", `rtcp-${sippPort}-%u@%s`],
    });
    const answered = await waitForLog(() => agent!.logs(), (l) => l.msg === "call answered", 20_000, "the call to be answered");
    const rtpPort: number = answered.rtpPort;
    let seq = 0;
    const timer = setInterval(() => {
      caller.send(serializeRtp({ marker: seq === 0, payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0xca11e4, payload: new Uint8Array(160).fill(0xff) }), rtpPort, "127.0.0.1");
      seq++;
    }, 20);
    let rr: Uint8Array | undefined;
    try {
      // The agent's first SR after 5 s (RFC 3550 §6.2), then our RR about its stream with LSR/DLSR.
      await waitFor(() => srs.length > 0, 15_000, "a sender report from the agent on our RTP port");
      const sr = parseRtcp(srs[0]!)[0] as Extract<ReturnType<typeof parseRtcp>[number], { type: "sr" }>;
      // RR, RC=1: our SSRC, then a block about the agent's SSRC: 2 of its packets lost, jitter 80 units,
      // LSR = the middle of its SR's NTP time, DLSR = 0.
      rr = hex(`81c90007 ${u32(0xca11e4)} ${u32(sr.ssrc)} 05000002 00000100 00000050 ${u32(ntpMiddle(sr.ntpMsw, sr.ntpLsw))} 00000000`);
      caller.send(rr, rtpPort, "127.0.0.1");
      await Bun.sleep(500);
    } finally {
      clearInterval(timer);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
    await tellSippToHangUp(sippPort, `rtcp-${sippPort}-1@127.0.0.1`);
    const r = await sipp;
    const { datagrams } = await cap.stop();
    caller.close();

    expect(r.exitCode, describeSipp(r)).toBe(0);
    const ok = r.messages.find((m) => m.direction === "received" && m.status === 200 && /CSeq:\s*1 INVITE/.test(m.text));
    expect(ok?.text).toMatch(/\na=rtcp-mux\s*\n/);

    const isRtcp = (d: { payload: Uint8Array }) => d.payload[1]! >= 200 && d.payload[1]! <= 204;
    const agentSrs = datagrams.filter((d) => d.srcPort === rtpPort && d.dstPort === media && isRtcp(d));
    console.log(`rtcp-mux: ${agentSrs.length} SRs from the agent's RTP port to ours; to our port+1 ${datagrams.filter((d) => d.dstPort === media + 1).length}; from its port+1 ${datagrams.filter((d) => d.srcPort === rtpPort + 1).length}`);
    expect(agentSrs.length).toBeGreaterThanOrEqual(1);
    expect(datagrams.filter((d) => d.dstPort === media + 1)).toHaveLength(0);
    expect(datagrams.filter((d) => d.srcPort === rtpPort + 1)).toHaveLength(0);
    // Our RR went to the agent's RTP port (on the wire), and it was read as RTCP, not dropped as audio.
    expect(datagrams.some((d) => d.srcPort === media && d.dstPort === rtpPort && d.payload[1] === 201)).toBe(true);
    expect(Number(/^voice_agent_rtcp_fraction_lost_count (\d+)/m.exec(metrics)?.[1] ?? 0), "the caller's report counted").toBe(1);
    expect(metrics).not.toMatch(/voice_agent_rtp_dropped_total\{reason="payload_type"\} [1-9]/);
    const [listed] = (await agent.get("/calls")).recent as any[];
    expect(listed?.endReason).toBe("remote_bye");
    // The caller's report on the record: 2 lost, 5/256 lost in the interval, jitter 80/8 = 10 ms, and a
    // round-trip time (LSR given, DLSR 0: the time from the agent's SR to our RR's arrival).
    const expectRtcp = (rec: any) => {
      expect(rec.rtcp).toMatchObject({ cumulativeLost: 2, fractionLost: 5 / 256, jitterMs: 10 });
      expect(rec.rtcp.rttMs).toBeGreaterThanOrEqual(0);
      expect(rec.rtcp.rttMs).toBeLessThan(15_000);
    };
    expectRtcp(await agent.get(`/calls/${listed.id}`));
    // Persisted: a new agent process on the same calls.db reads it back.
    await agent.proc.stop({ graceMs: 8000 });
    reopened = await startAgent({ DATA_DIR: agent.dataDir });
    const back = await reopened.get(`/calls/${listed.id}`);
    console.log(`rtcp-mux: record ${listed.id} after a restart: rtcp ${JSON.stringify(back.rtcp)}`);
    expectRtcp(back);
  }, 90_000);
});
