/**
 * One call's RTCP (RFC 3550 §6) on the odd port next to its RTP port (§11): a sender report every
 * `intervalMs` (5 s; §6.2's computed interval with its 5 s minimum — one sender, tiny bandwidth — comes
 * out at that minimum) to the far end's RTCP port (its RTP port + 1, §11), with one report block about
 * the far end's stream; and the far end's reports about ours read into {@link peer}: fraction lost,
 * cumulative loss, jitter and round-trip time (§6.4.1: RTT = A − LSR − DLSR).
 *
 * With rtcp-mux (RFC 5761: the offer had `a=rtcp-mux`, our answer repeats it) `RtcpSession.muxed`
 * sends and receives on the RTP port instead: §4 "the RTCP packets are sent to the same port as the RTP
 * packets"; the RTP session demultiplexes them by the second octet (`RtpSession.onRtcp`). Without it an
 * RTCP packet arriving on the RTP port is dropped by the RTP session (PT 72–76 is never negotiated).
 *
 * Either way a report is taken only from the far end: with rtcp-mux the RTP session passes on RTCP from
 * the latched source alone; on the odd port `receiveFrom` takes it only from the address the RTP is
 * latched to (any port: a NAT may map the RTCP port elsewhere). Before, that port took reports from
 * anyone, so a stranger who found it could write any loss, jitter and round-trip time into the call's
 * record and the RTCP metrics (s19 fresheyes).
 */
import type { udp } from "bun";
import type { Clock, TimerHandle } from "../util/clock.ts";
import {
  isRtcp,
  ntpFromUnixMs,
  ntpMiddle,
  parseRtcp,
  roundTripMs,
  serializeSrCompound,
  type ReportBlock,
} from "./rtcp.ts";
import type { RtpSession } from "./session.ts";
import { normaliseAddress } from "./symmetric-latch.ts";

/** RFC 3550 §6.2: "the RECOMMENDED value for a fixed minimum interval is 5 seconds". */
export const RTCP_INTERVAL_MS = 5000;

/** What the far end last reported about our stream. */
export interface RtcpPeerReport {
  /** Fraction of our packets lost over its last interval, 0–1. */
  fractionLost: number;
  /** Our packets it counts as lost in all. */
  cumulativeLost: number;
  /** Interarrival jitter it measured on our stream, ms (8 timestamp units per ms at 8000 Hz). */
  jitterMs: number;
  /** Round-trip time, ms, when its report carried our last SR. */
  rttMs?: number;
}

export interface RtcpSessionOptions {
  /** Local address and the RTCP port (the RTP port + 1). */
  host: string;
  port: number;
  rtp: RtpSession;
  clock: Clock;
  /** Wall clock (Unix ms) for NTP timestamps; default Date.now. */
  wallClock?: () => number;
  /** SDES CNAME (§6.5.1), e.g. `voice-agent@<public ip>`. */
  cname: string;
  intervalMs?: number;
  /** Each report about our stream, as it arrives. */
  onPeerReport?: (r: RtcpPeerReport) => void;
}

export class RtcpSession {
  /** The far end's latest report about our stream. */
  peer: RtcpPeerReport | undefined;
  srSent = 0;
  reportsIn = 0;
  malformedIn = 0;
  /** Datagrams on our RTCP port from an address other than the one our RTP is latched to, dropped unread. */
  ignoredSourceIn = 0;
  private timer: TimerHandle | undefined;
  private closed = false;
  private lastSr: { middle: number; at: number } | undefined;
  private prior = { expected: 0, received: 0 };

  private constructor(
    private readonly o: Omit<RtcpSessionOptions, "host" | "port">,
    /** Sends one compound packet to the far end's RTCP destination; false when it could not. */
    private readonly transmit: (bytes: Uint8Array) => boolean,
    private readonly release: () => void,
  ) {}

  /**
   * RTCP multiplexed on the RTP session's port (RFC 5761 §4): no socket of its own; sends to where the
   * RTP goes and receives what the RTP session demultiplexes (`rtp.onRtcp`).
   */
  static muxed(o: Omit<RtcpSessionOptions, "host" | "port">): RtcpSession {
    const session = new RtcpSession(o, (bytes) => o.rtp.sendRtcp(bytes), () => (o.rtp.onRtcp = undefined));
    o.rtp.onRtcp = (data) => session.receive(data);
    return session;
  }

