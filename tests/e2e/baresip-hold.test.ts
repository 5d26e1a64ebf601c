/**
 * A softphone puts the agent on hold and takes it back: baresip 1.0.0 (Debian `baresip-core`) calls the
 * compiled agent, then `/hold` (re-INVITE a=sendonly) and `/resume` (a=sendrecv) through its `cons`
 * module (menu commands over UDP). The agent must answer each from its SDP session, go silent during the
 * hold (no RTP at all, its conversation paused) and talk again after it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RtpCapture } from "../support/capture.ts";
import { freeUdpPort, freeUdpPortRange } from "../support/ports.ts";
import { missingTools, spawnManaged } from "../support/process.ts";
import { writeWavFile } from "../support/wav.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const missing = missingTools(["baresip", "dumpcap"]);
let agent: RunningAgent;
let dir: string;

beforeAll(async () => {
  if (missing.length === 0) agent = await startAgent();
}, 120_000);
afterAll(async () => {
  await agent?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test.skipIf(missing.length > 0)("baresip /hold then /resume: re-INVITEs answered, the agent silent while held and talking after", async () => {
  dir = mkdtempSync(join(tmpdir(), "baresip-hold-"));
  const sip = await freeUdpPortRange(2);
  const rtp = await freeUdpPortRange(20);
  const cons = await freeUdpPort();
  writeWavFile(join(dir, "mic.wav"), new Int16Array(8000 * 40), 8000); // 40 s of silence: baresip hangs up when it ends
  await Bun.write(
    join(dir, "config"),
    [
      "poll_method epoll",
      `sip_listen 127.0.0.1:${sip}`,
      "net_interface 127.0.0.1",
      `audio_source aufile,${join(dir, "mic.wav")}`,
      "audio_player aubridge,nil",
      "audio_alert aubridge,nil",
      "module_path /usr/lib/baresip/modules",
      "module g711.so",
      "module aufile.so",
      "module aubridge.so",
      "module cons.so",
      "module_app account.so",
      "module_app menu.so",
      `cons_listen 127.0.0.1:${cons}`,
      `rtp_ports ${rtp}-${rtp + 19}`,
      "",
    ].join("\n"),
  );
  await Bun.write(join(dir, "accounts"), `<sip:caller@127.0.0.1:${sip}>;regint=0\n`);
  const cap = await RtpCapture.start({ portRanges: [[rtp, rtp + 19]], ports: [agent.sipPort] });
  const phone = spawnManaged(["baresip", "-f", dir, "-t", "60", "-e", `/dial sip:agent@127.0.0.1:${agent.sipPort}`], { cwd: dir, name: "baresip" });
  const command = async (c: string) => {
    const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    s.send(`${c}\n`, cons, "127.0.0.1");
    await Bun.sleep(50);
    s.close();
  };
  try {
    await waitFor(async () => agent.logs().some((l) => l.msg === "call answered"), 15_000, "the call answered");
    await Bun.sleep(1500); // the greeting is under way
    await command("/hold");
    await waitFor(async () => agent.logs().some((l) => l.msg === "conversation on hold"), 10_000, "the conversation on hold");
    await Bun.sleep(4000);
    await command("/resume");
    await waitFor(async () => agent.logs().some((l) => l.msg === "conversation resumed"), 10_000, "the conversation resumed");
    await Bun.sleep(7000); // long enough for baresip's RTCP reports (every 5 s) to come in
    await command("/hangup");
    await waitFor(async () => (await agent.get("/calls")).recent.length > 0, 10_000, "the call ended");
  } finally {
    await phone.stop({ graceMs: 1000 });
  }
  const { datagrams } = await cap.stop();
  const text = (d: { payload: Uint8Array }) => new TextDecoder().decode(d.payload);
  const sipMsgs = datagrams.filter((d) => d.srcPort === agent.sipPort || d.dstPort === agent.sipPort);
  const reinvites = sipMsgs.filter((d) => d.dstPort === agent.sipPort && /^INVITE [^]*CSeq: *\d+ INVITE/.test(text(d)) && /\r\nTo:[^\r]*tag=/i.test(text(d)));
  expect(reinvites.length, "baresip's hold and resume re-INVITEs").toBeGreaterThanOrEqual(2);
  const holdReq = reinvites.find((d) => /a=sendonly/.test(text(d)))!;
  const resumeReq = reinvites.find((d) => d.timeMs > holdReq.timeMs && /a=sendrecv/.test(text(d)))!;
  expect(holdReq).toBeDefined();
  expect(resumeReq).toBeDefined();
  const answers = sipMsgs.filter((d) => d.srcPort === agent.sipPort && /^SIP\/2\.0 200[^]*CSeq: *\d+ INVITE/.test(text(d)));
  const holdOk = answers.find((d) => d.timeMs > holdReq.timeMs)!;
  expect(text(holdOk)).toMatch(/\r\na=recvonly\r\n/);
  const resumeOk = answers.find((d) => d.timeMs > resumeReq.timeMs)!;
  expect(text(resumeOk)).toMatch(/\r\na=sendrecv\r\n/);
  // The agent's RTP: none between the hold's 200 and the resume request; audible audio after the resume.
  const ours = datagrams.filter((d) => d.srcPort >= agent.rtpStart && d.srcPort <= agent.rtpEnd && d.dstPort >= rtp && d.dstPort <= rtp + 19 && (d.payload[1]! & 0x7f) === 0);
  expect(ours.filter((d) => d.timeMs > holdOk.timeMs + 100 && d.timeMs < resumeReq.timeMs)).toHaveLength(0);
  const after = ours.filter((d) => d.timeMs > resumeOk.timeMs);
  expect(after.length).toBeGreaterThan(0);
  // μ-law silence is 0xFF/0x7F; speech bytes vary. The greeting cut by the hold plays its rest.
  const loud = after.filter((d) => d.payload.subarray(12).some((b) => b !== 0xff && b !== 0x7f && b !== 0xfe && b !== 0x7e));
  expect(loud.length, "agent speech after the resume").toBeGreaterThan(10);
  // RTCP both ways (RFC 3550 §6): our SRs reached baresip's RTCP port, and its reports about our stream
  // reached the metrics.
  expect(datagrams.some((d) => d.srcPort === ours[0]!.srcPort + 1 && d.payload[1] === 200)).toBe(true);
  const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
  expect(Number(/^voice_agent_rtcp_fraction_lost_count (\d+)/m.exec(metrics)?.[1] ?? 0), "far-end RTCP reports counted").toBeGreaterThan(0);
}, 90_000);
