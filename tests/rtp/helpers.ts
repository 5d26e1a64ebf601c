/** Test helpers shared by the RTP and playout tests. */
import type { udp } from "bun";
import { parseRtp, type RtpPacket } from "../../src/rtp/packet.ts";
import type { RtpPortPool } from "../../src/rtp/port-pool.ts";
import { RtpSession, type RtpSessionOptions } from "../../src/rtp/session.ts";
import { type Clock, FakeClock, type TimerHandle } from "../../src/util/clock.ts";
export { mulberry32 } from "../support/prng.ts";

/** Polls `cond` every 2 ms (real time: network delivery, not timer logic) until true or `ms` pass. */
export async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error("waitFor: timed out");
    await Bun.sleep(2);
  }
}

export interface Received {
  packet: RtpPacket;
  bytes: Uint8Array;
  from: { address: string; port: number };
}

/** A UDP socket on 127.0.0.1 (dynamic port) that records every RTP packet it receives. */
export async function rtpReceiver(): Promise<{ socket: udp.Socket<"uint8array">; port: number; got: Received[] }> {
  const got: Received[] = [];
  const socket = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    binaryType: "uint8array",
    socket: {
      data(_s, data, port, address) {
        const bytes = data.slice();
        got.push({ packet: parseRtp(bytes), bytes, from: { address, port } });
      },
      error() {
        // ICMP unreachable for a send to a closed port; irrelevant to the tests.
      },
    },
  });
  return { socket, port: socket.port, got };
}

/**
 * RtpSessions on loopback UDP, each sending to a peer of its own (`rtpReceiver`): PCMU on PT 0,
 * telephone-event on 101, a FakeClock at 0 unless `extra` says otherwise. `closeAll` (for afterEach)
 * closes every session and peer opened since, and whatever a test pushed on `cleanup`.
 *
 *   const { open, cleanup, closeAll } = loopbackSessions(new RtpPortPool(26800, 26999, "127.0.0.1"));
 *   afterEach(closeAll);
 *   const { peer, session } = await open({ initial: { ssrc: 1, sequenceNumber: 0, timestamp: 0 } });
 */
export function loopbackSessions(pool: RtpPortPool) {
  const cleanup: Array<() => void> = [];
  const closeAll = () => {
    while (cleanup.length) cleanup.pop()!();
  };
  const open = async (extra: Partial<RtpSessionOptions> = {}) => {
    const peer = await rtpReceiver();
    cleanup.push(() => peer.socket.close());
    const lease = await pool.allocate();
    const session = new RtpSession({
      lease,
      remote: { address: "127.0.0.1", port: peer.port },
      codec: "PCMU",
      payloadType: 0,
      telephoneEventPt: 101,
      clock: new FakeClock(0),
      ...extra,
    });
    cleanup.push(() => session.close());
    return { peer, lease, session };
  };
  return { open, cleanup, closeAll };
}

/**
 * A Clock over a FakeClock whose timers fire late by `extra()` ms (or early, if negative): models a
 * busy event loop so the pacer's self-correction is visible.
 */
export class SkewedClock implements Clock {
  constructor(
    readonly fake: FakeClock,
    private readonly extra: (requestedMs: number) => number,
  ) {}
  now(): number {
    return this.fake.now();
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    return this.fake.setTimer(Math.max(0, ms + this.extra(ms)), fn);
  }
  clearTimer(h: TimerHandle | undefined): void {
    this.fake.clearTimer(h);
  }
}

/** An even port free right now on 127.0.0.1, held by the returned socket. */
export async function holdEvenPort(): Promise<udp.Socket<"uint8array">> {
  for (;;) {
    const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, binaryType: "uint8array" });
    if (s.port % 2 === 0 && s.port < 65530) return s;
    s.close();
  }
}

