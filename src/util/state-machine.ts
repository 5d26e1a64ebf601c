/**
 * A small finite-state machine (STYLE habit 3): a string-union state, a table of legal moves, and one
 * transition function that rejects everything else. Shared by the SIP transactions, the call (dialog
 * usage) state, the outbound call status and the conversation.
 *
 * Usage:
 *   const m = new StateMachine("conversation", "greeting", { greeting: ["listening", "stopped"], ... });
 *   m.to("listening");           // throws IllegalTransitionError on a move the table does not list
 *   if (m.can("replying")) ...
 */
import { AgentError } from "./errors.ts";

/** A move the table does not allow. `code` "illegal_transition"; never retryable. */
export class IllegalTransitionError extends AgentError<"illegal_transition"> {
  override readonly name = "IllegalTransitionError";
  constructor(
    readonly machine: string,
    readonly from: string,
    readonly target: string,
  ) {
    super("illegal_transition", `${machine}: illegal transition ${from} → ${target}`);
  }
}

/** For each state, the states it may move to. A state missing from every list is unreachable. */
export type TransitionTable<S extends string> = Readonly<Record<S, readonly S[]>>;

export class StateMachine<S extends string> {
  private current: S;

  /**
   * @param name     shown in errors and logs ("invite-server", "conversation")
   * @param initial  the starting state
   * @param table    legal moves; a self-move is legal only if listed
   * @param onChange called after every accepted move (not for the initial state)
   */
  constructor(
    readonly name: string,
    initial: S,
    private readonly table: TransitionTable<S>,
    private readonly onChange?: (from: S, to: S) => void,
  ) {
    this.current = initial;
  }

  get state(): S {
    return this.current;
  }

  /** True when the machine is in one of `states`. */
  is(...states: S[]): boolean {
    return states.includes(this.current);
  }

  /** True when `to` is a legal move from the current state. */
  can(to: S): boolean {
    return this.table[this.current].includes(to);
  }

  /** Moves to `next`. Throws IllegalTransitionError when the table does not allow it. */
  to(next: S): void {
    const from = this.current;
    if (!this.table[from].includes(next)) throw new IllegalTransitionError(this.name, from, next);
    this.current = next;
    this.onChange?.(from, next);
  }

  /** Moves to `next` when legal and reports whether it did (for events that may legitimately arrive late). */
  tryTo(next: S): boolean {
    if (!this.can(next)) return false;
    this.to(next);
    return true;
  }
}
