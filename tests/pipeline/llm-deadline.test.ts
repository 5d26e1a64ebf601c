/**
 * withLlmDeadlines (src/pipeline/llm-deadline.ts) on a FakeClock: the first-token and total deadlines
 * fire at their exact times with the right message, chunks in time pass through, and a reply costs at
 * most two timers however many chunks it streams (none left behind at the end or on an early stop).
 */
import { describe, expect, test } from "bun:test";
import { withLlmDeadlines } from "../../src/pipeline/llm-deadline";
import type { LlmChunk } from "../../src/providers/types";
import { countingClock } from "../fakes/counting-clock";

/** An LLM whose chunks the test releases one by one (`next()`), recording the signal it was given. */
function manualLlm(): { generate: (s: AbortSignal) => AsyncIterable<LlmChunk>; push: (text: string) => void; end: () => void; signal: () => AbortSignal } {
  const waiting: ((r: IteratorResult<LlmChunk>) => void)[] = [];
  const ready: IteratorResult<LlmChunk>[] = [];
  let sig: AbortSignal | undefined;
  const deliver = (r: IteratorResult<LlmChunk>) => {
    const w = waiting.shift();
    if (w) w(r);
    else ready.push(r);
  };
  return {
    generate: (s) => {
      sig = s;
      return {
        [Symbol.asyncIterator]: () => ({
          next: () => (ready.length ? Promise.resolve(ready.shift()!) : new Promise((r) => waiting.push(r))),
          return: () => Promise.resolve({ done: true, value: undefined }),
        }),
      };
    },
    push: (text) => deliver({ done: false, value: { type: "text", text } }),
    end: () => deliver({ done: true, value: undefined }),
    signal: () => sig!,
  };
}

const tick = () => Bun.sleep(0);

describe("withLlmDeadlines", () => {
  test("no first chunk within firstTokenMs → timeout 'no first token', the LLM's signal aborted", async () => {
    const { clock } = countingClock();
    const llm = manualLlm();
    const it = withLlmDeadlines(llm.generate, { clock, provider: "gemini", firstTokenMs: 3000, totalMs: 20000, signal: new AbortController().signal });
    const p = it.next().catch((e) => e);
    await tick();
    clock.advance(2999);
    await tick();
    expect(llm.signal().aborted).toBe(false);
    clock.advance(1);
    expect(await p).toMatchObject({ code: "timeout", message: "gemini: no first token after 3000 ms" });
    expect(llm.signal().aborted).toBe(true);
    expect(clock.pending).toBe(0);
  });

  test("chunks in time pass through; the total deadline counts from the request, not from the last chunk", async () => {
    const { clock } = countingClock();
    const llm = manualLlm();
    const it = withLlmDeadlines(llm.generate, { clock, provider: "gemini", firstTokenMs: 3000, totalMs: 10000, signal: new AbortController().signal });
    const first = it.next(); // the request starts here (the generator runs from its first next())
    clock.advance(2000);
    llm.push("Hello. ");
    expect(await first).toEqual({ done: false, value: { type: "text", text: "Hello. " } });
    clock.advance(7000); // 9000: past the first-token deadline (3000), before the total (10000)
    llm.push("More.");
    expect(await it.next()).toEqual({ done: false, value: { type: "text", text: "More." } });
    const p = it.next().catch((e) => e);
    await tick();
    clock.advance(999);
    await tick();
    expect(llm.signal().aborted).toBe(false);
    clock.advance(1); // 10000
    expect(await p).toMatchObject({ code: "timeout", message: "gemini: reply not finished after 10000 ms" });
    expect(clock.pending).toBe(0);
  });

  test("a reply of 100 chunks sets at most 2 timers and leaves none behind", async () => {
    const { clock, timersSet } = countingClock();
    const llm = manualLlm();
    const it = withLlmDeadlines(llm.generate, { clock, provider: "gemini", firstTokenMs: 3000, totalMs: 30000, signal: new AbortController().signal });
    const got: string[] = [];
    for (let i = 0; i < 100; i++) {
      clock.advance(40);
      llm.push(`w${i} `);
      const r = await it.next();
      got.push((r.value as { text: string }).text);
    }
    llm.end();
    expect((await it.next()).done).toBe(true);
    expect(got).toHaveLength(100);
    expect(timersSet()).toBeLessThanOrEqual(2); // first-token deadline, then the rest of the total (a timer per chunk: 101)
    expect(clock.pending).toBe(0);
  });

  test("a consumer that stops early (break) leaves no timer behind", async () => {
    const { clock } = countingClock();
    const llm = manualLlm();
    llm.push("one ");
    llm.push("two ");
    for await (const c of withLlmDeadlines(llm.generate, { clock, provider: "gemini", firstTokenMs: 3000, totalMs: 30000, signal: new AbortController().signal })) {
      expect(c).toEqual({ type: "text", text: "one " });
      break;
    }
    expect(clock.pending).toBe(0);
  });
});
