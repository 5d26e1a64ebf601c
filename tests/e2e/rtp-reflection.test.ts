/**
 * Media reflection through a forged SDP (last session's attack on the binary, finding 4): one INVITE +
 * ACK from 127.0.0.1 whose offer names a third party (`c=IN IP4 127.0.0.9`) made the agent stream there
 * for 33 s. Three calls at once on one compiled agent (RTP_START_TIMEOUT_S=2; src/rtp/media-consent.ts):
 *  - victim: 127.0.0.9 only listens → the agent's RTP there stops and the call ends (BYE) within the
 *    start timeout plus slack;
 *  - ICMP: 127.0.0.9 closes its port after the first packet (the kernel answers port unreachable) → no
 *    packet reaches the port once it is opened again 300 ms later;
 *  - media server: 127.0.0.9 sends RTP back (a carrier's media server beside its SIP proxy) → the call
 *    is still up and our RTP still arrives past the start timeout.
 * `VOICE_AGENT_E2E_BINARY=/path bun test …` runs it against another binary (the before/after count).
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { expectReflectionStopped, listenUdp as listen, reflectionFigures, sipRequest, type Udp } from "./attack-support.ts";

const VICTIM = "127.0.0.9";
const START_S = 2;
/** Slack on a busy 2-core machine: ticks, the BYE, the log. */
const SLACK_MS = 2500;


const started: RunningAgent[] = [];
const sockets: Udp[] = [];
const stopSending: (() => void)[] = [];
afterEach(() => stopSending.splice(0).forEach((stop) => stop()));
afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all(started.map((a) => a.stop()));
}, 30_000);