  /** Binds the RTCP port. @throws the bind error (the call goes on without RTCP then). */
  static async open(o: RtcpSessionOptions): Promise<RtcpSession> {
    let session: RtcpSession | undefined;
    const socket = await Bun.udpSocket({
      hostname: o.host,
      port: o.port,
      binaryType: "uint8array",
      socket: {
        data: (_s, data, _port, address) => session?.receiveFrom(data, address),
        error: () => {}, // ICMP unreachable for a far end without RTCP: expected, ignored
      },
    });
    session = new RtcpSession(
      o,
      (bytes) => {
        // §11: the far end's RTCP port is its RTP port + 1.
        const dest = o.rtp.remote;
        return socket.send(bytes, dest.port + 1, dest.address);
      },
      () => socket.close(),
    );
    return session;
  }

  /** Starts the periodic sender reports (the first one after one interval). */
  start(): void {
    if (this.closed || this.timer) return;
    const every = this.o.intervalMs ?? RTCP_INTERVAL_MS;
    const tick = () => {
      this.timer = this.o.clock.setTimer(every, tick);
      this.sendReport();
    };
    this.timer = this.o.clock.setTimer(every, tick);
  }

  /** Sends one SR now (to the far end's RTP port + 1, or its RTP port when muxed). Returns false when there is nowhere to send. */
  sendReport(): boolean {
    if (this.closed) return false;
    const dest = this.o.rtp.remote;
    if (dest.port === 0 || dest.address === "0.0.0.0" || dest.address === "::") return false;
    const st = this.o.rtp.rtcpState;
    const now = this.o.wallClock?.() ?? Date.now();
    const ntp = ntpFromUnixMs(now);
    const reports: ReportBlock[] = [];
    if (st.reception) {
      const r = st.reception;
      // A.3: fraction lost over the interval since the previous report.
      const expected = r.expected - this.prior.expected;
      const received = r.received - this.prior.received;
      const lostInterval = expected - received;
      this.prior = { expected: r.expected, received: r.received };
      reports.push({
        ssrc: r.ssrc,
        fractionLost: expected <= 0 || lostInterval <= 0 ? 0 : Math.min(255, Math.floor((lostInterval * 256) / expected)),
        cumulativeLost: Math.min(0x7fffff, r.lost),
        extendedHighestSeq: r.extendedHighestSeq,
        jitter: Math.round(st.jitter) >>> 0,
        lastSr: this.lastSr?.middle ?? 0,
        delaySinceLastSr: this.lastSr ? Math.round(((this.o.clock.now() - this.lastSr.at) / 1000) * 65536) >>> 0 : 0,
      });
    }
    const bytes = serializeSrCompound(
      {
        ssrc: this.o.rtp.ssrc,
        ntpMsw: ntp.msw,
        ntpLsw: ntp.lsw,
        rtpTimestamp: st.rtpTimestamp,
        packetCount: st.packetsSent,
        octetCount: st.octetsSent,
        reports,
      },
      this.o.cname,
    );
    try {
      if (!this.transmit(bytes)) return false;
      this.srSent++;
      return true;
    } catch {
      return false;
    }
  }

  /**
   * One datagram on our own RTCP port from `address`: read only when our RTP is latched onto that address
   * (the same rule as the RTP source check, symmetric-latch.ts: the IP address, not the port), else
   * dropped unread and counted in `ignoredSourceIn`.
   */
  receiveFrom(data: Uint8Array, address: string): void {
    const rtp = this.o.rtp;
    if (!rtp.latched || rtp.remote.address !== normaliseAddress(address)) {
      this.ignoredSourceIn++;
      return;
    }
    this.receive(data);
  }

  /** One datagram on the RTCP port whose source was already checked (public for tests). */
  receive(data: Uint8Array): void {
    if (this.closed) return;
    if (!isRtcp(data)) {
      this.malformedIn++;
      return;
    }
    let packets;
    try {
      packets = parseRtcp(data);
    } catch {
      this.malformedIn++;
      return;
    }
    const arrival = this.o.wallClock?.() ?? Date.now();
    for (const p of packets) {
      this.reportsIn++;
      if (p.type === "sr") this.lastSr = { middle: ntpMiddle(p.ntpMsw, p.ntpLsw), at: this.o.clock.now() };
      for (const b of p.reports) {
        if (b.ssrc !== this.o.rtp.ssrc) continue;
        this.peer = {
          fractionLost: b.fractionLost / 256,
          cumulativeLost: b.cumulativeLost,
          jitterMs: b.jitter / 8,
          rttMs: roundTripMs(b, arrival),
        };
        this.o.onPeerReport?.(this.peer);
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.o.clock.clearTimer(this.timer);
    this.release();
  }
}
