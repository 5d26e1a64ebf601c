import { FakeClock } from "../../src/util/clock.ts";
import {
  Headers,
  MemoryTransport,
  SipRequest,
  SipResponse as SipResponseClass,
  UserAgent,
  reasonPhrase,
  parseMessage,
  serializeMessage,
  type Address,
  type InboundCall,
  type SipMessage,
  type SipResponse,
  type UserAgentOptions,
} from "../../src/sip/index.ts";
import { describeSent } from "./helpers.ts";

export const US: Address = { host: "203.0.113.10", port: 5060 };
export const TRUNK: Address = { host: "52.9.254.127", port: 5060 };
export const ANSWER_SDP = "v=0\r\no=agent 1 1 IN IP4 203.0.113.10\r\ns=-\r\nc=IN IP4 203.0.113.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

export interface HarnessOptions {
  answerDelayMs?: number;
  accepting?: () => boolean;
  screenInvite?: UserAgentOptions["delegate"]["screenInvite"];
  optionsStatus?: UserAgentOptions["delegate"]["optionsStatus"];
  onInvite?: (call: InboundCall) => void;
  inboundAuth?: UserAgentOptions["inboundAuth"];
  inboundAuthLockout?: UserAgentOptions["inboundAuthLockout"];
  dialogPeerOnly?: boolean;
  log?: UserAgentOptions["log"];
}

/** A UserAgent on a MemoryTransport and a FakeClock, with helpers to play the peer. */
export function harness(opts: HarnessOptions = {}) {
  const clock = new FakeClock();
  const transport = new MemoryTransport({ clock, local: US });
  const calls: InboundCall[] = [];
  const ua = new UserAgent({
    transport,
    clock,
    contact: US,
    answerDelayMs: opts.answerDelayMs ?? 0,
    userAgent: "voice-agent/test",
    inboundAuth: opts.inboundAuth,
    inboundAuthLockout: opts.inboundAuthLockout,
    dialogPeerOnly: opts.dialogPeerOnly,
    log: opts.log,
    delegate: {
      onInvite: (c) => {
        calls.push(c);
        opts.onInvite?.(c);
      },
      acceptingNewCalls: opts.accepting,
      screenInvite: opts.screenInvite,
      optionsStatus: opts.optionsStatus,
    },
  });
  const h = {
    clock,
    transport,
    ua,
    calls,
    /** Delivers a datagram from the peer (the trunk by default). */
    send(msg: string | SipMessage, from: Address = TRUNK) {
      return transport.receive(typeof msg === "string" ? msg : serializeMessage(msg), from);
    },
    /** "INVITE", "200 INVITE", ... in send order. */
    sent(): string[] {
      return transport.sent.map(describeSent);
    },
    /** Send times (ms) of every record described as `what`. */
    times(what: string): number[] {
      return transport.sent.filter((r) => describeSent(r) === what).map((r) => r.at);
    },
    responses(status: number, method = "INVITE"): SipResponse[] {
      return transport.sent
        .map((r) => r.message)
        .filter((m): m is SipResponse => m.kind === "response" && m.status === status && m.cseq.method === method);
    },
    requests(method: string): SipRequest[] {
      return transport.sent.map((r) => r.message).filter((m): m is SipRequest => m.kind === "request" && m.method === method);
    },
    last(): SipMessage {
      return transport.sent.at(-1)!.message;
    },
  };
  return h;
}

/** The ACK a caller sends for our 2xx (§13.2.2.4): new branch, To with our tag, CSeq number of the INVITE. */
export function ackFor(invite: SipRequest, ok: SipResponse, branch = "z9hG4bKack1", body?: string): SipRequest {
  const h = new Headers([
    ["Via", `SIP/2.0/UDP ${invite.topVia.host}:${invite.topVia.port ?? 5060};branch=${branch};rport`],
    ["Max-Forwards", "70"],
    ["From", invite.headers.get("From")!],
    ["To", ok.headers.get("To")!],
    ["Call-ID", invite.callId],
    ["CSeq", `${invite.cseq.seq} ACK`],
  ]);
  if (body) h.append("Content-Type", "application/sdp");
  return parseMessage(serializeMessage(new SipRequest("ACK", ok.contact?.uri.toString() ?? invite.uri, h, body))) as SipRequest;
}

/** A request inside the dialog our 2xx created, sent by the caller (BYE, re-INVITE, OPTIONS, ...). */
export function inDialog(invite: SipRequest, ok: SipResponse, method: string, cseq: number, branch: string, body?: string): SipRequest {
  const h = new Headers([
    ["Via", `SIP/2.0/UDP ${invite.topVia.host}:${invite.topVia.port ?? 5060};branch=${branch};rport`],
    ["Max-Forwards", "70"],
    ["From", invite.headers.get("From")!],
    ["To", ok.headers.get("To")!],
    ["Call-ID", invite.callId],
    ["CSeq", `${cseq} ${method}`],
    ["Contact", invite.headers.get("Contact")!],
  ]);
  if (body) h.append("Content-Type", "application/sdp");
  return parseMessage(serializeMessage(new SipRequest(method, ok.contact!.uri.toString(), h, body))) as SipRequest;
}

/** A peer's response to a request we sent. */
export function reply(req: SipRequest, status: number, opts: { toTag?: string; headers?: Array<[string, string]>; body?: string; reason?: string } = {}): SipResponse {
  const h = new Headers();
  for (const v of req.headers.getAll("Via")) h.append("Via", v);
  for (const [n, v] of opts.headers ?? []) if (n === "Record-Route") h.append(n, v);
  h.append("From", req.headers.get("From")!);
  const to = req.headers.get("To")!;
  h.append("To", opts.toTag && !req.to.tag ? `${to};tag=${opts.toTag}` : to);
  h.append("Call-ID", req.callId);
  h.append("CSeq", req.headers.get("CSeq")!);
  for (const [n, v] of opts.headers ?? []) if (n !== "Record-Route") h.append(n, v);
  if (opts.body) h.append("Content-Type", "application/sdp");
  return parseMessage(serializeMessage(new SipResponseClass(status, opts.reason ?? reasonPhrase(status), h, opts.body))) as SipResponse;
}
