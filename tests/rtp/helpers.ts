/** Test helpers shared by the RTP and playout tests. */
import type { udp } from "bun";
import { parseRtp, type RtpPacket } from "../../src/rtp/packet.ts";
import type { Clock, FakeClock, TimerHandle } from "../../src/util/clock.ts";
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

