/**
 * InboundCalls on a real UserAgent over a MemoryTransport and a FakeClock (tests/sip/ua-harness.ts), a
 * real RTP port pool on loopback, a Pacer on the same FakeClock, the scripted provider fakes, and an
 * observer that records what it is told. The port allocation and the prompt read can be held open
 * ("gates"), so a test can CANCEL or BYE at each await point of the set-up.
 */
import { InboundCalls } from "../../src/call/inbound";
import type { CallObserver } from "../../src/call/observer";
import type { CallProviders } from "../../src/call/media";
import { FakeLlm, FakeStt, FakeTts } from "../../src/providers/fake";
import type { SttProvider, TtsProvider, LlmProvider } from "../../src/providers/types";
import { Pacer, RtpPortPool, type RtpPortLease } from "../../src/rtp";
import { silentLogger, type Logger } from "../../src/util/log";
import { Headers, SipRequest, parseMessage, serializeMessage, type SipRequest as Req, type SipResponse } from "../../src/sip";
import { freeUdpPortRange } from "../support/ports.ts";
import { ackFor, harness, inDialog, TRUNK } from "../sip/ua-harness.ts";
import { Admission } from "../../src/call/admission";

/** RFC 3261 T1 as the UA uses it by default (ms); Timer H = 64·T1. */
export const T1 = 500;

export interface Gate<T> {
  promise: Promise<T>;
  open(value: T): void;
  fail(err: unknown): void;
}

export function gate<T>(): Gate<T> {
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  return { promise, open: resolve, fail: reject };
}

/** Lets pending promise callbacks (and a real socket bind) run. */
export async function settle(ms = 20): Promise<void> {
  await Bun.sleep(ms);
}

let callSeq = 0;

/**
 * An INVITE from the trunk with an SDP offer naming `rtpPort` on 127.0.0.1 (nothing listens there);
 * `body` replaces the offer when given.
 */
export function invite(rtpPort: number, body?: string): Req {
  const n = ++callSeq;
  const sdp = body ?? [
    "v=0",
    "o=trunk 1 1 IN IP4 127.0.0.1",
    "s=-",
    "c=IN IP4 127.0.0.1",
    "t=0 0",
    `m=audio ${rtpPort} RTP/AVP 0 101`,
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=ptime:20",
    "a=sendrecv",
    "",
  ].join("\r\n");
  const h = new Headers([
    ["Via", `SIP/2.0/UDP ${TRUNK.host}:${TRUNK.port};branch=z9hG4bKcall${n};rport`],
    ["Max-Forwards", "70"],
    ["From", `<sip:+14155550123@${TRUNK.host}>;tag=caller${n}`],
    ["To", "<sip:+14155550100@203.0.113.10>"],
    ["Call-ID", `call-test-${n}-${Date.now()}`],
    ["CSeq", "1 INVITE"],
    ["Contact", `<sip:+14155550123@${TRUNK.host}:${TRUNK.port}>`],
    ["Content-Type", "application/sdp"],
  ]);
  return parseMessage(serializeMessage(new SipRequest("INVITE", "sip:+14155550100@203.0.113.10:5060", h, sdp))) as Req;
}

/** The CANCEL of `inv` (same branch, §9.1). */
export function cancelFor(inv: Req): Req {
  const h = new Headers([
    ["Via", inv.headers.getAll("Via")[0]!],
    ["Max-Forwards", "70"],
    ["From", inv.headers.get("From")!],
    ["To", inv.headers.get("To")!],
    ["Call-ID", inv.callId],
    ["CSeq", `${inv.cseq.seq} CANCEL`],
  ]);
  return parseMessage(serializeMessage(new SipRequest("CANCEL", inv.uri, h))) as Req;
}

export interface Recorded {
  events: string[];
}

export function recordingObserver(): CallObserver & Recorded {
  const events: string[] = [];
  return {
    events,
    callStarted: (r) => events.push(`started ${r.direction}`),
    callUpdated: (r) => events.push(`updated stt=${r.providers?.stt}`),
    callAnswered: (r) => events.push(`answered ${r.state}`),
    turn: (_r, t) => events.push(`turn ${t.speaker}`),
    bargeIn: () => events.push("barge-in"),
    providerError: () => events.push("provider-error"),
    rtpStats: () => events.push("rtp-stats"),
    callEnded: (_r, result) => events.push(`ended ${result}`),
    callRefused: (d, result) => events.push(`refused ${d} ${result}`),
  };
}

