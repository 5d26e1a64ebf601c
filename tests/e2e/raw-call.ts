/**
 * A call placed on the agent from plain UDP sockets on 127.0.0.1 (no SIPp), for end-to-end tests that
 * send their own RTP or in-dialog requests: INVITE with an offer naming our media socket, the 200, our
 * ACK; then requests in the dialog and the BYE. All traffic stays on loopback.
 */
import { afterAll } from "bun:test";
import { waitFor, type RunningAgent } from "./agent.ts";
import { sipRequest, type Udp } from "./attack-support.ts";

export interface RawCall {
  signalling: Udp;
  media: Udp;
  /** Every SIP message the agent sent us, as text. */
  sip: string[];
  to: { host: string; port: number };
  from: { host: string; port: number };
  callId: string;
  toTag: string;
  /** The agent's RTP port (its answer's m= line). */
  rtpPort: number;
  /** A request in the dialog (INVITE with `body` as its offer, BYE…), waits for its 200, ACKs an INVITE's. */
  request(method: "INVITE" | "BYE", cseq: number, body?: string): Promise<string>;
  close(): void;
}

/** Replaces a request's SDP body (sipRequest's default offer) with `body`. */
export const withBody = (msg: string, body: string) => msg.replace(/Content-Length: \d+\r\n\r\n[\s\S]*$/, `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);

/**
 * @param offer the INVITE's SDP for our media port; default sipRequest's (PCMU + telephone-event) on it
 * @param onMedia each datagram the agent sends to our media socket
 * @throws when no 200 comes within 15 s
 */
export async function placeRawCall(agent: RunningAgent, callId: string, o: { offer?: (mediaPort: number) => string; onMedia?: (d: Uint8Array) => void } = {}): Promise<RawCall> {
  const to = { host: "127.0.0.1", port: agent.sipPort };
  const sip: string[] = [];
  const signalling = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void sip.push(Buffer.from(d).toString()) } });
  const media = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, binaryType: "uint8array", socket: { data: (_s, d) => o.onMedia?.(d) } });
  const from = { host: "127.0.0.1", port: signalling.port };
  const invite = sipRequest("INVITE", { to, from, callId, tag: "caller" });
  signalling.send(o.offer ? withBody(invite, o.offer(media.port)) : invite.replace(/^m=audio \d+/m, `m=audio ${media.port}`), to.port, to.host);
  const ok = await waitFor(() => sip.find((m) => m.startsWith("SIP/2.0 200") && m.includes(callId)), 15_000, "the 200 OK");
  const toTag = /^To:.*;tag=([^;>\s]+)/im.exec(ok)![1]!;
  signalling.send(sipRequest("ACK", { to, from, callId, tag: "caller", toTag }), to.port, to.host);
  const rtpPort = Number(/^m=audio (\d+)/m.exec(ok)![1]);
  return {
    signalling, media, sip, to, from, callId, toTag, rtpPort,
    async request(method, cseq, body) {
      const msg = sipRequest(method, { to, from, callId, tag: "caller", toTag, cseq });
      signalling.send(body === undefined ? msg : withBody(msg, body), to.port, to.host);
      const cseqLine = new RegExp(`^CSeq:\\s*${cseq} ${method}`, "im");
      const res = await waitFor(() => sip.find((m) => m.startsWith("SIP/2.0 200") && m.includes(callId) && cseqLine.test(m)), 10_000, `the 200 to our ${method} ${cseq}`);
      if (method === "INVITE") signalling.send(sipRequest("ACK", { to, from, callId, tag: "caller", toTag, cseq }), to.port, to.host);
      return res;
    },
    close() {
      signalling.close();
      media.close();
    },
  };
}

/**
 * The agents and raw calls a test file starts, registered here and closed (calls) and stopped (agents)
 * after all its tests. Call once per file, at its top level.
 */
export function closeAfterAll(): { started: RunningAgent[]; calls: RawCall[] } {
  const started: RunningAgent[] = [];
  const calls: RawCall[] = [];
  afterAll(async () => {
    for (const c of calls) c.close();
    await Promise.all(started.map((a) => a.stop()));
  }, 30_000);
  return { started, calls };
}
