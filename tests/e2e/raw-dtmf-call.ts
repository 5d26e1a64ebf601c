/**
 * One call to a running agent from raw SIP over UDP on loopback (attack-support.ts `sipRequest`: INVITE
 * offering PCMU and telephone-event on 101, 200, ACK), its RTP latched by 1 s of silence, then key presses
 * as RFC 4733 events: for the e2e tests that drive caller turns by keys (dtmf-turn-rate, llm-history-bound).
 *
 *   const call = await rawDtmfCall(agent, { callId, tag: "keys" });
 *   call.key(11);           // '#': three event packets, the last with the end bit
 *   await call.hangUp();    // BYE, its 200
 *   call.close();
 */
import { serializeRtp } from "../../src/rtp/packet.ts";
import { waitFor, type RunningAgent } from "./agent.ts";
import { sipRequest, type Udp } from "./attack-support.ts";

export interface RawDtmfCall {
  /** Every SIP message the agent sent us, as text. */
  sip: string[];
  /** Sends one key: RFC 4733 §2.3 event (0-9, 10 = '*', 11 = '#', 12-15 = A-D), volume 10, 120 ms long. */
  key(event: number): void;
  /**
   * Sends our BYE and resolves once the agent's 200 to it came (throws after 5 s without one). A call left
   * up at the end holds the agent's stop: SIGTERM lets it go on for DRAIN_TIMEOUT_S (30 s), past the 8 s grace.
   */
  hangUp(): Promise<void>;
  close(): void;
}

/** Places the call and latches its RTP (1 s of PCMU silence). Throws when no 200 OK comes within 15 s. */
export async function rawDtmfCall(agent: RunningAgent, o: { callId: string; tag: string; ssrc?: number }): Promise<RawDtmfCall> {
  const to = { host: "127.0.0.1", port: agent.sipPort };
  const sip: string[] = [];
  const signalling = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void sip.push(Buffer.from(d).toString()) } });
  const media = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, binaryType: "uint8array" });
  const sockets: Udp[] = [signalling, media];
  const close = () => sockets.forEach((s) => s.close());
  try {
    const from = { host: "127.0.0.1", port: signalling.port };
    const { callId, tag } = o;
    // The INVITE offers PCMU and telephone-event on 101; our media socket is its m= port.
    signalling.send(sipRequest("INVITE", { to, from, callId, tag }).replace(/^m=audio \d+/m, `m=audio ${media.port}`), to.port, to.host);
    const ok = await waitFor(() => sip.find((m) => m.startsWith("SIP/2.0 200") && m.includes(callId)), 15_000, "the 200 OK");
    const toTag = /^To:.*;tag=([^;>\s]+)/im.exec(ok)![1]!;
    signalling.send(sipRequest("ACK", { to, from, callId, tag, toTag }), to.port, to.host);
    const rtpPort = Number(/^m=audio (\d+)/m.exec(ok)![1]);
    let seq = 0;
    let ts = 0;
    const send = (payloadType: number, payload: Uint8Array, marker = false) =>
      media.send(serializeRtp({ marker, payloadType, sequenceNumber: seq++ & 0xffff, timestamp: ts >>> 0, ssrc: o.ssrc ?? 0x7e1, payload }), rtpPort, "127.0.0.1");
    for (let i = 0; i < 50; i++, ts += 160) {
      send(0, new Uint8Array(160).fill(0xff));
      await Bun.sleep(20);
    }
    const key = (event: number) => {
      // RFC 4733 §2.3: end bit on the last packet, volume 10; duration in timestamp units.
      const p = (duration: number, end: boolean) => Uint8Array.of(event, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff);
      send(101, p(400, false), true);
      send(101, p(800, false));
      send(101, p(960, true));
      ts += 1600;
    };
    const hangUp = async () => {
      signalling.send(sipRequest("BYE", { to, from, callId, tag, toTag, cseq: 2 }), to.port, to.host);
      await waitFor(() => sip.find((m) => m.startsWith("SIP/2.0 200") && m.includes(callId) && /^CSeq:\s*2 BYE/im.test(m)), 5000, "the 200 to our BYE");
    };
    return { sip, key, hangUp, close };
  } catch (err) {
    close();
    throw err;
  }
}
