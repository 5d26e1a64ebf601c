/**
 * RTP attacks on a live call to the compiled agent (issue 10, Media): SIPp calls and streams its
 * audio; mid-call a second source on the caller's own address (another port) and a foreign address
 * each send a 5-packet burst of loud audio, packets of a payload type never negotiated arrive, and
 * twenty 60 KB datagrams hit the call's RTP port. The agent's audio must keep going to the caller
 * only (symmetric latch held, RFC 4961), with its pacing in the attack window as outside it (tshark/
 * dumpcap capture on lo), and every dropped datagram counted in /metrics.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { RtpCapture } from "../support/capture.ts";
import { freeUdpPortRange } from "../support/ports.ts";
import { missingTools } from "../support/process.ts";
import { streamsByPort } from "../support/rtp-streams.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { synthesizeCallerAudio } from "../support/speech.ts";
import { startAgent, type RunningAgent } from "./agent.ts";
import { metricValue, pacingBound, pacingInWindow, waitForLog, waitSteadyRtp } from "./attack-support.ts";

const missing = missingTools(["sipp", "dumpcap", "flite"]);
let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
});

describe.skipIf(missing.length > 0)("RTP attacks during a call (compiled binary, loopback)", () => {
  test("bursts from other sources, unknown payload types and 60 KB datagrams: audio stays with the caller, pacing unchanged, drops counted", async () => {
    agent = await startAgent({ IDLE_PROMPT_S: "3600" });
    // 15 s: answer and steady RTP (~2 s), the ~6 s attack, ~7 s after it as the reference window (was 24 s;
    // the file took 26 s on CPU 1, 6 Dec 2026, with 902 reference intervals where ~400 make a p99).
    const caller = await synthesizeCallerAudio([{ silenceMs: 15_000 }], { leadSilenceMs: 0, trailSilenceMs: 0 });
    const media = await freeUdpPortRange(4);
    // Attackers: the caller's own address from another port (allowed address, not the latched source),
    // and a foreign loopback address. Both record anything the agent might send them.
    const toAttacker: number[] = [];
    const sameHost = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: () => void toAttacker.push(1) } });
    const foreign = await Bun.udpSocket({ hostname: "127.0.0.2", port: 0, socket: { data: () => void toAttacker.push(2) } });
    const cap = await RtpCapture.start({
      portRanges: [[media, media + 3], [agent.rtpStart, agent.rtpEnd]],
      ports: [agent.sipPort, sameHost.port, foreign.port],
    });
    const sipp = runSipp({
      scenario: "inbound-call",
      target: `127.0.0.1:${agent.sipPort}`,
      mediaPort: media,
      audioFile: caller.path,
      pauseMs: caller.durationMs,
      timeoutMs: caller.durationMs + 30_000,
    });
    const answered = await waitForLog(() => agent!.logs(), (l) => l.msg === "call answered", 20_000, "the call to be answered");
    const rtpPort: number = answered.rtpPort;
    await waitSteadyRtp(() => cap.datagrams(), [agent.rtpStart, agent.rtpEnd], media, 30_000); // latched, pacer steady

    const loud = new Uint8Array(160).fill(0x80); // μ-law full scale
    const pkt = (seq: number, pt = 0, payload = loud) =>
      serializeRtp({ marker: false, payloadType: pt, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0x0badf00d, payload });
    const huge = pkt(400, 0, new Uint8Array(60_000).fill(0x80)); // would be 375 frames of audio
    const attackFrom = Date.now();
    // Over ~6 s: three rounds of bursts (5 packets from each source, 5 of an unknown PT) and twenty
    // 60 KB datagrams, so the window holds ~300 pacing intervals (its p99 is not one hiccup).
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 5; i++) sameHost.send(pkt(100 * round + i), rtpPort, "127.0.0.1");
      for (let i = 0; i < 5; i++) foreign.send(pkt(100 * round + 10 + i), rtpPort, "127.0.0.1");
      for (let i = 0; i < 5; i++) sameHost.send(pkt(100 * round + 20 + i, 18), rtpPort, "127.0.0.1"); // G.729: not negotiated
      for (let i = 0; i < 7 && round * 7 + i < 20; i++) {
        sameHost.send(huge, rtpPort, "127.0.0.1");
        await Bun.sleep(285);
      }
    }
    const attackTo = Date.now() + 200;

    const r = await sipp;
    const res = await cap.stop();
    const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
    sameHost.close();
    foreign.close();

    expect(r.exitCode, describeSipp(r)).toBe(0);
    // The agent never sent anything to the attackers: the latch stayed on the caller.
    const fromAgent = res.datagrams.filter((d) => d.srcPort === rtpPort);
    expect(fromAgent.filter((d) => d.dstPort === sameHost.port || d.dstPort === foreign.port).length).toBe(0);
    expect(toAttacker.length).toBe(0);
    const [toCaller] = streamsByPort(res.rtpStreams, media).filter((s) => s.src.port === rtpPort);
    expect(toCaller).toBeDefined();
    const pacing = pacingInWindow(toCaller!, attackFrom, attackTo);
    console.log(`rtp-attacks: agent→caller pacing in attack window ${JSON.stringify(pacing.inside)}, outside ${JSON.stringify(pacing.outside)}`);
    expect(pacing.inside.intervals).toBeGreaterThan(250); // ~6 s of 20 ms packets kept flowing
    // "Unchanged": p99 inter-packet lateness in the attack window within the bound of the same call
    // outside it — 2× plus 10 ms of slack for a shared, busy 2-core machine (a 60 KB datagram decoded as
    // audio would cost ~375 frames of VAD/STT work each and show as hundreds of ms).
    expect(pacing.inside.p99LatenessMs).toBeLessThan(pacingBound(pacing.outside.p99LatenessMs));
    // Every attack datagram was dropped and counted, at constant cost.
    const dropped = (reason: string) => metricValue(metrics, "voice_agent_rtp_dropped_total", { reason }) ?? -1;
    expect(dropped("oversize")).toBe(20);
    expect(dropped("source")).toBe(30);
    expect(dropped("payload_type")).toBeGreaterThanOrEqual(15);
    expect(agent.proc.running).toBe(true);
  }, 90_000);
});
