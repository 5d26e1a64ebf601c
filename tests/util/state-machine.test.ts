import { describe, expect, test } from "bun:test";
import { IllegalTransitionError, StateMachine } from "../../src/util/state-machine.ts";
import { AgentError } from "../../src/util/errors.ts";

type S = "a" | "b" | "c";
const table = { a: ["b"], b: ["a", "c"], c: [] } as const;

describe("StateMachine", () => {
  test("legal moves change state and report from/to", () => {
    const seen: string[] = [];
    const m = new StateMachine<S>("t", "a", table, (f, t) => seen.push(`${f}>${t}`));
    m.to("b");
    m.to("c");
    expect(m.state).toBe("c");
    expect(m.is("c", "a")).toBe(true);
    expect(seen).toEqual(["a>b", "b>c"]);
  });
  test("illegal moves throw a typed error and leave the state alone", () => {
    const m = new StateMachine<S>("conv", "a", table);
    let err: unknown;
    try {
      m.to("c");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IllegalTransitionError);
    expect(err).toBeInstanceOf(AgentError);
    expect((err as IllegalTransitionError).code).toBe("illegal_transition");
    expect((err as Error).message).toBe("conv: illegal transition a → c");
    expect(m.state).toBe("a");
    expect(m.can("c")).toBe(false);
    expect(m.tryTo("c")).toBe(false);
    expect(m.tryTo("b")).toBe(true);
    expect(m.state).toBe("b");
  });
  test("a self-move is illegal unless listed", () => {
    const m = new StateMachine<S>("t", "c", table);
    expect(() => m.to("c")).toThrow(IllegalTransitionError);
  });
});
