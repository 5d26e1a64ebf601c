import type { Clock, TimerHandle } from "../../util/clock.ts";
import { IllegalTransitionError, StateMachine, type TransitionTable } from "../../util/state-machine.ts";
import type { SipRequest, SipResponse } from "../message/index.ts";
import type { Address, Transport } from "../transport/index.ts";
import type { TimerValues } from "./timers.ts";

export type TransactionKind = "invite-server" | "non-invite-server" | "invite-client" | "non-invite-client";

/** Upward reports every transaction kind may make. All optional. */
export interface TransactionUser {
  /** The transaction reached "terminated" by its own rules (not by `dispose`). */
  onTerminated?(): void;
}

/** Upward reports of a client transaction. */
export interface ClientTransactionUser extends TransactionUser {
  /** Responses the transaction passes up (which ones: see each kind). */
  onResponse(res: SipResponse): void;
  /** Timer B / Timer F fired: no (final) response in 64·T1. The TU acts as if a 408 arrived (§8.1.3.1). */
  onTimeout?(): void;
}

const TERMINATED = "terminated";

/**
 * What every §17 state machine shares: a string-union state on the project's {@link StateMachine}
 * (a move absent from the table throws IllegalTransitionError, `code` "illegal_transition"), named
 * timers on the injected Clock, and teardown that clears every timer. Entering "terminated" clears the
 * timers, drops the transaction from the layer's table and reports upward once — §17.1.2.2: "Once the
 * transaction is in the terminated state, it MUST be destroyed immediately."
 */
export abstract class TransactionBase<S extends string, K extends TransactionKind, U extends TransactionUser> {
  private readonly machine: StateMachine<S>;
  private readonly timerHandles = new Map<string, TimerHandle>();
  private terminatedHook: (() => void) | undefined;
  private disposing = false;

  protected constructor(
    readonly kind: K,
    readonly id: string,
    protected readonly clock: Clock,
    protected readonly timers: TimerValues,
    protected readonly user: U,
    table: TransitionTable<S>,
    initial: S,
  ) {
    this.machine = new StateMachine<S>(`${kind} transaction`, initial, table, (_from, to) => this.entered(to));
  }

  get state(): S {
    return this.machine.state;
  }

  get isTerminated(): boolean {
    return this.machine.state === TERMINATED;
  }

  /** Names of the running timers (for tests and leak checks). */
  get activeTimers(): string[] {
    return [...this.timerHandles.keys()];
  }

  /** Set by the transaction layer to drop this transaction from its table. */
  setTerminatedHook(fn: () => void): void {
    this.terminatedHook = fn;
  }

  /** Clears every timer and moves to "terminated" without reporting upward. Idempotent. */
  dispose(): void {
    this.clearTimers();
    if (this.isTerminated) return;
    this.disposing = true; // every table lists "terminated" from each live state
    this.machine.to(TERMINATED as S);
  }

  /** Moves to `to`. @throws IllegalTransitionError when the table does not list the move. */
  protected transition(to: S): void {
    this.machine.to(to);
  }

  /** An operation the current state does not allow (e.g. a second final response): a TU bug. */
  protected illegal(what: string): IllegalTransitionError {
    return new IllegalTransitionError(this.machine.name, this.machine.state, what);
  }

  /** Starts (or restarts) the one-shot timer `name`. */
  protected startTimer(name: string, ms: number, fn: () => void): void {
    this.stopTimer(name);
    const h = this.clock.setTimer(ms, () => {
      this.timerHandles.delete(name);
      fn();
    });
    this.timerHandles.set(name, h);
  }

  /**
   * Starts the retransmission timer `name` (A, E, G, or the UAS core's 2xx timer): `resend` runs after
   * `first` ms, then the timer is re-armed with `next(previous interval)` — doubling for Timer A
   * ("retransmitted with intervals that double after each transmission", §17.1.1.2), doubling capped
   * at T2 for E, G and the 2xx ("MIN(2*T1, T2)", §17.1.2.2, §17.2.1, §13.3.1.4).
   */
  protected startRetransmit(name: string, first: number, next: (intervalMs: number) => number, resend: () => void): void {
    const arm = (ms: number) =>
      this.startTimer(name, ms, () => {
        resend();
        arm(next(ms));
      });
    arm(first);
  }

  /** `min(2·interval, T2)`: the capped doubling of Timers E and G and of 2xx retransmission. */
  protected readonly doubleUpToT2 = (ms: number): number => Math.min(ms * 2, this.timers.T2);

  protected stopTimer(name: string): void {
    const h = this.timerHandles.get(name);
    if (h) {
      this.clock.clearTimer(h);
      this.timerHandles.delete(name);
    }
  }

  private entered(to: S): void {
    if (to !== TERMINATED) return;
    this.clearTimers();
    const hook = this.terminatedHook;
    this.terminatedHook = undefined;
    hook?.();
    if (!this.disposing) this.user.onTerminated?.(); // dispose() deliberately reports nothing
  }

  private clearTimers(): void {
    for (const h of this.timerHandles.values()) this.clock.clearTimer(h);
    this.timerHandles.clear();
  }
}

/**
 * The request side shared by both client transactions (§17.1): send, retransmit on Timer A / E,
 * time out on Timer B / F.
 */