export interface InboundHarnessOptions {
  stt?: SttProvider;
  tts?: TtsProvider;
  llm?: LlmProvider;
  fallback?: Partial<CallProviders["fallback"]>;
  /** Hold the port allocation until the test opens the gate it gets from `allocations`. */
  gateAllocation?: boolean;
  /** The prompt read; default resolves at once. */
  prompt?: () => Promise<string>;
  vad?: ReturnType<typeof countingVad>;
  /** MAX_CALLS of the admission; default 10 (so 5 unconfirmed calls per source). */
  capacity?: number;
  /** RTP ports in the pool (even ones serve calls); default 8, i.e. 4 calls. */
  rtpPorts?: number;
  /** The agent's logger; default silent. */
  log?: Logger;
  /** Thrown by the pool's allocate instead of a lease (a port pool error the set-up must answer). */
  allocateError?: () => unknown;
}

/** A stand-in for the loaded Silero model that counts the VAD streams created (none hears speech). */
export function countingVad() {
  const vad = {
    created: 0,
    loadMs: 0,
    createStream() {
      vad.created++;
      return {
        process: async () => 0,
        last: null,
        stats: { frames: 0, windows: 0, inferenceMsTotal: 0, inferenceMsMax: 0 },
        reset() {},
      };
    },
  };
  return vad;
}

export async function inboundHarness(o: InboundHarnessOptions = {}) {
  const observer = recordingObserver();
  let inbound!: InboundCalls;
  // Wired as src/cli/agent-server.ts does: screening before any transaction, then onInvite.
  const h = harness({ onInvite: (c) => inbound.onInvite(c), screenInvite: (source) => inbound.screenInvite(source) });
  const ports = o.rtpPorts ?? 8;
  const base = await freeUdpPortRange(ports);
  const pool = new RtpPortPool(base, base + ports - 1, "127.0.0.1");
  const allocations: Gate<void>[] = [];
  const leases: RtpPortLease[] = [];
  const gatedPool = {
    get free() {
      return pool.free;
    },
    allocate: async () => {
      if (o.gateAllocation) {
        const g = gate<void>();
        allocations.push(g);
        await g.promise;
      }
      if (o.allocateError) throw o.allocateError();
      const lease = await pool.allocate();
      leases.push(lease);
      return lease;
    },
  };
  const pacer = new Pacer({ clock: h.clock });
  const stt = o.stt ?? new FakeStt();
  const tts = o.tts ?? new FakeTts({ clock: h.clock });
  const llm = o.llm ?? new FakeLlm({ replies: ["Hello, how can I help?"], clock: h.clock });
  inbound = new InboundCalls({
    log: o.log ?? silentLogger,
    clock: h.clock,
    observer,
    pool: gatedPool,
    pacer,
    vad: (o.vad as never) ?? null,
    providers: {
      stt,
      tts,
      llm,
      fallback: { stt: o.fallback?.stt ?? stt, tts: o.fallback?.tts ?? tts, llm: o.fallback?.llm ?? llm },
      describe: { stt: "fake", llm: "fake", tts: "fake" },
    },
    mode: "inbound",
    trustedIps: [],
    // As src/cli/agent-server.ts: confirmed calls only, and "degraded" when no RTP port is free.
    admission: new Admission({
      capacity: o.capacity ?? 10,
      active: () => inbound.size - inbound.unconfirmed.size,
      draining: () => false,
      degraded: [() => (pool.free === 0 && inbound.unconfirmed.reclaimable() === 0 ? "no free RTP port" : undefined)],
    }),
    publicIp: "127.0.0.1",
    systemPrompt: o.prompt ?? (async () => "You are a test."),
  });
  const x = {
    ...h,
    inbound,
    observer,
    pool,
    pacer,
    allocations,
    leases,
    stt,
    tts,
    llm,
    /** The 200 OK we sent to `inv`, if any. */
    okFor(inv: Req): SipResponse | undefined {
      return h.responses(200).find((r) => r.callId === inv.callId);
    },
    ack(inv: Req): void {
      h.send(ackFor(inv, x.okFor(inv)!, `z9hG4bKack-${inv.callId}`));
    },
    bye(inv: Req): void {
      h.send(inDialog(inv, x.okFor(inv)!, "BYE", 2, `z9hG4bKbye-${inv.callId}`));
    },
    /** Final responses we sent to the INVITE `inv`, as status codes. */
    finals(inv: Req): number[] {
      return h.transport.sent
        .map((r) => r.message)
        .filter((m): m is SipResponse => m.kind === "response" && m.callId === inv.callId && m.cseq.method === "INVITE" && m.status >= 200)
        .map((m) => m.status);
    },
    dispose(): void {
      pacer.stop();
      h.ua.dispose();
      for (const l of leases) l.release();
    },
  };
  return x;
}
