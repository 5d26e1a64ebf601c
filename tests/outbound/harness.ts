/**
 * An OutboundDialer on a real UserAgent over a MemoryTransport and a FakeClock, with helpers to play
 * the trunk (responses to our INVITE, BYE from the callee) and fakes for RTP ports and media.
 */
import { FakeClock } from "../../src/util/clock";
import { silentLogger } from "../../src/util/log";
import { CallStore, type CallRecordStore, type SyncCallRecordStore } from "../../src/pipeline/call-record";
import { OutboundDialer, type MediaRequest, type OutboundDialerDeps } from "../../src/outbound";
import type { LlmChunk, LlmProvider, LlmRequest } from "../../src/providers/types";
import type { RtpPortLease } from "../../src/rtp";
import {
  Headers,
  MemoryTransport,
  SipRequest,
  UserAgent,
  buildResponse,
  parseMessage,
  serializeMessage,
  type Address,
  type SipResponse,
} from "../../src/sip";

export const US: Address = { host: "203.0.113.10", port: 5060 };
export const TRUNK: Address = { host: "198.51.100.1", port: 5080 };
export const CALLEE_SDP =
  "v=0\r\no=callee 5 5 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

export interface FakeLease extends RtpPortLease {
  releases: number;
}

export function fakeLease(port: number): FakeLease {
  const lease = {
    port,
    host: "127.0.0.1",
    socket: null as never,
    onPacket: null,
    onError: null,
    releases: 0,
    released: false,
    release() {
      lease.releases++;
      lease.released = true;
    },
  };
  return lease as FakeLease;
}

/** An LLM that answers every request after the opening with `reply`, then end_call with `reason`. */
export function scriptedLlm(reply = "Thank you, goodbye.", reason = "appointment confirmed"): LlmProvider & { requests: LlmRequest[] } {
  const requests: LlmRequest[] = [];
  return {
    name: "fake-llm",
    requests,
    async *generate(req: LlmRequest): AsyncIterable<LlmChunk> {
      requests.push(req);
      yield { type: "text", text: reply };
      yield { type: "tool_call", name: "end_call", args: { reason } };
    },
  };
}

export interface FakeMedia {
  req: MediaRequest;
  started: number;
  closed: number;
  /** What the media handle reports as RTP packets from the callee; undefined = not counted. */
  packetsReceived?: number;
}

export function dialerHarness(over: Partial<OutboundDialerDeps> = {}) {
  const clock = new FakeClock();
  const transport = new MemoryTransport({ clock, local: US });
  const ua = new UserAgent({ transport, clock, contact: US, userAgent: "voice-agent/test", delegate: { onInvite: (c) => c.reject(403) } });
  const store = (over.store ?? new CallStore()) as SyncCallRecordStore;
  const leases: FakeLease[] = [];
  const media: FakeMedia[] = [];
  const llm = scriptedLlm();
  let nextPort = 40000;
  const dialer = new OutboundDialer({
    ua,
    store,
    clock,
    log: silentLogger,
    trunk: TRUNK,
    callerId: "+14155550123",
    credentials: { username: "alice", password: "s3cret" },
    mediaAddress: US.host,
    ringTimeoutMs: 30_000,
    maxCalls: 10,
    callsPerMinute: 100,
    allocatePort: async () => {
      const l = fakeLease(nextPort);
      nextPort += 2;
      leases.push(l);
      return l;
    },
    systemPrompt: async (objective) => `SYSTEM objective=${objective}`,
    llm,
    createMedia: (req) => {
      const m: FakeMedia = { req, started: 0, closed: 0 };
      media.push(m);
      return {
        start: () => void m.started++,
        get packetsReceived() {
          return m.packetsReceived;
        },
        close: () => {
          m.closed++;
          req.lease.release();
        },
      };
    },
    ...over,
  });
  const h = {
    clock,
    transport,
    ua,
    store,
    dialer,
    leases,
    media,
    llm,
    /** Requests we sent with this method, in order. */
    requests(method: string): SipRequest[] {
      return transport.sent.map((r) => r.message).filter((m): m is SipRequest => m.kind === "request" && m.method === method);
    },
    /** "INVITE", "ACK", "200 BYE", … in send order. */
    flow(): string[] {
      return transport.sent.map((r) => (r.message.kind === "request" ? r.message.method : `${r.message.status} ${r.message.cseq.method}`));
    },
    lastInvite(): SipRequest {
      return h.requests("INVITE").at(-1)!;
    },
    /** The trunk answers `req` with `status`. */
    respond(req: SipRequest, status: number, opts: { toTag?: string; headers?: Array<[string, string]>; body?: string } = {}): SipResponse {
      const res = buildResponse(req, status, {
        toTag: status === 100 ? undefined : (opts.toTag ?? "trunk-tag"),
        headers: opts.headers,
        body: opts.body,
        contentType: opts.body ? "application/sdp" : undefined,
      });
      const wire = parseMessage(serializeMessage(res)) as SipResponse;
      transport.receive(serializeMessage(wire), TRUNK);
      return wire;
    },
    /** The callee's BYE inside the dialog the 200 created. */
    remoteBye(invite: SipRequest, ok: SipResponse, cseq = 1): void {
      const hd = new Headers([
        ["Via", `SIP/2.0/UDP ${TRUNK.host}:${TRUNK.port};branch=z9hG4bKcalleebye${cseq}`],
        ["Max-Forwards", "70"],
        ["From", ok.headers.get("To")!],
        ["To", invite.headers.get("From")!],
        ["Call-ID", invite.callId],
        ["CSeq", `${cseq} BYE`],
      ]);
      transport.receive(serializeMessage(new SipRequest("BYE", invite.headers.get("Contact")!.replace(/[<>]/g, ""), hd)), TRUNK);
    },
    /** Lets promise continuations run (place() awaits the port allocation). */
    async settle(): Promise<void> {
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
  };
  return h;
}
