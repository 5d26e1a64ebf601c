/**
 * The whole e2e chain on real tools: SIPp calls the stand-in UAS and plays synthetic caller speech;
 * the stand-in "agent" answers with two synthetic utterances; dumpcap captures loopback; we decode
 * both RTP directions and check bytes, audio, utterance count and pacing.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { RtpCapture, captureFilter } from "../support/capture.ts";
import { runSipp, describeSipp } from "../support/sipp.ts";
import { synthesizeCallerAudio } from "../support/speech.ts";
import { assembleByTimestamp, assembleByArrival, pacingStats, streamsByPort } from "../support/rtp-streams.ts";
import { matchAudio, segmentTalkspurts, trimSilence } from "../support/audio-match.ts";
import { saveArtifactWav, ARTIFACT_DIR } from "../support/wav.ts";
import { freeUdpPortRange, LOOPBACK } from "../support/ports.ts";
import { stopAllManaged, liveManagedCount } from "../support/process.ts";
import { udpDatagramsFromFile } from "../support/pcap.ts";
import { StandinUas } from "./standin-uas.ts";
import { concatBytes } from "../../src/util/concat.ts";

afterAll(async () => {
  await stopAllManaged();
});


describe("capture of a real SIPp call", () => {
  test("both RTP directions decode to the audio that was sent", async () => {
    const caller = await synthesizeCallerAudio("I would like to book a table for two people.", { leadSilenceMs: 200, trailSilenceMs: 200 });
    const agent = await synthesizeCallerAudio(["Hello, this is the restaurant assistant.", "How can I help you?"], { voice: "kal16", leadSilenceMs: 0, trailSilenceMs: 100, gapMs: 800 });
    const uas = await new StandinUas({ agentAudio: agent.bytes, audioDelayMs: 100 }).start();
    const media = await freeUdpPortRange(4);
    const cap = await RtpCapture.start({ ports: [uas.sipPort, uas.rtpPort], portRanges: [[media, media + 3]], pcapPath: `${ARTIFACT_DIR}/tooling-capture.pcap` });
    let r;
    try {
      r = await runSipp({
        scenario: "inbound-call",
        target: `${LOOPBACK}:${uas.sipPort}`,
        mediaPort: media,
        audioFile: caller.path,
        pauseMs: Math.max(caller.durationMs, agent.durationMs) + 500,
        timeoutMs: 20_000,
      });
    } finally {
      uas.stop();
    }
    const res = await cap.stop();
    expect(r.exitCode, describeSipp(r)).toBe(0);

    // SIP was captured too.
    const sip = res.datagrams.filter((d) => d.dstPort === uas.sipPort).map((d) => new TextDecoder().decode(d.payload).split("\r\n", 1)[0]);
    expect(sip[0]).toStartWith("INVITE sip:agent@");
    expect(sip).toContain(`BYE sip:agent@127.0.0.1:${uas.sipPort} SIP/2.0`);

    // Caller → agent: SIPp's rtp_stream sends the file bytes verbatim, PT 0, from the -mp port.
    const [up] = streamsByPort(res.rtpStreams, uas.rtpPort);
    expect(up).toBeDefined();
    expect(up!.src.port).toBe(media);
    expect(up!.payloadTypes).toEqual([0]);
    expect(up!.lost).toBe(0);
    const upBytes = concatBytes(up!.audioPackets.map((p) => p.payload));
    expect(upBytes.length).toBeGreaterThanOrEqual(caller.bytes.length - 160);
    expect(upBytes.subarray(0, caller.bytes.length)).toEqual(caller.bytes.subarray(0, upBytes.length));
    const upPcm = assembleByTimestamp(up!);
    expect(matchAudio(upPcm, trimSilence(caller.pcm)).score).toBeGreaterThan(0.99);

    // Agent → caller: two utterances, bytes as sent, 20 ms pacing.
    const [down] = streamsByPort(res.rtpStreams, media);
    expect(down).toBeDefined();
    expect(down!.src.port).toBe(uas.rtpPort);
    expect(down!.audioPackets[0]!.marker).toBe(true);
    expect(down!.lost).toBe(0);
    expect(down!.duplicates).toBe(0);
    const downPcm = assembleByTimestamp(down!);
    expect(downPcm.length).toBe(Math.ceil(agent.bytes.length / 160) * 160);
    expect(downPcm.subarray(0, agent.pcm.length)).toEqual(agent.pcm);
    const spurts = segmentTalkspurts(downPcm);
    expect(spurts.length).toBe(2);
    const sentSpurts = segmentTalkspurts(agent.pcm);
    expect(spurts).toEqual(sentSpurts);
    expect(spurts[1]!.startMs).toBeGreaterThan(agent.phrases[1]!.startMs); // inside phrase 2 (flite lead-in)
    expect(spurts[1]!.startMs).toBeLessThan(agent.phrases[1]!.endMs);
    const pacing = pacingStats(down!);
    expect(pacing.meanIntervalMs).toBeGreaterThan(19);
    expect(pacing.meanIntervalMs).toBeLessThan(21);
    expect(pacing.rateRatio).toBeGreaterThan(0.97);
    expect(pacing.rateRatio).toBeLessThan(1.03);
    const arrival = assembleByArrival(down!);
    expect(Math.abs(arrival.length - downPcm.length)).toBeLessThan(8 * 100); // within 100 ms

    // The pcap written to disk holds the same datagrams (plus the capture's marker datagrams).
    const fromFile = udpDatagramsFromFile(new Uint8Array(await Bun.file(`${ARTIFACT_DIR}/tooling-capture.pcap`).arrayBuffer()));
    expect(fromFile.length).toBeGreaterThanOrEqual(res.datagrams.length);

    saveArtifactWav("tooling-capture-caller", upPcm);
    saveArtifactWav("tooling-capture-agent", downPcm);
    console.log(
      `capture: startup ${res.startupMs.toFixed(0)} ms, stop ${res.stopMs.toFixed(0)} ms, sipp ${r.durationMs.toFixed(0)} ms, ` +
        `${res.datagrams.length} datagrams; agent pacing mean ${pacing.meanIntervalMs.toFixed(2)} ms p99 dev ${pacing.p99DeviationMs.toFixed(2)} ms`,
    );
    expect(liveManagedCount()).toBe(0);
  }, 30_000);

  test("tshark works as the capture tool too", async () => {
    const sink = await Bun.udpSocket({ hostname: LOOPBACK });
    const cap = await RtpCapture.start({ ports: [sink.port], tool: "tshark" });
    const tx = await Bun.udpSocket({ hostname: LOOPBACK });
    for (let i = 0; i < 5; i++) tx.send(`datagram ${i}`, sink.port, LOOPBACK);
    const res = await cap.stop();
    const [txPort, sinkPort] = [tx.port, sink.port];
    tx.close();
    sink.close();
    expect(res.datagrams.map((d) => new TextDecoder().decode(d.payload))).toEqual([0, 1, 2, 3, 4].map((i) => `datagram ${i}`));
    expect(res.datagrams.every((d) => d.dstPort === sinkPort && d.srcPort === txPort && d.srcIp === LOOPBACK)).toBe(true);
  }, 20_000);

  test("a datagram sent right before stop() is not lost", async () => {
    const sink = await Bun.udpSocket({ hostname: LOOPBACK });
    const cap = await RtpCapture.start({ ports: [sink.port] });
    sink.send("last words", sink.port, LOOPBACK);
    const res = await cap.stop();
    sink.close();
    expect(res.datagrams.map((d) => new TextDecoder().decode(d.payload))).toEqual(["last words"]);
  }, 20_000);

  test("captureFilter builds pcap-filter syntax", () => {
    expect(captureFilter([5060], [[20000, 20003]])).toBe("udp and (port 5060 or portrange 20000-20003)");
    expect(captureFilter([], [])).toBe("udp");
  });
});
