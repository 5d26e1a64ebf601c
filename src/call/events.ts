/**
 * The live event stream of calls, for the call page (src/http/ui) and any other watcher over SSE
 * (`GET /events`, src/http/events-route.ts). The call side publishes (src/call/observer.ts
 * `eventsObserver`); each subscriber gets its own bounded queue.
 *
 * Never on the media path's critical section: `publish` is synchronous and O(subscribers), serializes
 * the event once (only when someone listens), never waits for a subscriber. A subscriber whose queue is
 * full (a slow or stalled browser) is dropped — its stream ends with a final `dropped` event — rather
 * than waited for or allowed to grow memory.
 *
 *   const hub = new CallEventHub();
 *   const sub = hub.subscribe({ callId });       // sub.next() → Promise<string | null> (SSE frames)
 *   hub.publish({ type: "interim", callId, at, text: "hello" });
 */
import type { CallRecord, TurnRecord } from "../pipeline/call-record";

/** What the page shows of a call in the live list (no turns: those come as `turn` events). */
export interface CallSummary {
  id: string;
  sipCallId: string;
  direction: CallRecord["direction"];
  from: string;
  to: string;
  state: CallRecord["state"];
  status?: CallRecord["status"];
  startedAt: string;
  answeredAt?: string;
  endedAt?: string;
  endReason?: string;
  codec?: string;
  providers?: CallRecord["providers"];
  bargeIns: number;
  usage?: CallRecord["usage"];
  /** True while the peer holds the call (the page shows "on hold"). */
  onHold?: boolean;
  /** True while a transfer to a person is under way (REFER sent, no final NOTIFY yet) or done until our BYE: "transferring". */
  transferring?: boolean;
  /** True while the caller is bridged to the transfer target through us (TRANSFER_FALLBACK=bridge): "bridged". */
  bridged?: boolean;
}

/**
 * One event. `at` is the ISO time it happened. `turn` carries the TurnRecord as stored: caller finals
 * and agent replies (an interrupted reply has `interrupted`, `text` = the part heard, `generatedText` =
 * the whole reply; agent turns carry `latency`: end of speech → final transcript → first token → first
 * audio → first RTP, ms).
 */
export type CallEvent =
  | { type: "call"; at: string; call: CallSummary }
  | { type: "interim"; callId: string; at: string; text: string }
  | { type: "saying"; callId: string; at: string; text: string }
  | { type: "turn"; callId: string; at: string; turn: TurnRecord }
  | { type: "bargeIn"; callId: string; at: string }
  | { type: "dtmf"; callId: string; at: string; key: string }
  | { type: "tool"; callId: string; at: string; name: string; args: Record<string, unknown> }
  | { type: "providerError"; callId: string; at: string; message: string };

/** Events queued per subscriber before it counts as too slow and is dropped. */
export const DEFAULT_SUBSCRIBER_QUEUE = 512;
/**
 * Subscribers at most at once (each open call page or `GET /events` watcher is one). `publish` runs on
 * the call thread and costs O(subscribers), and each holds up to DEFAULT_SUBSCRIBER_QUEUE frames, so
 * their number is bounded; a new one past it is refused (`subscribe` returns undefined).
 */
export const DEFAULT_MAX_SUBSCRIBERS = 32;

export function summarize(r: CallRecord): CallSummary {
  return {
    id: r.id,
    sipCallId: r.sipCallId,
    direction: r.direction,
    from: r.from,
    to: r.to,
    state: r.state,
    status: r.status,
    startedAt: r.startedAt,
    answeredAt: r.answeredAt,
    endedAt: r.endedAt,
    endReason: r.endReason,
    codec: r.codec,
    providers: r.providers ? { ...r.providers } : undefined,
    bargeIns: r.bargeIns,
    usage: r.usage ? { ...r.usage } : undefined,
    onHold: r.onHold || undefined,
    // Pending, or done and the agent is hanging up: the caller is on the target's line, not ours.
    transferring: ((r.transfer?.outcome === "pending" || r.transfer?.outcome === "transferred") && r.state !== "ended") || undefined,
    bridged: (r.transfer?.outcome === "bridged" && !r.transfer.endedAt && r.state !== "ended") || undefined,
  };
}

const eventCallId = (ev: CallEvent): string => (ev.type === "call" ? ev.call.id : ev.callId);

