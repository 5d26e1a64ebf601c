/**
 * The peer's `o=` line across re-offers (RFC 3264 §8, RFC 4566 §5.2): is a new offer a new description,
 * the previous one again, or one that went back?
 *
 * RFC 3264 §8: "When issuing an offer that modifies the session, the "o=" line of the new SDP MUST be
 * identical to that in the previous SDP, except that the version in the origin field MUST increment by
 * one from the previous SDP. If the version in the origin line does not increment, the SDP MUST be
 * identical to the SDP with that version number. The answerer MUST be prepared to receive an offer that
 * contains SDP with a version that has not changed; this is effectively a no-op." RFC 4566 §5.2:
 * "<sess-version> ... is increased when a modification is made to the session data."
 *
 * - no previous SDP of the peer known, or another origin (username, session id or address changed: a
 *   B2BUA or SBC that re-originates the description mid-call; §8 forbids it, trunks do it) → `new`;
 * - a higher version (by one, or more: tools that use a clock) → `new`;
 * - the same version → `unchanged`: a no-op, whatever the body says (`bodyChanged` tells whether the
 *   offerer broke "the SDP MUST be identical");
 * - a lower version → `stale`: no valid re-offer can carry it (the SIP layer answers 400 with a Warning).
 */
import type { SdpDescription } from "./types.ts";

/** The `o=` fields that name a description and its version (RFC 4566 §5.2). */
export type SdpOrigin = SdpDescription["origin"];

/** The peer's last SDP (offer or answer) as the baseline of the next offer. */
export interface RemoteDescription {
  origin: SdpOrigin;
  /** Its body, line ends normalised to LF and trailing whitespace dropped. */
  body: string;
}

export type OriginVerdict =
  | { kind: "new" }
  | { kind: "unchanged"; bodyChanged: boolean }
  | { kind: "stale"; previous: string; offered: string };

/** Normalises a body for the "identical" test: CRLF or LF, trailing blank lines. */
export function normaliseBody(sdp: string): string {
  return sdp.replace(/\r\n/g, "\n").trimEnd();
}

/** Classifies a re-offer's `o=` against the peer's previous SDP (see the file comment). Pure. */
export function compareOrigin(previous: RemoteDescription | undefined, offered: SdpOrigin, offeredBody: string): OriginVerdict {
  if (!previous) return { kind: "new" };
  const p = previous.origin;
  if (p.username !== offered.username || p.sessionId !== offered.sessionId || p.address !== offered.address) return { kind: "new" };
  const order = compareVersions(offered.sessionVersion, p.sessionVersion);
  if (order === undefined || order > 0) return { kind: "new" };
  if (order === 0) return { kind: "unchanged", bodyChanged: normaliseBody(offeredBody) !== previous.body };
  return { kind: "stale", previous: p.sessionVersion, offered: offered.sessionVersion };
}

/**
 * Orders two `<sess-version>`s (RFC 4566 §9: `1*DIGIT`) as integers of any size: -1, 0, 1; undefined
 * when either is not all digits. Not through a JS number: past 2^53 the +1 of a re-offer is lost
 * (18446744073709551614 and …615 are the same double, and a hold sent with the latter was ignored).
 */
export function compareVersions(a: string, b: string): -1 | 0 | 1 | undefined {
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  const x = a.replace(/^0+(?=\d)/, "");
  const y = b.replace(/^0+(?=\d)/, "");
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x === y ? 0 : x < y ? -1 : 1;
}
