/**
 * Where to send RTP: symmetric RTP (RFC 4961: a device sends its RTP from the same address and port it
 * receives on, so the peer can answer to where packets come from) with latching, the usual answer to
 * NAT in front of the caller or a carrier whose media comes from another address than its SDP says.
 *
 * Rule:
 *  1. Until the first accepted packet, send to the SDP address.
 *  2. Latch: the first packet of an expected payload type (the caller filters on that) fixes the
 *     remote to its source address and port, whatever the SDP said.
 *  3. Re-latch: packets from any other source are dropped, but when `relatchAfter` (default 5, i.e.
 *     100 ms of 20 ms packets) of them arrive in a row from one and the same new source, with none
 *     from the latched source in between, the latch moves there (counted in `relatches`). One stray or
 *     spoofed packet cannot redirect the stream; a real move (failover, NAT rebinding) costs ≤ 80 ms.
 */

export interface RtpEndpoint {
  address: string;
  port: number;
}

export class SymmetricLatch {
  private current: RtpEndpoint;
  private isLatched = false;
  private candidate: RtpEndpoint | undefined;
  private candidateCount = 0;
  /** Times the latch moved after the first latch. */
  relatches = 0;

  /**
   * @param initial the remote from SDP
   * @param relatchAfter consecutive packets from one new source needed to move the latch (≥ 1)
   */
  constructor(
    initial: RtpEndpoint,
    private readonly relatchAfter = 5,
  ) {
    this.current = { ...initial };
  }

  /** Where to send now. */
  get target(): RtpEndpoint {
    return this.current;
  }

  get latched(): boolean {
    return this.isLatched;
  }

  /**
   * The remote moved its media (a re-INVITE with a new `c=`/`m=`, RFC 3264 §8.3.1): send to the new
   * SDP address from now on and latch afresh on the first packet that arrives — but not on a packet
   * from where the media was before (a late packet of the old stream still in flight must not pull
   * our audio back; RFC 3264 §8.3.1: "the offerer … MUST be prepared to receive media on both the old
   * and new ports" — receiving, not sending there). Only `relatchAfter` packets in a row from the old
   * place (the peer's media really stayed there) move the latch back.
   */
  retarget(remote: RtpEndpoint): void {
    this.stale = [{ ...this.current }, ...(this.stale ?? [])].slice(0, 2);
    this.current = { ...remote };
    this.isLatched = false;
    this.candidate = undefined;
    this.candidateCount = 0;
  }

  /** Where the media was before the last retarget(s): not latched onto by a single packet. */
  private stale: RtpEndpoint[] | undefined;

  /**
   * Reports a valid packet of an expected payload type from `address:port`.
   * @returns true when the packet comes from the (possibly just) latched source and should be used.
   */
  observe(address: string, port: number): boolean {
    if (!this.isLatched) {
      if (this.stale?.some((e) => e.address === address && e.port === port)) return this.countCandidate(address, port);
      this.isLatched = true;
      this.stale = undefined;
      this.current = { address, port };
      return true;
    }
    if (address === this.current.address && port === this.current.port) {
      this.candidate = undefined;
      this.candidateCount = 0;
      return true;
    }
    return this.countCandidate(address, port);
  }

  /** One more packet from a source that is not the latched one; moves the latch after `relatchAfter` in a row. */
  private countCandidate(address: string, port: number): boolean {
    if (this.candidate && this.candidate.address === address && this.candidate.port === port) {
      this.candidateCount++;
    } else {
      this.candidate = { address, port };
      this.candidateCount = 1;
    }
    if (this.candidateCount >= this.relatchAfter) {
      this.current = this.candidate;
      this.isLatched = true;
      this.stale = undefined;
      this.candidate = undefined;
      this.candidateCount = 0;
      this.relatches++;
      return true;
    }
    return false;
  }
}
