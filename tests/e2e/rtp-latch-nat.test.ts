/**
 * RTP latching for a caller behind NAT reached through a proxy (RTP_LATCH, src/rtp/symmetric-latch.ts),
 * on the compiled agent over loopback. Three places, as in the field:
 *  - the signalling comes from SIPp (the proxy), 127.0.0.1;
 *  - the SDP names the caller's private address, here 127.0.0.77:P (a socket of the test listens
 *    there, to see where the agent sends before and after latching);
 *  - the caller's RTP comes from the NAT's public address, 127.0.0.5 (a socket of the test).
 * `signalled` (default): the media from 127.0.0.5 is never latched — dropped and counted, the agent
 * keeps sending to the SDP address. `any`: the first source latches and gets the agent's audio; a
 * second source (127.0.0.6) is refused while the caller talks and takes over only after the caller
 * has been silent 500 ms.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { freeUdpPort } from "../support/ports.ts";
import { missingTools } from "../support/process.ts";
import { describeSipp, runSipp, tellSippToHangUp } from "../support/sipp.ts";
import { startAgent, type RunningAgent } from "./agent.ts";
import { metricValue, waitForLog } from "./attack-support.ts";

const missing = missingTools(["sipp", "flite"]);
const SDP_IP = "127.0.0.77";
let agent: RunningAgent | undefined;
const sockets: { close(): void }[] = [];
const timers: ReturnType<typeof setInterval>[] = [];
afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const s of sockets.splice(0)) s.close();
  await agent?.stop();
  agent = undefined;
});

/** A UDP socket on `hostname` counting the datagrams it receives, per source port. */
async function listener(hostname: string, port = 0) {
  const got: { atMs: number; srcPort: number }[] = [];
  const socket = await Bun.udpSocket({ hostname, port, socket: { data: (_s, _d, srcPort) => void got.push({ atMs: Date.now(), srcPort }) } });
  sockets.push(socket);
  return { socket, got, since: (t: number, src: number) => got.filter((g) => g.atMs >= t && g.srcPort === src).length };
}

/** Sends 20 ms PCMU packets (SSRC `ssrc`) from `from` to the agent's RTP port until stopped. */
function stream(from: Awaited<ReturnType<typeof listener>>, rtpPort: number, ssrc: number) {
  let seq = 0;
  const payload = new Uint8Array(160).fill(0xff);
  const send = () => {
    from.socket.send(serializeRtp({ marker: seq === 0, payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc, payload }), rtpPort, "127.0.0.1");
    seq++;
  };
  const timer = setInterval(send, 20);
  timers.push(timer);
  return { stop: () => clearInterval(timer), burst: (n: number) => { for (let i = 0; i < n; i++) send(); } };
}

/** Waits (≤ 20 s) until `l` got ≥ 40 of the agent's 50 packets in the last second. */
async function steady(l: Awaited<ReturnType<typeof listener>>, rtpPort: number): Promise<void> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    if (l.since(Date.now() - 1000, rtpPort) >= 40) return;
    await Bun.sleep(100);
  }
  throw new Error("the agent's RTP never flowed steadily to the latched source");
}

async function call(mode: "signalled" | "any") {
  // RTP_START_TIMEOUT_S off: under `signalled` nothing from the NAT address is ever accepted, so the
  // start-of-media rule (src/rtp/media-consent.ts: the SDP names 127.0.0.77, not the signalling's
  // 127.0.0.1) would end the call after 5 s, before these checks of where the audio goes are done.
  agent = await startAgent({ IDLE_PROMPT_S: "3600", RTP_LATCH: mode, RTP_START_TIMEOUT_S: "0" });
  const sdpPort = await freeUdpPort();
  const sdp = await listener(SDP_IP, sdpPort);
  const nat = await listener("127.0.0.5");
  const other = await listener("127.0.0.6");
  // The caller hangs up when told (tests/scenarios/nat-call-until-info.xml), once the checks are done.
  const sippPort = await freeUdpPort();
  const run = runSipp({
    scenario: "nat-call-until-info",
    target: `127.0.0.1:${agent.sipPort}`,
    localPort: sippPort,
    keys: { sdp_ip: SDP_IP, sdp_port: String(sdpPort) },
    timeoutMs: 60_000,
    extraArgs: ["-cid_str", `nat-${sippPort}-%u@%s`],
  });
  const hangUp = async () => (await tellSippToHangUp(sippPort, `nat-${sippPort}-1@127.0.0.1`), run);
  const answered = await waitForLog(() => agent!.logs(), (l) => l.msg === "call answered", 20_000, "the call to be answered");
  return { hangUp, sdp, nat, other, rtpPort: answered.rtpPort as number };
}

