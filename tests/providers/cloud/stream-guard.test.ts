/**
 * StreamGuard (src/providers/gemini/stream-guard.ts) on a FakeClock: the idle timeout counts from the
 * last chunk with one timer per request (not one per chunk), the caller's abort stops a pending read at
 * once, and a response read to its end is not aborted at dispose.
 */
import { describe, expect, test } from "bun:test";
import { StreamGuard } from "../../../src/providers/gemini/stream-guard";
import { countingClock } from "../../fakes/counting-clock";

const SRC = { provider: "gemini", kind: "llm" } as const;

/** A promise that never settles on its own (a server that stalls). */
const stalled = (): Promise<never> => new Promise<never>(() => {});

describe("StreamGuard", () => {
  test("the idle timeout fires idleTimeoutMs after the last chunk, not after the first timer's start", async () => {
    const { clock } = countingClock();
    const g = new StreamGuard(new AbortController().signal, clock, 5000, SRC);
    clock.advance(3000);
    g.bump(); // a chunk at 3000: idle now counts from here
    const p = g.race(stalled()).catch((e) => e);
    clock.advance(4999); // 7999: the first timer (due at 5000) found 2000 ms idle and waits on
    expect(g.reason).toBeNull();
    expect(g.signal.aborted).toBe(false);
    clock.advance(1); // 8000 = 3000 + 5000
    expect(await p).toMatchObject({ code: "timeout", retryable: true, message: "gemini: no response chunk after 5000 ms" });
    expect(g.signal.aborted).toBe(true); // the SDK's request is aborted with it
    g.dispose();
    expect(clock.pending).toBe(0);
  });

  test("200 chunks over 8 s set one timer per idle period, 9 in all (a timer per chunk would be 201)", () => {
    const { clock, timersSet } = countingClock();
    const g = new StreamGuard(new AbortController().signal, clock, 1000, SRC);
    for (let i = 0; i < 200; i++) {
      clock.advance(40); // a chunk every 40 ms: 8 s in all, never idle for 1 s
      g.bump();
    }
    expect(g.reason).toBeNull();
    expect(timersSet()).toBeLessThanOrEqual(10); // the first, then one re-arm each ~960 ms
    g.finished();
    g.dispose();
    expect(clock.pending).toBe(0);
  });

  test("the caller's abort rejects a pending read at once with 'aborted' and aborts the request", async () => {
    const { clock } = countingClock();
    const ac = new AbortController();
    const g = new StreamGuard(ac.signal, clock, 5000, SRC);
    const p = g.race(stalled()).catch((e) => e);
    ac.abort();
    expect(await p).toMatchObject({ code: "aborted", retryable: false });
    expect(g.signal.aborted).toBe(true);
    g.dispose();
    expect(clock.pending).toBe(0);
  });

  test("dispose() after finished() leaves the (finished) request alone; without finished() it aborts it", () => {
    const { clock } = countingClock();
    const done = new StreamGuard(new AbortController().signal, clock, 5000, SRC);
    done.finished();
    done.dispose();
    expect(done.signal.aborted).toBe(false);
    const cut = new StreamGuard(new AbortController().signal, clock, 5000, SRC);
    cut.dispose(); // e.g. the consumer stopped reading early
    expect(cut.signal.aborted).toBe(true);
    expect(clock.pending).toBe(0);
  });
});