describe("RTP to an SDP address the signalling did not come from (compiled binary, loopback)", () => {
  // The RTP sockets live on the call thread, or in the media worker (its socket errors reach the call thread as messages).
  for (const [variant, extra] of [["", {}], [" (MEDIA_WORKER=on)", { MEDIA_WORKER: "on" }]] as const)
  test(
    `a listening victim gets RTP for at most RTP_START_TIMEOUT_S, an ICMP unreachable stops it at once, a media server that sends keeps its call${variant}`,
    async () => {
      const binary = process.env.VOICE_AGENT_E2E_BINARY;
      const agent = await startAgent({ RTP_START_TIMEOUT_S: String(START_S), IDLE_PROMPT_S: "3600", ...extra }, ["--mode", "inbound"], binary ? { binary } : {});
      started.push(agent);
      const to = { host: "127.0.0.1", port: agent.sipPort };
      const sip: string[] = [];
      const attacker = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void sip.push(Buffer.from(d).toString()) } });
      sockets.push(attacker);
      const from = { host: "127.0.0.1", port: attacker.port };
      const header = (msg: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, "mi").exec(msg)?.[1]?.trim();
      const byCallId = (id: string, pred: (m: string) => boolean) => sip.find((m) => header(m, "Call-ID") === id && pred(m));

      /** INVITE naming `host:port` as media, its 200, our ACK; resolves with the Call-ID, the To tag, the ACK time and our RTP port. */
      async function forgedCall(port: number): Promise<{ callId: string; toTag: string; ackAt: number; agentRtpPort: number }> {
        const callId = `refl-${port}-${process.pid}@127.0.0.1`;
        const invite = sipRequest("INVITE", { to, from, callId, tag: "atk" })
          .replace(/^c=IN IP4 .*$/m, `c=IN IP4 ${VICTIM}`)
          .replace(/^m=audio \d+/m, `m=audio ${port}`);
        attacker.send(invite, to.port, to.host);
        const deadline = Date.now() + 10_000;
        let ok: string | undefined;
        while (!(ok = byCallId(callId, (m) => m.startsWith("SIP/2.0 200")))) {
          if (Date.now() > deadline) throw new Error(`no 200 for ${callId}: ${sip.filter((m) => m.includes(callId)).map((m) => m.split("\r\n")[0]).join(" | ")}`);
          await Bun.sleep(20);
        }
        const toTag = /;tag=([^;>\s]+)/.exec(header(ok, "To") ?? "")![1]!;
        attacker.send(sipRequest("ACK", { to, from, callId, tag: "atk", toTag }), to.port, to.host);
        return { callId, toTag, ackAt: Date.now(), agentRtpPort: Number(/^m=audio (\d+)/m.exec(ok)![1]) };
      }
      const byeAt = async (callId: string, withinMs: number): Promise<number | undefined> => {
        const deadline = Date.now() + withinMs;
        while (Date.now() < deadline) {
          if (byCallId(callId, (m) => m.startsWith("BYE "))) return Date.now();
          await Bun.sleep(20);
        }
        return undefined;
      };

      const victim = await listen(VICTIM);
      const icmp = await listen(VICTIM);
      const server = await listen(VICTIM);
      sockets.push(victim.socket, server.socket);
      // One after the other: a source may hold only a few calls it has not ACKed (SIP_MAX_PENDING_PER_SOURCE).
      const s = await forgedCall(server.port);
      const v = await forgedCall(victim.port);
      const i = await forgedCall(icmp.port);

      // The media server answers with RTP from its SDP address every 20 ms (PCMU silence).
      let seq = 0;
      const rtp = (n: number) => new Uint8Array([0x80, 0, (n >> 8) & 0xff, n & 0xff, 0, 0, (n * 160) >> 8 & 0xff, (n * 160) & 0xff, 0, 0, 0, 7, ...new Array(160).fill(0xff)]);
      const sending = setInterval(() => server.socket.send(rtp(seq++), s.agentRtpPort, "127.0.0.1"), 20);
      // Stopped by the test's end whatever happens (left running, it throws "Socket is closed" every 20 ms
      // into the tests after this file's afterAll).
      stopSending.push(() => clearInterval(sending));

      // ICMP: the port closes after the first packet; opened again 300 ms later, it must stay silent.
      while (icmp.arrivals.length === 0 && Date.now() - i.ackAt < 5000) await Bun.sleep(5);
      expect(icmp.arrivals.length).toBeGreaterThan(0);
      icmp.socket.close();
      await Bun.sleep(300);
      const reopened = await listen(VICTIM, icmp.port);
      sockets.push(reopened.socket);

      const vBye = await byeAt(v.callId, START_S * 1000 + SLACK_MS + 5000);
      const iBye = await byeAt(i.callId, START_S * 1000 + SLACK_MS);
      while (Date.now() - s.ackAt < START_S * 1000 + 1500) await Bun.sleep(50); // the media server's call: past the start limit
      clearInterval(sending);
      const sBye = byCallId(s.callId, (m) => m.startsWith("BYE ")) ? Date.now() : undefined;
      const figures = reflectionFigures({
        victim: { counter: victim, at: v.ackAt, byeAt: vBye },
        icmp: { counter: icmp, reopened, at: i.ackAt, byeAt: iBye },
        server: { counter: server, at: s.ackAt, byeAt: sBye },
      });
      console.log(JSON.stringify(figures));
      expectReflectionStopped(figures, START_S, SLACK_MS);
      // The log line is written just before the BYE goes out, but reaches this process through the agent's
      // asynchronous stdout and a pipe: at load average 15 (two test files at once beside other work) it came after the BYE had been seen.
      await waitFor(() => agent.logs().some((l) => l.msg?.startsWith("no rtp ever came from the sdp's media address")), 5000, "the start-timeout log line").catch(() => undefined);
      const ended = agent.logs().filter((l) => l.msg?.startsWith("no rtp ever came from the sdp's media address"));
      expect(ended.length).toBeGreaterThanOrEqual(1);
      // The media server's call is still up: the caller hangs it up. (Left up, the agent's stop at the end
      // waited out its 8 s grace: SIGTERM lets a live call go on for DRAIN_TIMEOUT_S, 30 s.)
      attacker.send(sipRequest("BYE", { to, from, callId: s.callId, tag: "atk", toTag: s.toTag, cseq: 2 }), to.port, to.host);
      await waitFor(() => byCallId(s.callId, (m) => m.startsWith("SIP/2.0 200") && /^CSeq:\s*2 BYE/mi.test(m)), 5000, "the 200 to the media server's BYE");
    },
    40_000,
  );
});
