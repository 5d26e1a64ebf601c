/**
 * A rate policer for one received RTP stream: a token bucket (RFC 2697's single-rate idea) that refills
 * at `ratePerS` tokens per second up to `burst` tokens; a packet takes one token (the packet rate) or its
 * G.711 payload bytes, i.e. its samples (the audio rate).
 *
 *   const police = new RatePolicer(RTP_POLICE_RATE_PPS, RTP_POLICE_BURST);
 *   if (!police.admit(clock.now())) drop("rate");
 *
 * Why: every accepted audio packet is decoded and handed to the VAD and the recogniser on the thread that
 * runs the calls. A peer on the signalled address (or a broken one) sending 4,000 valid packets in 0.3 s
 * held that thread 1–3 s, and every call's outgoing audio paused with it (measured on the compiled
 * agent, load ~20). A telephone peer sends 50 packets per second at 20 ms ptime, 100 at 10 ms; a burst of
 * late packets after a network stall is a second or two of them. What a carrier SBC does: police each
 * stream's rate and drop the excess, counted.
 */

/** Packets per second a stream may keep up: 1.5× a 10 ms ptime (100/s), 3× the usual 20 ms (50/s). */
export const RTP_POLICE_RATE_PPS = 150;
/**
 * Packets a stream may send at once above that rate: 5 s of 20 ms packets. Also the backlog a caller's
 * stream may bring after this thread stalled (the kernel queues the datagrams and hands them over at
 * once): a stall longer than that loses the caller's audio beyond 5 s — such a stall has already broken
 * the call. The price: a flood costs up to this many decoded packets once, then 3× a normal stream.
 */
export const RTP_POLICE_BURST = 250;

/**
 * Audio samples per second (G.711: one payload byte per sample, RFC 3551 §4.5.14) a stream may keep up:
 * 1.5× real time at 8000 Hz. The packet rate alone let a peer send 1,488-byte packets (9 frames each) at
 * 140 per second: 26× real time, every second of it decoded, scored by the VAD and streamed to the
 * recogniser — a 10 s call counted 259 s of STT audio (`usage.sttAudioS`, what a cloud STT bills) and
 * took 3× the agent CPU of a normal call (s23 fresheyes3, compiled agent on loopback).
 */
export const RTP_POLICE_AUDIO_RATE = 12_000;
/** Audio samples a stream may bring at once above that rate: 5 s, the backlog RTP_POLICE_BURST allows. */
export const RTP_POLICE_AUDIO_BURST = 40_000;

export class RatePolicer {
  private tokens: number;
  private last: number | undefined;

  /**
   * @param ratePerS refill rate, packets per second (> 0)
   * @param burst bucket size, packets (≥ 1); the bucket starts full
   */
  constructor(
    private readonly ratePerS: number = RTP_POLICE_RATE_PPS,
    private readonly burst: number = RTP_POLICE_BURST,
  ) {
    this.tokens = burst;
  }

  /**
   * Takes `cost` tokens if there are that many.
   * @param nowMs monotonic time, ms (the session's Clock)
   * @param cost tokens the packet takes (1 for the packet rate, its samples for the audio rate; ≤ burst)
   * @returns true to accept the packet, false to drop it (fewer than `cost` tokens left)
   */
  admit(nowMs: number, cost = 1): boolean {
    if (this.last !== undefined && nowMs > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) * this.ratePerS) / 1000);
    }
    if (this.last === undefined || nowMs > this.last) this.last = nowMs;
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }
}
