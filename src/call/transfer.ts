/**
 * Transfer to a person, blind, by REFER (RFC 3515) from inside the call: REFER with Refer-To and
 * Referred-By → 202 → NOTIFYs whose message/sipfrag carries the target's answer (RFC 3515 §2.4.4,
 * RFC 5589 §6). A 2xx sipfrag means the caller is now talking to the target: we hang up. A REFER
 * refused, a 3xx–6xx sipfrag or no final NOTIFY within `notifyTimeoutMs` is a failure: the caller stays
 * with the agent. The call record keeps target, method, outcome, statuses and times.
 *
 * Targets (TRANSFER_TARGETS): `name=uri` pairs separated by commas, a URI being `sip:`/`sips:` or an
 * E.164 number (`+14155550123`), which is sent as `sip:+14155550123@HOST` with HOST the peer's host
 * (the trunk routes it).
 */
import type { CallRecord, TransferRecord } from "../pipeline/call-record";
import type { Clock } from "../util/clock";
import type { Logger } from "../util/log";
import { bridgeTransfer, type BridgeFallback } from "./transfer-bridge";

/** Name → SIP URI or E.164 number. */
export type TransferTargets = ReadonlyMap<string, string>;

/** Default wait for the final NOTIFY after the REFER's 2xx, ms. */
export const DEFAULT_TRANSFER_NOTIFY_MS = 30_000;

/**
 * Parses TRANSFER_TARGETS: `sales=sip:sales@pbx.example.com, desk=+14155550123`.
 * @throws Error naming the bad entry (config.ts turns it into a ConfigError for the variable).
 */
export function parseTransferTargets(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    const name = eq > 0 ? part.slice(0, eq).trim() : "";
    const uri = eq > 0 ? part.slice(eq + 1).trim() : "";
    if (!/^[A-Za-z0-9_-]{1,40}$/.test(name)) throw new Error(`"${part}": expected name=uri with a name of letters, digits, _ or -`);
    if (!/^sips?:[^\s<>"]+@[^\s<>"]+$/i.test(uri) && !/^\+[1-9]\d{6,14}$/.test(uri)) {
      throw new Error(`"${part}": the target must be a sip:/sips: URI with a host or an E.164 number (+…)`);
    }
    if (out.has(name)) throw new Error(`"${name}" is listed twice`);
    out.set(name, uri);
  }
  return out;
}

/** The Refer-To URI of a target: a SIP URI as is, an E.164 number at the peer's host. */
export function referUri(target: string, peerHost: string): string {
  return target.startsWith("+") ? `sip:${target}@${peerHost}` : target;
}

/** What the transfer needs of the SIP call (src/sip/ua CallBase). */
export interface ReferringCall {
  refer(referTo: string): Promise<number>;
  on(event: "referNotify", fn: (n: { status: number | undefined; terminated: boolean }) => void): () => void;
}

export interface TransferOptions {
  call: ReferringCall;
  uri: string;
  target: string;
  clock: Clock;
  notifyTimeoutMs?: number;
  /** Called with the record as it changes (persist). */
  onRecord(rec: TransferRecord): void;
}

/** Runs one blind transfer; resolves with the finished record (never rejects). */
export async function blindTransfer(o: TransferOptions): Promise<TransferRecord> {
  const now = () => new Date().toISOString();
  const rec: TransferRecord = { target: o.target, uri: o.uri, method: "refer", outcome: "pending", startedAt: now() };
  o.onRecord(rec);
  let resolveFinal!: (status: number | undefined) => void;
  const final = new Promise<number | undefined>((r) => (resolveFinal = r));
  // NOTIFYs may arrive before the 202 (RFC 3515 §2.4.4 does not order them): listen first.
  const off = o.call.on("referNotify", (n) => {
    if ((n.status !== undefined && n.status >= 200) || n.terminated) resolveFinal(n.status);
  });
  try {
    rec.referStatus = await o.call.refer(o.uri);
    if (rec.referStatus < 200 || rec.referStatus >= 300) {
      rec.outcome = "refused";
      return rec;
    }
    const timer = o.clock.setTimer(o.notifyTimeoutMs ?? DEFAULT_TRANSFER_NOTIFY_MS, () => resolveFinal(-1));
    const status = await final;
    o.clock.clearTimer(timer);
    if (status === -1) rec.outcome = "no_notify";
    else {
      if (status !== undefined) rec.finalStatus = status;
      rec.outcome = status !== undefined && status >= 200 && status < 300 ? "transferred" : "failed";
    }
    return rec;
  } finally {
    off();
    rec.endedAt = now();
    o.onRecord(rec);
  }
}

/**
 * What `run` resolves with: true = handed over by REFER (the conversation hangs up), "bridged" = the
 * REFER was refused and the caller is now bridged to the target (the conversation has stopped), false =
 * the transfer failed (the conversation tells the caller and goes on).
 */
export type TransferResult = boolean | "bridged";

/**
 * The conversation's `transfer` dependency for one call (AgentCallDeps.transfer): undefined without
 * targets. `peerHost` is the host E.164 targets are sent to (the trunk's). With `fallback`
 * (TRANSFER_FALLBACK=bridge) a refused REFER is followed by a bridged call (src/call/transfer-bridge.ts).
 */
export function transferHook(o: {
  call: ReferringCall;
  targets: TransferTargets | undefined;
  peerHost: string;
  clock: Clock;
  notifyTimeoutMs?: number;
  record: CallRecord;
  onRecordChanged(): void;
  log: Logger;
  fallback?: BridgeFallback;
}): { targets: readonly string[]; run(target: string, hooks?: { bridging?(): void }): Promise<TransferResult> } | undefined {
  const targets = o.targets;
  if (!targets || targets.size === 0) return undefined;
  const onRecord = (r: TransferRecord) => {
    o.record.transfer = { ...r };
    o.onRecordChanged();
  };
  return {
    targets: [...targets.keys()],
    async run(target, hooks) {
      const t = targets.get(target);
      if (t === undefined) return false;
      const rec = await blindTransfer({
        call: o.call,
        uri: referUri(t, o.peerHost),
        target,
        clock: o.clock,
        notifyTimeoutMs: o.notifyTimeoutMs,
        onRecord,
      });
      o.log.info({ callId: o.record.id, target, outcome: rec.outcome, referStatus: rec.referStatus, finalStatus: rec.finalStatus }, "transfer ended");
      const media = rec.outcome === "refused" ? o.fallback?.media() : undefined;
      if (media && o.fallback) {
        const bridged = await bridgeTransfer({ legs: o.fallback.legs, media, parent: o.record, rec, uri: o.fallback.legs.requestUri(t), onRecord, bridging: hooks?.bridging, log: o.log });
        return bridged ? "bridged" : false;
      }
      return rec.outcome === "transferred";
    },
  };
}
