/**
 * Polls `pred` every few ms of real time until it holds or `timeoutMs` passes (then throws with `what`).
 * For waiting on network effects between our client and a local fake; never for timer logic (that uses
 * FakeClock).
 */
export async function waitUntil(pred: () => boolean, what = "condition", timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
}

/** Collects everything an async iterable yields until it ends (or throws, rethrown). */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
