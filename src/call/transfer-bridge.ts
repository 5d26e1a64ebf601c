/**
 * TRANSFER_FALLBACK=bridge: when the trunk refuses the REFER (src/call/transfer.ts), the agent calls the
 * target itself through the trunk (src/call/bridge-leg.ts) and, once the target answers, connects the
 * caller's call to it (a B2BUA bridge: src/call/rtp-bridge.ts through CallMedia.bridgeTo). The agent's
 * conversation stops then. Either side's BYE ends the other leg with a BYE. A target that is busy, does
 * not answer within RING_TIMEOUT_S or cannot be called → the transfer failed; the caller stays with the
 * agent, who says so.
 *
 * Which REFER answers fall back: every final non-2xx to the REFER itself (403, 405, 420, 501, 603, and
 * 408 when the REFER got no answer): the trunk did not take the transfer on, so no other party is
 * ringing the target. Not a failure reported by NOTIFY (RFC 3515 §2.4.5): the target itself refused
 * (486 Busy Here…) and a second call would meet the same answer; nor a REFER accepted with no final
 * NOTIFY in time: the trunk may still be transferring, and a second call could ring the target twice.
 */
import type { AudioFrame } from "../media/constants";
import type { CallRecord, TransferRecord } from "../pipeline/call-record";
import type { Logger } from "../util/log";
import type { BridgeLeg, BridgeLegs } from "./bridge-leg";
import { RtpBridge, type BridgeSink } from "./rtp-bridge";

/** What the bridge needs of the caller's call media (CallMedia). */
export interface BridgeableMedia {
  bridgeTo(leg: BridgeLeg, onEnded: (by: "caller" | "target") => void): boolean;
  fromTarget(frame: AudioFrame): void;
  fromTargetDtmf(key: string): void;
  /** Aborted when the caller's call is over. */
  readonly closedSignal: AbortSignal;
}

/** TRANSFER_FALLBACK: what happens when the trunk refuses the REFER. */
export type TransferFallback = "bridge" | "none";

/** The fallback as a call's transfer hook uses it: the legs placer and the call's media (once it exists). */
export interface BridgeFallback {
  legs: BridgeLegs;
  media(): BridgeableMedia | undefined;
}

export interface BridgeTransferOptions {
  legs: BridgeLegs;
  media: BridgeableMedia;
  /** The caller's call record. */
  parent: CallRecord;
  /** The transfer so far (method refer, outcome refused): turned into the bridge's record. */
  rec: TransferRecord;
  /** The leg's Request-URI (BridgeLegs.requestUri of the configured target). */
  uri: string;
  /** Called with the record as it changes (persist). */
  onRecord(rec: TransferRecord): void;
  /** The agent tells the caller it is connecting them (before the target's phone rings). */
  bridging?(): void;
  log: Logger;
}

/**
 * Calls the target and bridges it to the caller. Resolves true once bridged (the conversation has
 * stopped; the record says outcome "bridged" and later `endedAt`/`endedBy`), false when the target's
 * leg did not connect (outcome "failed" with `finalStatus`/`failureReason`). Never rejects.
 */
export async function bridgeTransfer(o: BridgeTransferOptions): Promise<boolean> {
  const now = () => new Date().toISOString();
  const { rec, media, parent } = o;
  rec.method = "bridge";
  rec.outcome = "pending";
  rec.uri = o.uri;
  delete rec.endedAt;
  o.onRecord(rec);
  o.log.info({ callId: parent.id, target: rec.target, referStatus: rec.referStatus }, "refer refused: calling the target to bridge");
  o.bridging?.();
  const r = await o.legs.dial({
    parent,
    target: rec.target,
    uri: o.uri,
    onFrame: (frame) => media.fromTarget(frame),
    onDtmf: (key) => media.fromTargetDtmf(key),
    signal: media.closedSignal,
    onPlaced: (legCallId) => {
      rec.legCallId = legCallId;
      o.onRecord(rec);
    },
  });
  if (!r.ok) {
    rec.outcome = "failed";
    if (r.status !== undefined) rec.finalStatus = r.status;
    rec.failureReason = r.reason;
    rec.endedAt = now();
    o.onRecord(rec);
    o.log.info({ callId: parent.id, target: rec.target, status: r.status, reason: r.reason }, "bridge leg did not connect");
    return false;
  }
  const leg = r.leg;
  rec.legCallId = leg.record.id;
  const up = media.bridgeTo(leg, (by) => {
    rec.endedBy = by;
    rec.endedAt = now();
    o.onRecord(rec);
  });
  if (!up) {
    // The caller left as the target answered: nobody to bridge to.
    void leg.end("caller_hangup");
    rec.outcome = "failed";
    rec.failureReason = "caller hung up";
    rec.endedAt = now();
    o.onRecord(rec);
    return false;
  }
  rec.outcome = "bridged";
  rec.bridgedAt = now();
  o.onRecord(rec);
  return true;
}

/**
 * A caller's call bridged to a target's leg (CallMedia.bridgeTo): the relay both ways, the leg's end
 * hanging up the caller, the caller's end hanging up the leg; `onEnded` told once, with who ended it.
 */
export class BridgeLink {
  readonly relay: RtpBridge;
  private ended = false;

  constructor(
    readonly leg: BridgeLeg,
    caller: BridgeSink,
    private readonly o: { callId: string; log: Logger; onEnded(by: "caller" | "target"): void; hangupCaller(reason: string): void; isOver(): boolean },
  ) {
    this.relay = new RtpBridge(caller, leg.rtp);
    o.log.info({ callId: o.callId, legCallId: leg.record.id, codecs: [caller.mediaCodec, leg.rtp.mediaCodec] }, "bridge up");
    void leg.ended.then(() => {
      if (o.isOver()) return;
      this.end("target");
      o.hangupCaller("transfer_target_hangup");
    });
  }

  /** The caller's call is over: the target's leg gets its BYE. */
  callerGone(): void {
    this.end("caller");
    void this.leg.end("caller_hangup");
  }

  private end(by: "caller" | "target"): void {
    if (this.ended) return;
    this.ended = true;
    this.relay.stop();
    this.o.log.info({ callId: this.o.callId, legCallId: this.leg.record.id, endedBy: by, ...this.relay.stats }, "bridge ended");
    this.o.onEnded(by);
  }
}

/**
 * Passes a key to the other leg as RFC 4733 events (DtmfSender). A key it cannot send as a tone (a hook
 * flash, event 16) is dropped rather than thrown: it must not end the call.
 * @returns whether the key was queued
 */
export function passKey(out: { send(keys: string): void }, key: string): boolean {
  if (!/^[0-9*#A-D]$/i.test(key)) return false;
  out.send(key);
  return true;
}
