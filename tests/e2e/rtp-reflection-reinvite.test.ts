/**
 * Media reflection through a re-INVITE (s17 fresh finding): the start-of-media rule
 * (src/rtp/media-consent.ts, tests/e2e/rtp-reflection.test.ts) held for the INVITE's offer, but a call set
 * up on the caller's own address and then moved by a re-INVITE naming a third party (`c=IN IP4 127.0.0.9`)
 * made the agent stream there until RTP_TIMEOUT_S: 1,400 packets in 28 s for four datagrams sent (the
 * same offer in the INVITE: 250 packets, BYE at 5 s). Three calls on one compiled agent
 * (RTP_START_TIMEOUT_S=2), each started on 127.0.0.1 and then moved to 127.0.0.9:
 *  - victim: only listens → our RTP there stops and the call ends (BYE) within the start timeout plus slack;
 *  - ICMP: the port closes after the first packet → none (at most a stalled thread's few) reach it once it is
 *    opened again 300 ms later;
 *  - media server: 127.0.0.9 sends RTP back → the call is still up and our RTP still arrives past the limit;
 *  - hopping: a re-INVITE to the victim's next port every second → BYE within the limit of the first move
 *    (one start budget per call: with a budget per move it came 2 s after the fifth move).
 * `VOICE_AGENT_E2E_BINARY=/path bun test …` runs it against another binary (the before/after count).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { expectReflectionStopped, listenUdp as listen, reflectionFigures, sipRequest, type Udp } from "./attack-support.ts";

const VICTIM = "127.0.0.9";
const START_S = 2;
/** Slack on a busy 2-core machine: ticks, the BYE, the log. */
const SLACK_MS = 2500;


const started: RunningAgent[] = [];
const sockets: Udp[] = [];
afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all(started.map((a) => a.stop()));
}, 30_000);

