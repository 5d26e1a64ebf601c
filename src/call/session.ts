/**
 * One call's life, the same for both directions: its record, its SIP side, its RTP port and media, and
 * its end. The owner (inbound set-up, outbound dialer) wires SIP events to it; the session reports to a
 * `CallObserver` (store, metrics), starts the media, catches what the call's own code throws, and
 * releases everything exactly once on every path out.
 *
 *   const session = new CallSession({ record, observer, log, clock, sip: { hangup: () => sip.hangup() } });
 *   session.holdLease(await pool.allocate());           // released with the session if media never starts
 *   sip.on("ended", (reason) => session.release(reason));
 *   sip.on("confirmed", () => session.startMedia((lease, hooks) => new CallMedia({ lease, ...hooks, … })));
 *   await session.end("api_hangup");                      // BYE/CANCEL, release, bounded wait
 *
 * Failure at the boundary: a throw or rejection from the call's media, conversation, timers or event
 * handlers ends this call with reason "error" (recorded) and never reaches the process: other calls go on.
 *
 * With a `teardown` queue (the agent's), the conversation's own hang-ups (end_call, idle, time limit, RTP
 * timeout) are queued whole: they are decided inside pacer ticks and timers, often for many calls at once
 * (an RTP timeout of every call on a failed trunk), and a teardown run there holds every other call's tick
 * (teardown-queue.ts). An end the far end decided (BYE, CANCEL) is already handled one SIP datagram at a
 * time between the pacer's ticks (src/sip/transport/receive-queue.ts) and releases at once.
 */
import { randomUUID } from "node:crypto";
import type { RtpPortLease } from "../rtp";
import type { CallDirection, CallRecord, TurnRecord } from "../pipeline/call-record";
import type { Clock, TimerHandle } from "../util/clock";
import type { Logger } from "../util/log";
import type { CallObserver } from "./observer";
import type { TeardownQueue } from "./teardown-queue";

/**
 * A new call's record, the same shape for both directions: a fresh id, state "ringing", started now,
 * no turns. `extra` adds direction-specific fields (outbound status, objective, metadata…).
 */
export function newCallRecord(
  base: { direction: CallDirection; sipCallId: string; from: string; to: string; providers?: CallRecord["providers"] },
  extra: Partial<CallRecord> = {},
): CallRecord {
  return { id: randomUUID(), ...base, state: "ringing", startedAt: new Date().toISOString(), turns: [], bargeIns: 0, ...extra };
}

/** Longest wait (ms) of `end()` for the SIP side to finish (BYE answered or timed out). */
export const DEFAULT_TEARDOWN_LIMIT_MS = 2000;

/** The SIP side as the session needs it. */
export interface SipSide {
  /** Ends the SIP side as its state allows (reject, CANCEL, BYE). Resolves when done; never rejects. */
  hangup(): Promise<void>;
}

/** What the session hands to the media it starts: callbacks already routed to the observer and the boundary. */
export interface MediaHooks {
  /** A per-call clock whose timer callbacks are caught at the call boundary. */
  clock: Clock;
  /** The conversation ends the call (end_call, idle, time limit): BYE. */
  hangup(reason: string): void;
  onTurn(turn: TurnRecord): void;
  onBargeIn(): void;
  /** A barge-in that paused the reply was decided (AgentCallDeps.onBargeInPause). */
  onBargeInPause(result: "resumed" | "cut", pausedMs: number | null): void;
  /** The caller's words so far (STT interim result). */
  onInterim(text: string): void;
  /** A DTMF key from the far end. */
  onDtmfKey(key: string): void;
  /** The LLM called a tool. */
  onToolCall(name: string, args: Record<string, unknown>): void;
  /** The reply in progress (text handed to TTS so far). */
  onSaying(text: string): void;
  onProviderError(err: unknown): void;
  /** The far end's RTCP report about our stream (RFC 3550 §6.4.1). */
  onRtcpReport(report: NonNullable<CallRecord["rtcp"]>): void;
  /** Anything the media or conversation could not handle: ends this call with "error". */
  onError(err: unknown): void;
  /** Record fields changed outside a turn (the serving providers after a fallback): persisted. */
  onRecordChanged(): void;
}

