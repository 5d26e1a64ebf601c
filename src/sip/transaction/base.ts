import type { Clock, TimerHandle } from "../../util/clock.ts";
import type { TimerValues } from "./timers.ts";

export type TransactionKind = "invite-server" | "non-invite-server" | "invite-client" | "non-invite-client";

/** An illegal state move (a bug in the caller, e.g. responding twice with a final response). */
export class TransactionStateError extends Error {
  override readonly name = "TransactionStateError";
  readonly code = "illegal_transition";
  constructor(
    readonly kind: TransactionKind,
    readonly from: string,
    readonly to: string,
  ) {
    super(`${kind} transaction: illegal move ${from} → ${to}`);
  }
}

/**
 * What every §17 state machine shares: a string-union state changed only through {@link transition}
 * (which rejects moves absent from the table), named timers on the injected Clock, and teardown that
 * clears every timer. Entering "terminated" clears timers and runs the termination hook once.
 */
export abstract class TransactionBase<S extends string> {
  abstract readonly kind: TransactionKind;
  private current: S;
  private readonly timerHandles = new Map<string, TimerHandle>();
  private terminatedHook: (() => void) | undefined;

  protected constructor(
    readonly id: string,
    protected readonly clock: Clock,
    protected readonly timers: TimerValues,
    private readonly table: Readonly<Record<S, readonly S[]>>,
    initial: S,
  ) {
    this.current = initial;
  }

  get state(): S {
    return this.current;
  }

  get isTerminated(): boolean {
    return this.current === ("terminated" as S);
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
    this.current = "terminated" as S; // always legal; deliberately no upward report
    const hook = this.terminatedHook;
    this.terminatedHook = undefined;
    hook?.();
  }

  protected transition(to: S): void {
    const from = this.current;
    if (!this.table[from].includes(to)) throw new TransactionStateError(this.kind, from, to);
    this.current = to;
    if (to === ("terminated" as S)) {
      this.clearTimers();
      const hook = this.terminatedHook;
      this.terminatedHook = undefined;
      hook?.();
      this.onTerminated();
    }
  }

  /** Upward report of termination; subclasses forward to their delegate. */
  protected abstract onTerminated(): void;

  protected startTimer(name: string, ms: number, fn: () => void): void {
    this.stopTimer(name);
    const h = this.clock.setTimer(ms, () => {
      this.timerHandles.delete(name);
      fn();
    });
    this.timerHandles.set(name, h);
  }

  protected stopTimer(name: string): void {
    const h = this.timerHandles.get(name);
    if (h) {
      this.clock.clearTimer(h);
      this.timerHandles.delete(name);
    }
  }

  private clearTimers(): void {
    for (const h of this.timerHandles.values()) this.clock.clearTimer(h);
    this.timerHandles.clear();
  }
}
