/**
 * The FIFO that feeds pocketsphinx (src/providers/pocketsphinx/fifo.ts) is made in every offline call's set-up,
 * on the thread that paces RTP: it must not run a process and wait for it (Bun.spawnSync of `mkfifo` held that
 * thread 4–25 ms per call on a busy machine, and the live calls' pacer ticks came late by as much). The ends
 * it returns are a real pipe: bytes written to one are read from the other, EOF once the writer is closed.
 */
import { afterEach, expect, spyOn, test } from "bun:test";
import { closeSync, fstatSync, readSync, writeSync } from "node:fs";
import { makeFifo } from "../../../src/providers/pocketsphinx/fifo.ts";

const spies: { mockRestore(): void }[] = [];
afterEach(() => {
  for (const s of spies.splice(0)) s.mockRestore();
});

test("makeFifo runs no process (no Bun.spawnSync / Bun.spawn on the call thread)", () => {
  const sync = spyOn(Bun, "spawnSync");
  const async = spyOn(Bun, "spawn");
  spies.push(sync, async);
  const f = makeFifo();
  f.closeOurs();
  expect(sync).toHaveBeenCalledTimes(0);
  expect(async).toHaveBeenCalledTimes(0);
});

test("the ends are a FIFO: bytes written are read back in order, then EOF when the writer closes", () => {
  const f = makeFifo();
  try {
    expect(fstatSync(f.readFd).isFIFO()).toBe(true);
    expect(fstatSync(f.writeFd).isFIFO()).toBe(true);
    const sent = Buffer.from(Array.from({ length: 3200 }, (_, i) => i & 0xff));
    expect(writeSync(f.writeFd, sent)).toBe(sent.length);
    closeSync(f.writeFd);
    const got = Buffer.alloc(4096);
    let n = 0;
    for (let r; (r = readSync(f.readFd, got, n, got.length - n, null)) > 0; ) n += r;
    expect(n).toBe(sent.length);
    expect(got.subarray(0, n).equals(sent)).toBe(true);
    closeSync(f.readFd);
  } catch (err) {
    f.closeOurs();
    throw err;
  }
});