export abstract class ClientTransactionBase<
  S extends string,
  K extends "invite-client" | "non-invite-client",
  U extends ClientTransactionUser,
> extends TransactionBase<S, K, U> {
  protected constructor(
    kind: K,
    id: string,
    readonly request: SipRequest,
    readonly destination: Address,
    protected readonly transport: Transport,
    clock: Clock,
    user: U,
    timers: TimerValues,
    table: TransitionTable<S>,
    initial: S,
    private readonly timerNames: { retransmit: "A" | "E"; timeout: "B" | "F" },
  ) {
    super(kind, id, clock, timers, user, table, initial);
  }

  /**
   * Sends the request and starts the retransmission timer (A or E, first after T1) and the timeout
   * timer (B or F, 64·T1). §17.1.1.2: "The client transaction MUST pass the request to the transport
   * layer for transmission [...]. If an unreliable transport is being used, the client transaction
   * MUST start timer A with a value of T1. [...] For any transport, the client transaction MUST start
   * timer B with a value of 64*T1 seconds". §17.1.2.2 says the same of Timers E and F.
   *
   * Which transport carried the request is known only once it is sent, and may change after (a TCP
   * connection being opened falls back to UDP when refused, ../transport/multi.ts): the transport stamps
   * it on the top Via. So the retransmission timer runs on and each firing resends only while that Via
   * says UDP; over TCP/TLS nothing is resent (before, requests on a new TCP connection were duplicated
   * on Timer A's schedule: the peer saw retransmissions a reliable transport never carries).
   */
  start(): void {
    const { retransmit, timeout } = this.timerNames;
    this.transport.send(this.request, this.destination);
    this.startRetransmit(retransmit, this.timers[retransmit], (ms) => this.nextRetransmitInterval(ms), () => {
      if (overUnreliableTransport(this.request)) this.transport.send(this.request, this.destination);
    });
    this.startTimer(timeout, this.timers[timeout], () => {
      // §17.1.1.2 (Timer B): "the client transaction SHOULD inform the TU that a timeout has occurred";
      // §17.1.2.2 (Timer F): "the TU MUST be informed of a timeout, and the client transaction MUST
      // transition to the terminated state."
      this.transition("terminated" as S);
      this.user.onTimeout?.();
    });
  }

  /** The interval after a retransmission that was `intervalMs` after the previous send. */
  protected abstract nextRetransmitInterval(intervalMs: number): number;

  /** Stops the retransmission and timeout timers (a response ended the Calling / Trying phase). */
  protected stopRequestTimers(): void {
    this.stopTimer(this.timerNames.retransmit);
    this.stopTimer(this.timerNames.timeout);
  }
}

/**
 * True when the request's top Via names UDP (or cannot be read), i.e. "If an unreliable transport is
 * being used" (§17.1.1.2, §17.1.2.2, §17.2.1) holds for it. For a request we send, the Via is what our
 * transport stamped (./multi.ts); for one we received, what the sender stamped: the transport it used.
 */
export function overUnreliableTransport(request: SipRequest): boolean {
  const top = request.headers.get("Via");
  const m = top === undefined ? null : /^\s*SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)/i.exec(top);
  return !m || m[1]!.toUpperCase() === "UDP";
}

/**
 * How long a transaction lingers in "Completed" (Timers D, K) or "Confirmed" (Timer I) to absorb
 * retransmissions, in ms: `unreliableMs` when {@link overUnreliableTransport} holds for `request`, else 0 —
 * a reliable transport carries no retransmissions to absorb. §17.1.1.2: "The client transaction SHOULD
 * start timer D when it enters the "Completed" state, with a value of at least 32 seconds for unreliable
 * transports, and a value of zero seconds for reliable transports." §17.1.2.2: Timer K "to fire in T4
 * seconds for unreliable transports, and zero seconds for reliable transports"; §17.2.1: Timer I "to fire
 * in T4 seconds for unreliable transports, and zero seconds for reliable transports"; §17.2.2: Timer J "to
 * fire in 64*T1 seconds for unreliable transports, and zero seconds for reliable transports". Zero still
 * goes through the clock (a 0 ms timer), so the TU hears the response before the termination.
 */
export function absorbWindow(request: SipRequest, unreliableMs: number): number {
  return overUnreliableTransport(request) ? unreliableMs : 0;
}

/** The response side shared by both server transactions (§17.2): the last response, resent on demand. */
export abstract class ServerTransactionBase<
  S extends string,
  K extends "invite-server" | "non-invite-server",
  U extends TransactionUser,
> extends TransactionBase<S, K, U> {
  private last: SipResponse | undefined;

  protected constructor(
    kind: K,
    id: string,
    readonly request: SipRequest,
    protected readonly transport: Transport,
    clock: Clock,
    user: U,
    timers: TimerValues,
    table: TransitionTable<S>,
    initial: S,
  ) {
    super(kind, id, clock, timers, user, table, initial);
  }

  /** The last response sent, if any. */
  get lastResponse(): SipResponse | undefined {
    return this.last;
  }

  /** Passes a TU response to the transport and remembers it for retransmission. */
  protected send(res: SipResponse): void {
    this.last = res;
    this.transport.sendResponse(res);
  }

  /** Passes the last response to the transport once more (nothing before the first response). */
  protected resendLast(): void {
    if (this.last) this.transport.sendResponse(this.last);
  }
}
