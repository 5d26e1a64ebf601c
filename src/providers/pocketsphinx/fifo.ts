/**
 * An anonymous-like FIFO for feeding a child process's stdin with a real pipe.
 *
 * Why: Bun gives a child's stdin as a socket, and `pocketsphinx_continuous -infile /dev/stdin` cannot
 * open a socket (ENXIO). We create a named FIFO, open both ends without blocking, and unlink it at once:
 *  1. r0 = open(O_RDONLY|O_NONBLOCK)  — never blocks (POSIX open(2) on a FIFO);
 *  2. w  = open(O_WRONLY)             — does not block, a reader (r0) exists;
 *  3. r  = open(O_RDONLY)             — does not block, a writer (w) exists; blocking reads, as fread wants;
 *  4. close r0, unlink the FIFO.
 * `r` becomes the recogniser's stdin and `w` the stdout of a `cat` fed by us, so both processes are our
 * direct children (reaped by Bun: no orphans, no zombies) and EOF reaches the reader when `cat` exits.
 * The FIFO is made by libc's mkfifo(3) through bun:ffi (util/libc.ts), not by a `mkfifo` process: this runs in
 * every offline call's set-up on the thread that paces RTP, and Bun.spawnSync held that thread 4–25 ms
 * (fork, exec, wait; measured 2026-12-07 on a busy 2-core machine) against 0.1 ms for the call.
 */
import { closeSync, constants as C, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errnoText, libc } from "../../util/libc.ts";

export interface FifoEnds {
  /** Blocking read end (give to the consumer process). */
  readFd: number;
  /** Write end (give to the producer process). */
  writeFd: number;
  /** Closes our copies of both ends (call once both children are spawned). */
  closeOurs(): void;
}

/** @throws Error when mkfifo is unavailable or the FIFO cannot be opened. */
export function makeFifo(): FifoEnds {
  const dir = mkdtempSync(join(tmpdir(), "voice-agent-fifo-"));
  try {
    const path = join(dir, "audio");
    mkfifo(path);
    const r0 = openSync(path, C.O_RDONLY | C.O_NONBLOCK);
    const writeFd = openSync(path, C.O_WRONLY);
    const readFd = openSync(path, C.O_RDONLY);
    closeSync(r0);
    let closed = false;
    return {
      readFd,
      writeFd,
      closeOurs() {
        if (closed) return;
        closed = true;
        closeSync(readFd);
        closeSync(writeFd);
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** mkfifo(3) with mode 0600; without libc (not Linux/glibc) the `mkfifo` command. @throws Error when it fails. */
function mkfifo(path: string): void {
  const c = libc();
  if (typeof c !== "string") {
    if (c.mkfifo(Buffer.from(`${path}\0`), 0o600) !== 0) throw new Error(`mkfifo failed: ${path}: ${errnoText(c)}`);
    return;
  }
  const mk = Bun.spawnSync(["mkfifo", "-m", "600", path], { stderr: "pipe" });
  if (mk.exitCode !== 0) throw new Error(`mkfifo failed: ${mk.stderr.toString().trim()}`);
}