const dropsBySource = async (a: RunningAgent) =>
  metricValue(await (await fetch(`http://127.0.0.1:${a.httpPort}/metrics`)).text(), "voice_agent_rtp_dropped_total", { reason: "source" }) ?? 0;

describe.skipIf(missing.length > 0)("RTP latching behind NAT via a proxy (compiled binary, loopback)", () => {
  test("RTP_LATCH=signalled (default): media from an address neither the SDP nor the signalling named is never latched", async () => {
    const { hangUp, sdp, nat, rtpPort } = await call("signalled");
    const caller = stream(nat, rtpPort, 0x1234);
    await steady(sdp, rtpPort);
    const from = Date.now();
    await Bun.sleep(3_000);
    caller.stop();
    const [toNat, toSdp] = [nat.since(from, rtpPort), sdp.since(from, rtpPort)];
    const drops = await dropsBySource(agent!);
    const r = await hangUp();
    expect(r.exitCode, describeSipp(r)).toBe(0);
    console.log(`rtp-latch signalled: in 3 s ${toNat} to the NAT address, ${toSdp} to the SDP address; dropped by source ${drops}`);
    expect(toNat).toBe(0); // not latched
    expect(toSdp).toBeGreaterThan(75); // 3 s of 20 ms packets (150) still go to the SDP address
    expect(drops).toBeGreaterThan(100); // the caller's ~150 packets, refused
    expect(agent!.proc.running).toBe(true);
  }, 60_000);

  test("RTP_LATCH=any: the first source latches; a second one takes over only after 500 ms of silence", async () => {
    const { hangUp, sdp, nat, other, rtpPort } = await call("any");
    const caller = stream(nat, rtpPort, 0x1234);
    // Latched, and the call's first seconds (greeting set-up, which can pause the agent's sending) over.
    await steady(nat, rtpPort);
    const t1 = Date.now();
    await Bun.sleep(2_000);
    const toNat = nat.since(t1, rtpPort);
    const toSdp = sdp.since(t1, rtpPort);
    // While the caller talks, a second source's burst moves nothing, however many packets it holds.
    const intruder = stream(other, rtpPort, 0x9999);
    intruder.stop();
    intruder.burst(20);
    await Bun.sleep(1_000);
    const toOtherWhileCallerTalks = other.got.length;
    const dropsAfterBurst = await dropsBySource(agent!);
    // The caller falls silent (a NAT rebinding, a media server failover); after 500 ms the next
    // source takes over.
    caller.stop();
    await Bun.sleep(800);
    const t2 = Date.now();
    const mover = stream(other, rtpPort, 0x9999);
    await Bun.sleep(2_000);
    mover.stop();
    const toOther = other.since(t2 + 300, rtpPort);
    const toNatAfter = nat.since(t2 + 300, rtpPort);
    const r = await hangUp();
    expect(r.exitCode, describeSipp(r)).toBe(0);
    console.log(
      `rtp-latch any: latched ${toNat} to NAT / ${toSdp} to SDP in 2 s; second source during talk got ${toOtherWhileCallerTalks} (drops ${dropsAfterBurst}); after silence ${toOther} to it, ${toNatAfter} to NAT`,
    );
    expect(toNat).toBeGreaterThan(50); // 2 s of 20 ms packets (100) went to the NAT address
    expect(toSdp).toBe(0);
    expect(toOtherWhileCallerTalks).toBe(0);
    expect(dropsAfterBurst).toBeGreaterThanOrEqual(20);
    expect(toOther).toBeGreaterThan(40); // 1.7 s (85) moved to the new source
    expect(toNatAfter).toBe(0);
    expect(agent!.proc.running).toBe(true);
  }, 60_000);
});