/** The media of a started call (CallMedia in production). */
export interface SessionMedia {
  start(): void;
  /** Releases the port, socket, VAD streams and provider sessions. Idempotent. */
  close(): void;

  /** The RTP session's counters, reported when the call ends. */
  readonly session?: { readonly stats: { packetsIn: number; packetsOut: number; lost: number } };
}

export interface CallSessionOptions {
  record: CallRecord;
  observer: CallObserver;
  log: Logger;
  clock: Clock;
  sip: SipSide;
  /** Longest wait of `end()` for the SIP side, ms. Default DEFAULT_TEARDOWN_LIMIT_MS. */
  teardownLimitMs?: number;
  /** Where the conversation's own hang-ups run (the agent's, shared by its calls); default: at once. */
  teardown?: TeardownQueue;
  /** Runs once media is closed and before `callEnded` (e.g. the dialer's final status and outcome). */
  beforeEnded?(sipReason: string): void;
  /** Runs last, once everything is released (the owner forgets the call). */
  onReleased?(): void;
}

export class CallSession {
  readonly record: CallRecord;
  /** The per-call clock (timer callbacks caught at the boundary). */
  readonly clock: Clock;
  private lease: RtpPortLease | null = null;
  private media: SessionMedia | null = null;
  private released = false;
  private ending: Promise<void> | null = null;
  /** The live fields (providers, transfer, hold) as last reported, to notice a change. */
  private reportedFields: string;

  constructor(private readonly o: CallSessionOptions) {
    this.record = o.record;
    this.reportedFields = liveFields(o.record);
    this.clock = guardedClock(o.clock, (err) => this.fail(err, "timer"));
    o.observer.callStarted(o.record);
  }

  /** True once everything was released (the call is over for us). */
  get isReleased(): boolean {
    return this.released;
  }

  /** The started media, if any. */
  get currentMedia(): SessionMedia | null {
    return this.media;
  }

  /**
   * Keeps an RTP port lease until the media takes it over; released with the session on any path.
   * Returns false (and releases the lease at once) when the call is already over.
   */
  holdLease(lease: RtpPortLease): boolean {
    if (this.released) {
      lease.release();
      return false;
    }
    this.lease = lease;
    return true;
  }

  /** The live record's fields changed: persist them. */
  updated(): void {
    if (!this.released) this.o.observer.callUpdated(this.record);
  }

  /**
   * Reports the record's live fields as soon as one changed, each told through `onRecordChanged`
   * (also checked on each turn and provider error): the provider that actually serves each stage (the
   * conversation switches `record.providers` to the offline one after a fallback), the transfer as it
   * goes (pending → outcome), and hold (`record.onHold`) — the store persists them, the page shows them.
   */
  private reportChanges(): void {
    const now = liveFields(this.record);
    if (now === this.reportedFields) return;
    this.reportedFields = now;
    this.updated();
  }

  /** The dialog is confirmed: the record says connected, with the answer time. */
  answered(): void {
    if (this.released) return;
    this.record.state = "connected";
    this.record.answeredAt = new Date().toISOString();
    this.o.observer.callAnswered(this.record);
  }

  /**
   * Creates and starts the media on the held lease. A throw from `create` or `start` ends the call with
   * "error". Returns false when nothing was started (no lease, already started, or the call is over).
   */
  startMedia(create: (lease: RtpPortLease, hooks: MediaHooks) => SessionMedia): boolean {
    if (this.released || this.media || !this.lease) return false;
    const lease = this.lease;
    const { record, observer } = this.o;
    const hooks: MediaHooks = {
      clock: this.clock,
      hangup: (reason) => {
        const q = this.o.teardown;
        if (!q) return void this.end(reason);
        // Decided inside a pacer tick or a timer, maybe for many calls at once: queued whole (the file
        // comment); the reason is the first one given even if the far end's BYE comes before the job runs.
        if (!this.released) record.endReason ??= reason;
        q.push(() => void this.end(reason));
      },
      onTurn: (turn) => {
        observer.turn(record, turn);
        this.reportChanges();
      },
      onBargeIn: () => observer.bargeIn(record),
      onBargeInPause: (result, ms) => {
        observer.bargeInPause?.(record, result, ms);
        this.reportChanges();
      },
      onInterim: (text) => observer.interim?.(record, text),
      onDtmfKey: (key) => observer.dtmf?.(record, key),
      onToolCall: (name, args) => observer.toolCall?.(record, name, args),
      onSaying: (text) => observer.saying?.(record, text),
      onProviderError: (err) => {
        observer.providerError(record, err);
        this.reportChanges();
      },
      onRtcpReport: (report) => observer.rtcpReport?.(record, report),
      onError: (err) => this.fail(err, "media"),
      onRecordChanged: () => this.reportChanges(),
    };
    const codec = record.codec;
    try {
      this.media = create(lease, hooks);
      this.lease = null; // the media owns the port now
      if (record.codec !== codec) observer.callUpdated(record); // the negotiated codec, for the live page
      this.media.start();
      return true;
    } catch (err) {
      this.fail(err, "media start");
      return false;
    }
  }