/** One reader of the stream: SSE frames (`event: …\ndata: …\n\n`) in order. */
export class Subscription {
  private readonly queue: string[] = [];
  private waiter: ((frame: string | null) => void) | null = null;
  private closed = false;

  constructor(
    private readonly hub: CallEventHub,
    readonly callId: string | undefined,
    private readonly limit: number,
  ) {}

  /** Queues a frame; false when the queue is full (the hub then drops this subscriber). */
  offer(frame: string): boolean {
    if (this.closed) return true;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(frame);
      return true;
    }
    if (this.queue.length >= this.limit) return false;
    this.queue.push(frame);
    return true;
  }

  /** The next frame, or null once closed (dropped or unsubscribed) and drained. */
  next(): Promise<string | null> {
    const f = this.queue.shift();
    if (f !== undefined) return Promise.resolve(f);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** Ends the stream (idempotent); queued frames are still handed out, then null. */
  close(lastFrame?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.hub.unsubscribe(this);
    if (lastFrame) this.queue.push(lastFrame);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(this.queue.shift() ?? null);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get queued(): number {
    return this.queue.length;
  }
}

/** Formats one SSE frame (WHATWG HTML §9.2 "event stream": `event:` + `data:` lines, blank line). */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class CallEventHub {
  private readonly subs = new Set<Subscription>();
  /** Live calls by id (the records themselves: they are mutated in place by their owners). */
  private readonly live = new Map<string, CallRecord>();
  /** Subscribers dropped for being too slow, since start. */
  dropped = 0;

  /**
   * @param queueLimit events queued per subscriber before it is dropped
   * @param maxSubscribers subscribers at most at once (`subscribe` refuses more)
   */
  constructor(
    private readonly queueLimit = DEFAULT_SUBSCRIBER_QUEUE,
    readonly maxSubscribers = DEFAULT_MAX_SUBSCRIBERS,
  ) {}

  /** A call started: it is live until `ended`. */
  started(record: CallRecord): void {
    this.live.set(record.id, record);
    this.publishCall(record);
  }

  /** A call's fields changed (state, codec, providers…). */
  publishCall(record: CallRecord): void {
    if (this.subs.size === 0) return;
    this.publish({ type: "call", at: new Date().toISOString(), call: summarize(record) });
  }

  /** A call ended: no longer live. */
  ended(record: CallRecord): void {
    this.live.delete(record.id);
    this.publishCall(record);
  }

  /** The live calls (start order). */
  liveCalls(): CallRecord[] {
    return [...this.live.values()];
  }

  get subscriberCount(): number {
    return this.subs.size;
  }

  /**
   * Hands `ev` to every subscriber that wants it (all calls, or the one it filters on). Never waits; a
   * subscriber whose queue is full is dropped. Serializes once, and not at all without subscribers.
   */
  publish(ev: CallEvent): void {
    if (this.subs.size === 0) return;
    const id = eventCallId(ev);
    let frame: string | undefined;
    for (const s of this.subs) {
      if (s.callId !== undefined && s.callId !== id) continue;
      frame ??= sseFrame(ev.type, ev);
      if (!s.offer(frame)) {
        this.dropped++;
        s.close(sseFrame("dropped", { reason: "too slow: more than " + this.queueLimit + " events queued" }));
      }
    }
  }

  /**
   * A new reader. It first gets a `snapshot` frame: the live calls (and, when filtering on one call
   * that is live, its turns so far), then events as they happen. Undefined when `maxSubscribers` are
   * already subscribed (a closed subscription frees its place at once).
   */
  subscribe(opts: { callId?: string; queueLimit?: number } = {}): Subscription | undefined {
    if (this.subs.size >= this.maxSubscribers) return undefined;
    const s = new Subscription(this, opts.callId, opts.queueLimit ?? this.queueLimit);
    const calls = this.liveCalls().map(summarize);
    const one = opts.callId ? this.live.get(opts.callId) : undefined;
    s.offer(sseFrame("snapshot", { calls, turns: one ? [...one.turns] : undefined }));
    this.subs.add(s);
    return s;
  }

  /** Called by `Subscription.close`. */
  unsubscribe(s: Subscription): void {
    this.subs.delete(s);
  }

  /** Ends every stream (shutdown). */
  closeAll(): void {
    for (const s of [...this.subs]) s.close();
  }
}
