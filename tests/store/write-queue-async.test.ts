/**
 * WriteQueue.runAsync, the path PostgreSQL writes take: in order, one at a time, off the caller's stack;
 * a retryable failure keeps the write at the head and retries with backoff; a newer write of a pending
 * key replaces it; overflow and unfixable failures are counted; flush waits for the queue to empty.
 */
import { describe, expect, test } from "bun:test";
import { WriteQueue, storeTotals } from "../../src/store";

const down = Object.assign(new Error("connection refused"), { code: "ERR_POSTGRES_CONNECTION_CLOSED" });
const constraint = Object.assign(new Error("violates check"), { code: "ERR_POSTGRES_SERVER_ERROR", errno: "23514" });
const retryable = (e: unknown) => e !== constraint;

describe("WriteQueue.runAsync", () => {
  test("runs in order, one at a time, never on the caller's stack", async () => {
    const q = new WriteQueue({ retryable });
    const log: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const w = (name: string) => async () => {
      maxRunning = Math.max(maxRunning, ++running);
      await Bun.sleep(5);
      log.push(name);
      running--;
    };
    q.runAsync("a", "save", "c", w("a"));
    q.runAsync("b", "turn", "c", w("b"));
    q.runAsync("c", "end", "c", w("c"));
    expect(log).toEqual([]); // nothing ran synchronously
    expect(await q.flush(2000)).toBe(0);
    expect(log).toEqual(["a", "b", "c"]);
    expect(maxRunning).toBe(1);
  });

  test("a retryable failure keeps the write at the head; later writes wait behind it; a newer same-key write replaces it", async () => {
    const q = new WriteQueue({ retryable });
    const landed: string[] = [];
    let up = false;
    const w = (name: string) => async () => {
      if (!up) throw down;
      landed.push(name);
    };
    const before = storeTotals.queued;
    q.runAsync("call:1", "add", "1", w("add"));
    q.runAsync("turn:1:0", "turn", "1", w("turn0"));
    await Bun.sleep(50);
    expect(q.size).toBe(2);
    expect(storeTotals.queued - before).toBe(2);
    q.runAsync("turn:1:0", "turn", "1", w("turn0-v2")); // replaces the pending one in place
    up = true;
    expect(await q.flush(5000)).toBe(0);
    expect(landed).toEqual(["add", "turn0-v2"]);
  });

  test("bounded: a new key past maxPending is dropped and counted; an unfixable failure is dropped and does not block", async () => {
    const q = new WriteQueue({ retryable, maxPending: 2 });
    const landed: string[] = [];
    let up = false;
    q.runAsync("a", "save", "1", async () => {
      if (!up) throw down;
      landed.push("a");
    });
    await Bun.sleep(30);
    const overflow = storeTotals.overflow;
    q.runAsync("b", "save", "1", async () => void landed.push("b"));
    q.runAsync("c", "save", "1", async () => void landed.push("c")); // a + b pending: full
    expect(storeTotals.overflow - overflow).toBe(1);
    const failed = storeTotals.failed;
    up = true;
    q.runAsync("b", "save", "1", async () => {
      throw constraint;
    });
    expect(await q.flush(5000)).toBe(0);
    expect(landed).toEqual(["a"]);
    expect(storeTotals.failed - failed).toBe(1);
  });
});