  /**
   * Wraps an event handler of this call: a throw, or a rejection of the promise it returns, ends this
   * call with "error" instead of reaching the process.
   */
  guard<A extends unknown[]>(where: string, fn: (...args: A) => unknown): (...args: A) => void {
    return (...args: A) => {
      try {
        const r = fn(...args);
        if (r instanceof Promise) r.catch((err) => this.fail(err, where));
      } catch (err) {
        this.fail(err, where);
      }
    };
  }

  /** Something in this call's code failed unexpectedly: log it, record "error", end the call. */
  fail(err: unknown, where: string): void {
    this.o.log.error({ callId: this.record.id, where, err: err instanceof Error ? (err.stack ?? err.message) : String(err) }, "call failed");
    void this.end("error");
  }

  /**
   * Ends the call: records `reason` (the first reason given wins), ends the SIP side (reject, CANCEL or
   * BYE as its state allows), releases everything at once, and resolves when the SIP side is done or
   * after the teardown limit. Idempotent: later calls return the same promise.
   */
  end(reason: string): Promise<void> {
    if (this.ending) return this.ending;
    this.record.endReason ??= reason;
    let bye: Promise<void>;
    try {
      bye = this.o.sip.hangup().catch(() => {});
    } catch {
      bye = Promise.resolve();
    }
    this.release(reason);
    let timer: TimerHandle | undefined;
    const limit = new Promise<void>((resolve) => (timer = this.o.clock.setTimer(this.o.teardownLimitMs ?? DEFAULT_TEARDOWN_LIMIT_MS, resolve)));
    this.ending = Promise.race([bye, limit]).then(() => this.o.clock.clearTimer(timer));
    return this.ending;
  }

  /**
   * Releases everything the call holds (media or lease), reports the RTP counters and the end to the
   * observer, once. Called when the SIP side ended (with its reason) and by `end()`.
   */
  release(sipReason: string): void {
    if (this.released) return;
    this.released = true;
    const { record, observer, log } = this.o;
    const media = this.media;
    if (media) {
      try {
        media.close();
      } catch (err) {
        log.error({ callId: record.id, err: String(err) }, "media close failed");
      }
      if (media.session) observer.rtpStats(record, media.session.stats);
    }
    this.lease?.release();
    this.lease = null;
    delete record.onHold; // live only: an ended call is not on hold
    try {
      this.o.beforeEnded?.(sipReason);
    } catch (err) {
      log.error({ callId: record.id, err: String(err) }, "call end bookkeeping failed");
    }
    observer.callEnded(record, record.endReason ?? sipReason);
    this.o.onReleased?.();
  }
}

/** The fields of a live record that change outside turns, as one comparable string. */
function liveFields(r: CallRecord): string {
  return JSON.stringify([r.providers ?? null, r.transfer ?? null, r.onHold ?? false]);
}

/** A clock whose timer callbacks cannot throw past it: a throw goes to `onError`. */
export function guardedClock(clock: Clock, onError: (err: unknown) => void): Clock {
  return {
    now: () => clock.now(),
    setTimer: (ms, fn) =>
      clock.setTimer(ms, () => {
        try {
          fn();
        } catch (err) {
          onError(err);
        }
      }),
    clearTimer: (handle) => clock.clearTimer(handle),
  };
}
