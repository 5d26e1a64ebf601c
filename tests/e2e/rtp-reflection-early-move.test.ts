/**
 * Media moves before the media starts (s17 fresh, left open: "a media move before start() is not
 * re-armed"): RTP_START_TIMEOUT_S must also hold when the address our RTP goes to is changed before the
 * ACK — by an UPDATE (RFC 3311 allows one before the ACK), by a re-INVITE, or by the ACK's own SDP (a late
 * offer: INVITE without SDP, our offer in the 200, the caller's answer in the ACK). Each call starts on the
 * caller's own address (127.0.0.1, the signalling source) and is moved to a listening third party
 * (127.0.0.9) before or by its ACK; the third party sends nothing back. Expected: the agent's RTP there
 * stops and the call ends (BYE) within RTP_START_TIMEOUT_S of the ACK plus slack, as for the same offer
 * in the INVITE (rtp-reflection.test.ts) and for a re-INVITE after the ACK (rtp-reflection-reinvite).
 * Measured on the session-18 start binary and after: 101 packets, BYE 2.03–2.04 s after the ACK in all
 * three — the media is built at the ACK from the call's SDP session as it stands then (src/call/inbound.ts),
 * so CallMedia.start() already sees the moved address. A guard against a change that builds it earlier.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { startAgent, type RunningAgent } from "./agent.ts";
import { listenUdp as listen, sipRequest, type Udp } from "./attack-support.ts";

const VICTIM = "127.0.0.9";
const START_S = 2;
/** Slack on a busy 2-core machine: ticks, the BYE, the log. */
const SLACK_MS = 2500;

let agent: RunningAgent | undefined;
const sockets: Udp[] = [];
afterAll(async () => {
  for (const s of sockets) s.close();
  await agent?.stop();
}, 30_000);

describe("a media move before or by the ACK meets RTP_START_TIMEOUT_S (compiled binary, loopback)", () => {
  test("UPDATE before the ACK, re-INVITE before the ACK, the ACK's own SDP (late offer): BYE within the start limit", async () => {
    agent = await startAgent({ RTP_START_TIMEOUT_S: String(START_S), IDLE_PROMPT_S: "3600" });
    const to = { host: "127.0.0.1", port: agent.sipPort };
    const sip: string[] = [];
    const caller = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void sip.push(Buffer.from(d).toString()) } });
    const own = await listen("127.0.0.1");
    sockets.push(caller, own.socket);
    const from = { host: "127.0.0.1", port: caller.port };
    const header = (msg: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, "mi").exec(msg)?.[1]?.trim();
    const find = (id: string, pred: (m: string) => boolean) => sip.find((m) => header(m, "Call-ID") === id && pred(m));
    const media = (req: string, host: string, port: number) => req.replace(/^c=IN IP4 .*$/m, `c=IN IP4 ${host}`).replace(/^m=audio \d+/m, `m=audio ${port}`);
    const send = (msg: string) => caller.send(msg, to.port, to.host);
    async function final(id: string, cseq: string): Promise<string> {
      const deadline = Date.now() + 10_000;
      let r: string | undefined;
      while (!(r = find(id, (m) => /^SIP\/2\.0 [2-6]\d\d/.test(m) && new RegExp(`^CSeq:\\s*${cseq}$`, "mi").test(m)))) {
        if (Date.now() > deadline) throw new Error(`no final response for ${id} CSeq ${cseq}`);
        await Bun.sleep(20);
      }
      return r;
    }
    const tagOf = (ok: string) => /;tag=([^;>\s]+)/.exec(header(ok, "To") ?? "")![1]!;
    /** An in-dialog request with an SDP naming `host:port`: an INVITE's text with its method replaced. */
    const moveRequest = (method: "INVITE" | "UPDATE", callId: string, toTag: string, port: number) => {
      const invite = media(sipRequest("INVITE", { to, from, callId, tag: "early", toTag, cseq: 2 }), VICTIM, port);
      return method === "INVITE" ? invite : invite.replace(/^INVITE /, "UPDATE ").replace(/^CSeq: 2 INVITE$/m, "CSeq: 2 UPDATE");
    };
    /** The ACK (CSeq 1), with an SDP answer naming `host:port` when given (late offer). */
    const ack = (callId: string, toTag: string, answerTo?: number) => {
      const plain = sipRequest("ACK", { to, from, callId, tag: "early", toTag });
      if (answerTo === undefined) return plain;
      const sdp = ["v=0", `o=early 1 1 IN IP4 ${VICTIM}`, "s=-", `c=IN IP4 ${VICTIM}`, "t=0 0", `m=audio ${answerTo} RTP/AVP 0`, "a=rtpmap:0 PCMU/8000", ""].join("\r\n");
      return plain.replace(/Content-Length: 0\r\n\r\n$/, `Content-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`);
    };

    const results: Record<string, { packets: number; byeAfterAckMs: number | undefined; moveStatus?: number }> = {};
    async function scenario(name: string, how: "UPDATE" | "INVITE" | "late") {
      const victim = await listen(VICTIM);
      sockets.push(victim.socket);
      const callId = `early-${name}-${process.pid}@127.0.0.1`;
      let invite = media(sipRequest("INVITE", { to, from, callId, tag: "early" }), "127.0.0.1", own.port);
      if (how === "late") invite = invite.replace(/Content-Type: application\/sdp\r\nContent-Length: \d+\r\n\r\n[\s\S]*$/, "Content-Length: 0\r\n\r\n");
      send(invite);
      const ok = await final(callId, "1 INVITE");
      expect(ok).toStartWith("SIP/2.0 200");
      const toTag = tagOf(ok);
      let moveStatus: number | undefined;
      if (how !== "late") {
        send(moveRequest(how, callId, toTag, victim.port)); // before the ACK
        moveStatus = Number((await final(callId, `2 ${how}`)).slice(8, 11));
      }
      send(ack(callId, toTag, how === "late" ? victim.port : undefined));
      const ackAt = Date.now();
      let byeAt: number | undefined;
      while (Date.now() - ackAt < START_S * 1000 + SLACK_MS + 2000 && !byeAt) {
        if (find(callId, (m) => m.startsWith("BYE "))) byeAt = Date.now();
        await Bun.sleep(20);
      }
      results[name] = { packets: victim.arrivals.length, byeAfterAckMs: byeAt && byeAt - ackAt, moveStatus };
    }
    await scenario("update", "UPDATE");
    await scenario("reinvite", "INVITE");
    await scenario("late-offer", "late");
    console.log(JSON.stringify(results));
    for (const [name, r] of Object.entries(results)) {
      // A move the agent refused (e.g. 491/500 to a re-INVITE before the ACK) leaves the media where it was: nothing to stop.
      if (r.moveStatus !== undefined && r.moveStatus !== 200) continue;
      expect(r.packets, name).toBeGreaterThan(0); // the move took effect
      expect(r.byeAfterAckMs, `${name}: ${JSON.stringify(r)}`).toBeDefined();
      expect(r.byeAfterAckMs!, name).toBeLessThan(START_S * 1000 + SLACK_MS);
    }
  }, 60_000);
});
