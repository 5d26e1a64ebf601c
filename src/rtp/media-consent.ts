/**
 * Media consent before the far end's first packet: where RTP may go before anything came back from it.
 *
 * The SDP's `c=` address is only a claim. An INVITE whose offer names a third party (`c=` of a victim,
 * any port) would otherwise make us stream the greeting there until RTP_TIMEOUT_S — about 320 KB over
 * 33 s for two datagrams sent (last session's attack on the binary, ~350× amplification), on through
 * the victim's ICMP port-unreachable answers. WebRTC closes this with consent (RFC 7675: media is sent
 * only to a peer whose connectivity check showed it is willing to receive it, so a browser cannot be
 * made to send media to a victim address; consent lapses after 30 s without fresh checks). A SIP UA has
 * no STUN check, so, like media servers' start-of-media timers (Vivox `NeverRtpTimeoutMs`: "disconnecting
 * audio due to RTP timeout at the initial call time", beside its `LostRtpTimeoutMs` once established;
 * rtpengine's `--timeout`: a stream is "considered dead if no media traffic has been received"), the
 * far end's first RTP packet is the proof:
 *
 *  1. The address is *unproven* when it is not the address the signalling came from (the INVITE's
 *     source, or the trunk's for outbound calls) — the only address the peer has shown it answers on:
 *     an ACK to our 2xx needs the To tag that only went there. A carrier's media server differs from its
 *     SIP proxy, but it sends RTP from the answer on; a NATed phone's private `c=` differs too, and its
 *     RTP comes from the signalled address (symmetric-latch.ts).
 *  2. To an unproven address, before its first packet: an ICMP port/host/network unreachable on our
 *     RTP socket stops our sending at once (the socket reports it as ECONNREFUSED / EHOSTUNREACH /
 *     ENETUNREACH, port-pool.ts); the first accepted packet (which latches, RFC 4961) resumes it.
 *  3. To an unproven address, nothing received for RTP_START_TIMEOUT_S ends the call (the call layer's
 *     watchdog, src/call/rtp-watchdog.ts).
 * An address equal to the signalling source keeps the old rules (RTP_TIMEOUT_S only): sending there
 * reaches nobody the caller does not control.
 */
import { unusableDest } from "./send-path.ts";
import { normaliseAddress, type RtpEndpoint } from "./symmetric-latch.ts";

/**
 * Rule 1: true when RTP to `remote` goes to an address the signalling did not come from. False without
 * a signalling address (tests, direct use), and for the unspecified address or port 0 (hold: nothing
 * is sent there).
 */
export function unprovenMediaAddress(remote: RtpEndpoint, signallingAddress: string | undefined): boolean {
  if (signallingAddress === undefined || unusableDest(remote)) return false;
  return normaliseAddress(remote.address) !== normaliseAddress(signallingAddress);
}

const UNREACHABLE = /\b(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH)\b/;

/**
 * Rule 2's test: the socket error is an ICMP unreachable for an earlier send. The in-thread socket
 * gives a `code`; the media worker forwards only the message (worker/plane.ts), which names it.
 */
export function isUnreachableError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") return UNREACHABLE.test(code);
  return UNREACHABLE.test(String((err as { message?: unknown } | null)?.message ?? err));
}