describe("a re-INVITE moving RTP to an address the signalling did not come from (compiled binary, loopback)", () => {
  // The RTP sockets live on the call thread, or in the media worker (its socket errors reach the call thread as messages).
  for (const [variant, extra] of [["", {}], [" (MEDIA_WORKER=on)", { MEDIA_WORKER: "on" }]] as const)
  test(
    `a listening victim gets RTP for at most RTP_START_TIMEOUT_S after the move, an ICMP unreachable stops it at once, a media server that sends keeps its call${variant}`,
    async () => {
      const binary = process.env.VOICE_AGENT_E2E_BINARY;
      const agent = await startAgent({ RTP_START_TIMEOUT_S: String(START_S), IDLE_PROMPT_S: "3600", ...extra }, ["--mode", "inbound"], binary ? { binary } : {});
      started.push(agent);
      const to = { host: "127.0.0.1", port: agent.sipPort };
      const sip: string[] = [];
      const caller = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void sip.push(Buffer.from(d).toString()) } });
      const own = await listen("127.0.0.1"); // the calls' first media address: the signalling source's own
      sockets.push(caller, own.socket);
      const from = { host: "127.0.0.1", port: caller.port };
      const header = (msg: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, "mi").exec(msg)?.[1]?.trim();
      const find = (id: string, pred: (m: string) => boolean) => sip.find((m) => header(m, "Call-ID") === id && pred(m));
      const media = (req: string, host: string, port: number) => req.replace(/^c=IN IP4 .*$/m, `c=IN IP4 ${host}`).replace(/^m=audio \d+/m, `m=audio ${port}`);
      async function final(id: string, cseq: number): Promise<string> {
        const deadline = Date.now() + 10_000;
        let ok: string | undefined;
        while (!(ok = find(id, (m) => m.startsWith("SIP/2.0 200") && new RegExp(`^CSeq:\\s*${cseq} INVITE`, "mi").test(m)))) {
          if (Date.now() > deadline) throw new Error(`no 200 for ${id} CSeq ${cseq}: ${sip.filter((m) => m.includes(id)).map((m) => m.split("\r\n")[0]).join(" | ")}`);
          await Bun.sleep(20);
        }
        return ok;
      }

      /** A call on 127.0.0.1 (ACKed), then a re-INVITE naming `VICTIM:port` (ACKed); the re-INVITE's ACK time. */
      async function movedCall(port: number): Promise<{ callId: string; toTag: string; movedAt: number; agentRtpPort: number }> {
        const callId = `reinv-${port}-${process.pid}@127.0.0.1`;
        caller.send(media(sipRequest("INVITE", { to, from, callId, tag: "atk" }), "127.0.0.1", own.port), to.port, to.host);
        const ok = await final(callId, 1);
        const toTag = /;tag=([^;>\s]+)/.exec(header(ok, "To") ?? "")![1]!;
        caller.send(sipRequest("ACK", { to, from, callId, tag: "atk", toTag }), to.port, to.host);
        await Bun.sleep(300);
        caller.send(media(sipRequest("INVITE", { to, from, callId, tag: "atk", toTag, cseq: 2 }), VICTIM, port), to.port, to.host);
        await final(callId, 2);
        caller.send(sipRequest("ACK", { to, from, callId, tag: "atk", toTag, cseq: 2 }), to.port, to.host);
        return { callId, toTag, movedAt: Date.now(), agentRtpPort: Number(/^m=audio (\d+)/m.exec(ok)![1]) };
      }
      const byeAt = async (callId: string, withinMs: number): Promise<number | undefined> => {
        const deadline = Date.now() + withinMs;
        while (Date.now() < deadline) {
          if (find(callId, (m) => m.startsWith("BYE "))) return Date.now();
          await Bun.sleep(20);
        }
        return undefined;
      };

      const victim = await listen(VICTIM);
      const icmp = await listen(VICTIM);
      const server = await listen(VICTIM);
      sockets.push(victim.socket, server.socket);
      const s = await movedCall(server.port);
      let seq = 0;
      const rtp = (n: number) => new Uint8Array([0x80, 0, (n >> 8) & 0xff, n & 0xff, 0, 0, ((n * 160) >> 8) & 0xff, (n * 160) & 0xff, 0, 0, 0, 7, ...new Array(160).fill(0xff)]);
      const sending = setInterval(() => server.socket.send(rtp(seq++), s.agentRtpPort, "127.0.0.1"), 20);
      const v = await movedCall(victim.port);
      const i = await movedCall(icmp.port);

      while (icmp.arrivals.length === 0 && Date.now() - i.movedAt < 5000) await Bun.sleep(5);
      expect(icmp.arrivals.length).toBeGreaterThan(0);
      icmp.socket.close();
      await Bun.sleep(300);
      const reopened = await listen(VICTIM, icmp.port);
      sockets.push(reopened.socket);

      const vBye = await byeAt(v.callId, START_S * 1000 + SLACK_MS + 5000);
      const iBye = await byeAt(i.callId, START_S * 1000 + SLACK_MS);
      while (Date.now() - s.movedAt < START_S * 1000 + 2500) await Bun.sleep(50); // a stalled thread's last packet may come late
      clearInterval(sending);
      const sBye = find(s.callId, (m) => m.startsWith("BYE ")) ? Date.now() : undefined;
      const figures = reflectionFigures({
        victim: { counter: victim, at: v.movedAt, byeAt: vBye },
        icmp: { counter: icmp, reopened, at: i.movedAt, byeAt: iBye },
        server: { counter: server, at: s.movedAt, byeAt: sBye },
      });
      console.log(JSON.stringify(figures));
      expectReflectionStopped(figures, START_S, SLACK_MS);

      // Hopping: a re-INVITE to the victim's next port every second, no RTP from anywhere. One start budget
      // per call: the BYE comes RTP_START_TIMEOUT_S after the first move, not after the last.
      const hops = await Promise.all([0, 1, 2, 3, 4].map(() => listen(VICTIM)));
      sockets.push(...hops.map((h) => h.socket));
      const h = await movedCall(hops[0]!.port);
      for (let k = 1; k < hops.length && !find(h.callId, (m) => m.startsWith("BYE ")); k++) {
        while (Date.now() < h.movedAt + k * 1000) await Bun.sleep(10);
        const cseq = 2 + k;
        caller.send(media(sipRequest("INVITE", { to, from, callId: h.callId, tag: "atk", toTag: h.toTag, cseq }), VICTIM, hops[k]!.port), to.port, to.host);
        const t = Date.now();
        while (Date.now() - t < 800 && !find(h.callId, (m) => m.startsWith("SIP/2.0 200") && new RegExp(`^CSeq:\\s*${cseq} INVITE`, "mi").test(m))) await Bun.sleep(10);
        caller.send(sipRequest("ACK", { to, from, callId: h.callId, tag: "atk", toTag: h.toTag, cseq }), to.port, to.host);
      }
      const hBye = await byeAt(h.callId, 8000);
      const hopped = { packets: hops.reduce((n, c) => n + c.arrivals.length, 0), byeAfterFirstMoveMs: hBye && hBye - h.movedAt };
      console.log(JSON.stringify({ hopped }));
      expect(hBye).toBeDefined();
      expect(hopped.byeAfterFirstMoveMs!).toBeLessThan(START_S * 1000 + SLACK_MS);
      // The media server's call is still up: the caller hangs it up. (Left up, the agent's stop at the end
      // waited out its 8 s grace: SIGTERM lets a live call go on for DRAIN_TIMEOUT_S, 30 s.)
      caller.send(sipRequest("BYE", { to, from, callId: s.callId, tag: "atk", toTag: s.toTag, cseq: 3 }), to.port, to.host);
      await waitFor(() => find(s.callId, (m) => m.startsWith("SIP/2.0 200") && /^CSeq:\s*3 BYE/mi.test(m)), 5000, "the 200 to the media server's BYE");
    },
    60_000,
  );
});
