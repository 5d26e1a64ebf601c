/**
 * Places outbound calls through the SIP trunk: admission (destinations, draining, capacity, rate), an
 * RTP port and the system instruction, then one `OutboundAttempt` per call (./attempt.ts: INVITE,
 * ring timeout and CANCEL, answer → media, final status and outcome). Keeps the live calls for
 * hang-up by id and for shutdown; every resource is released on every path out.
 *
 *   const dialer = new OutboundDialer({ ua, store, clock, log, trunk, callerId, … });
 *   const record = await dialer.place({ phoneNumber: "+14155550100", openingReason: "…", objective: "…" });
 *   dialer.hangup(record.id);
 *
 * Limits: MAX_OUTBOUND_CALLS live calls, OUTBOUND_CALLS_PER_MINUTE starts per sliding minute; refusals
 * are `OutboundError` ("at_capacity", "rate_limited", …), never a half-made call.
 *
 * Each call's record, port, media and end live in a `CallSession` (src/call/session.ts), which reports
 * to the same `CallObserver` as inbound calls (store and metrics: outbound calls show in /metrics).
 */
import type { CallRecord, CallRecordStore } from "../pipeline/call-record";
import { RtpPortPoolError, type RtpPortLease } from "../rtp";
import type { TimerHandle } from "../util/clock";
import { storeObserver, type CallObserver } from "../call/observer";
import { OutboundAttempt, type AttemptDeps } from "./attempt";
import type { DestinationPolicy } from "./destination-policy";
import { OutboundError } from "./errors";
import { validatePlaceRequest, type PlaceCallRequest } from "./request";
import { SlidingWindowLimiter } from "./rate-limit";

export interface OutboundDialerDeps extends Omit<AttemptDeps, "observer"> {
  store: CallRecordStore;
  /** Where each call is reported (store and metrics); default: the store alone. */
  observer?: CallObserver;
  maxCalls: number;
  callsPerMinute: number;
  allocatePort(): Promise<RtpPortLease>;
  /** The system instruction for a call's objective (src/cli/prompts.ts). */
  systemPrompt(objective: string): Promise<string>;
  /** Numbers calls may go to (OUTBOUND_ALLOW_PREFIXES / OUTBOUND_DENY_PREFIXES); undefined allows all. */
  destinations?: DestinationPolicy;
  /** Server-wide admission (total capacity); returns a refusal, or undefined to go ahead. */
  admit?(): OutboundError | undefined;
}

export class OutboundDialer {
  private readonly live = new Map<string, OutboundAttempt>();
  private readonly limiter: SlidingWindowLimiter;
  /** Calls admitted but not yet INVITEd (port allocation, prompt). */
  private pending = 0;
  private draining = false;
  private readonly observer: CallObserver;

  constructor(private readonly d: OutboundDialerDeps) {
    this.limiter = new SlidingWindowLimiter(d.callsPerMinute, d.clock);
    this.observer = d.observer ?? storeObserver(d.store);
  }

  /** Live outbound calls (INVITE sent, not ended) plus those being set up. */
  get activeCalls(): number {
    return this.live.size + this.pending;
  }

  /**
   * Validates the request, checks the limits, allocates an RTP port and sends the INVITE. Resolves with
   * the new record (status "initiating") as soon as the INVITE is out; the call goes on in the background.
   * @throws OutboundError invalid_request (with `field`), destination_not_allowed (field phone_number),
   *   draining, at_capacity, rate_limited (with `retryAfterMs`), no_media_port.
   */
  async place(input: PlaceCallRequest): Promise<CallRecord> {
    const req = validatePlaceRequest(input);
    const notAllowed = this.d.destinations?.check(req.phoneNumber);
    if (notAllowed) throw new OutboundError("destination_not_allowed", `phone_number: ${notAllowed}`, { field: "phone_number" });
    if (this.draining) throw new OutboundError("draining", "the agent is shutting down; no new calls");
    const refusal = this.d.admit?.();
    if (refusal) {
      if (refusal.code === "at_capacity") this.observer.callRefused("outbound", "busy");
      throw refusal;
    }
    if (this.activeCalls >= this.d.maxCalls) {
      this.observer.callRefused("outbound", "busy");
      throw new OutboundError("at_capacity", `${this.d.maxCalls} outbound calls are live (MAX_OUTBOUND_CALLS)`);
    }
    const rate = this.limiter.tryAcquire();
    if (!rate.ok) {
      throw new OutboundError("rate_limited", `more than ${this.d.callsPerMinute} calls in a minute (OUTBOUND_CALLS_PER_MINUTE)`, {
        retryAfterMs: rate.retryAfterMs,
      });
    }
    this.pending++;
    let lease: RtpPortLease | undefined;
    let system: string;
    try {
      lease = await this.d.allocatePort();
      system = await this.d.systemPrompt(req.objective);
    } catch (err) {
      lease?.release();
      if (err instanceof RtpPortPoolError && err.retryable) { // range leased, or no file descriptor left
        this.observer.callRefused("outbound", "busy");
        throw new OutboundError("no_media_port", "no free RTP port");
      }
      throw err;
    } finally {
      this.pending--;
    }
    if (this.draining) {
      lease.release();
      throw new OutboundError("draining", "the agent is shutting down; no new calls");
    }
    const attempt = OutboundAttempt.dial({ ...this.d, observer: this.observer }, req, lease, system, (a) => this.live.delete(a.record.id));
    if (!attempt.session.isReleased) this.live.set(attempt.record.id, attempt);
    return attempt.record;
  }

  /**
   * Ends a live call: CANCEL before answer (status canceled), BYE after (status completed). Before any
   * response from the trunk no CANCEL may be sent (§9.1): the call ends as canceled at once and the
   * SIP layer deals with whatever the INVITE still brings (src/sip/ua/outbound-call.ts cancel()).
   * Returns the record, or undefined when the id is unknown. A call already ended is returned unchanged
   * (from a synchronous store; undefined from PostgreSQL).
   */
  hangup(id: string): CallRecord | undefined {
    const live = this.live.get(id);
    if (!live) {
      // Not live: nothing to end. The stored record when the store answers at once (memory, SQLite);
      // with PostgreSQL the caller (the HTTP route) already holds the record it read.
      const stored = this.d.store.get(id);
      return stored instanceof Promise ? undefined : stored;
    }
    const { record } = live;
    void live.hangup("api");
    this.d.log.info({ callId: id, status: record.status }, "outbound call hang-up requested");
    return record;
  }

  /** Refuses new calls from now on (OutboundError "draining"); live calls go on. */
  drain(): void {
    this.draining = true;
  }

  /** Refuses new calls, then cancels or hangs up every live one; resolves when all ended or after `ms`. */
  async shutdown(ms: number): Promise<void> {
    this.draining = true;
    const ends = [...this.live.values()].map((live) => live.hangup("shutdown"));
    let timer: TimerHandle | undefined;
    await Promise.race([Promise.all(ends), new Promise<void>((r) => (timer = this.d.clock.setTimer(ms, r)))]);
    this.d.clock.clearTimer(timer);
    for (const live of [...this.live.values()]) live.session.release("local_bye");
  }
}
