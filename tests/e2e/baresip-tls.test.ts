/**
 * SIP over TLS (RFC 3261 §26.2, §18 over TLS; SIP_TLS_PORT) with a real peer: baresip 1.0.0 (Debian
 * `baresip-core`, libre built with OpenSSL) calls the compiled agent at `sip:agent@127.0.0.1:PORT;
 * transport=tls`; the agent's certificate is made by openssl in this test (CN and subjectAltName
 * 127.0.0.1). Debian's SIPp has no TLS, hence baresip. Measured: baresip 1.0.0 does not verify the
 * server's certificate for SIP over TLS (with `sip_cafile` naming an unrelated certificate it still
 * connects), so this proves the TLS transport and the dialog over it, not certificate validation.
 *
 * Must hold: the call is set up and torn down over the TLS connection (baresip reports it established;
 * its BYE arrives, the record ends "remote_bye"); on the wire (dumpcap on lo, the TLS port) the
 * connection opens with a TLS handshake and carries only TLS records both ways — no cleartext SIP;
 * the agent's RTP reaches baresip.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RtpCapture } from "../support/capture.ts";
import { freeTcpPort, freeUdpPortRange } from "../support/ports.ts";
import { missingTools, spawnManaged } from "../support/process.ts";
import { writeWavFile } from "../support/wav.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const missing = missingTools(["baresip", "openssl", "dumpcap", "tshark"]);
let agent: RunningAgent | undefined;
let dir: string | undefined;
let tlsPort = 0;

beforeAll(async () => {
  if (missing.length > 0) return;
  dir = mkdtempSync(join(tmpdir(), "va-baresip-tls-"));
  const gen = Bun.spawnSync([
    "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
  ]);
  if (gen.exitCode !== 0) throw new Error(`openssl: ${gen.stderr.toString()}`);
  tlsPort = await freeTcpPort();
  agent = await startAgent({
    SIP_TLS_PORT: String(tlsPort),
    SIP_TLS_CERT_FILE: join(dir, "cert.pem"),
    SIP_TLS_KEY_FILE: join(dir, "key.pem"),
    IDLE_PROMPT_S: "3600",
  });
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

/** TCP segments with payload from a pcap, via tshark: source port and payload bytes. */
function tcpPayloads(pcap: string): { srcPort: number; dstPort: number; bytes: Buffer }[] {
  const r = Bun.spawnSync(["tshark", "-r", pcap, "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.payload"]);
  if (r.exitCode !== 0) throw new Error(`tshark: ${r.stderr.toString()}`);
  return r.stdout
    .toString()
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
      const [src, dst, hex] = l.split("\t");
      return { srcPort: Number(src), dstPort: Number(dst), bytes: Buffer.from((hex ?? "").replace(/:/g, ""), "hex") };
    });
}

test.skipIf(missing.length > 0)("baresip calls over TLS: set up and torn down on the TLS connection, only TLS records on the wire, RTP both ways", async () => {
  const d = dir!;
  const sip = await freeUdpPortRange(2); // baresip also binds SIP port + 1 for TLS
  const rtp = await freeUdpPortRange(20);
  writeWavFile(join(d, "mic.wav"), new Int16Array(8000 * 10), 8000); // 10 s: baresip hangs up (BYE) when it ends
  await Bun.write(
    join(d, "config"),
    [
      "poll_method epoll",
      `sip_listen 127.0.0.1:${sip}`,
      "net_interface 127.0.0.1",
      `audio_source aufile,${join(d, "mic.wav")}`,
      "audio_player aubridge,nil",
      "audio_alert aubridge,nil",
      "module_path /usr/lib/baresip/modules",
      "module g711.so",
      "module aufile.so",
      "module aubridge.so",
      "module_app account.so",
      "module_app menu.so",
      `rtp_ports ${rtp}-${rtp + 19}`,
      "",
    ].join("\n"),
  );
  await Bun.write(join(d, "accounts"), `<sip:caller@127.0.0.1:${sip};transport=tls>;regint=0\n`);
  const pcap = join(d, "tls.pcap");
  const dumpcap = spawnManaged(["dumpcap", "-i", "lo", "-f", `tcp port ${tlsPort}`, "-w", pcap], { name: "dumpcap" });
  await dumpcap.waitForLine(/Capturing on/, { timeoutMs: 10_000 });
  const cap = await RtpCapture.start({ portRanges: [[rtp, rtp + 19]] });
  const phone = spawnManaged(["baresip", "-f", d, "-t", "30", "-e", `/dial sip:agent@127.0.0.1:${tlsPort};transport=tls`], { cwd: d, name: "baresip" });
  try {
    await waitFor(async () => (await agent!.get("/calls")).recent.length > 0, 30_000, "the call ended");
  } finally {
    await phone.stop({ graceMs: 1000 });
  }
  await Bun.sleep(300);
  await dumpcap.stop({ signal: "SIGINT", graceMs: 3000 });
  const { datagrams } = await cap.stop();
  const out = phone.stdout();
  const [record] = (await agent!.get("/calls")).recent as any[];

  expect(out, "baresip's own account of the call").toMatch(/Call established: sip:agent@127\.0\.0\.1:\d+;transport=tls/);
  expect(out).toMatch(/incoming rtp for 'audio' established/);
  expect(record.endReason).toBe("remote_bye");
  expect(record.durationMs).toBeGreaterThan(5_000);

  // The wire: a TLS connection (handshake record 0x16, version 3.x, first from the client), then TLS
  // application-data records (0x17) both ways, and no cleartext SIP in any segment.
  const segs = tcpPayloads(pcap);
  const fromPhone = segs.filter((s) => s.dstPort === tlsPort);
  const fromAgent = segs.filter((s) => s.srcPort === tlsPort);
  console.log(`baresip-tls: ${fromPhone.length} segments from baresip, ${fromAgent.length} from the agent; RTP ${datagrams.length} datagrams`);
  expect([fromPhone[0]?.bytes[0], fromPhone[0]?.bytes[1]]).toEqual([0x16, 0x03]);
  expect(fromAgent[0]?.bytes[0]).toBe(0x16);
  for (const side of [fromPhone, fromAgent]) expect(side.some((s) => s.bytes[0] === 0x17)).toBe(true);
  expect(segs.filter((s) => /SIP\/2\.0|INVITE sip:|BYE sip:/.test(s.bytes.toString("latin1")))).toHaveLength(0);

  // Media both ways on the call the TLS signalling set up.
  const agentRtp = datagrams.filter((x) => x.srcPort >= agent!.rtpStart && x.srcPort <= agent!.rtpEnd && x.dstPort >= rtp && x.dstPort <= rtp + 19);
  const phoneRtp = datagrams.filter((x) => x.srcPort >= rtp && x.srcPort <= rtp + 19 && x.dstPort >= agent!.rtpStart && x.dstPort <= agent!.rtpEnd);
  expect(agentRtp.length).toBeGreaterThan(150);
  expect(phoneRtp.length).toBeGreaterThan(150);
}, 90_000);
