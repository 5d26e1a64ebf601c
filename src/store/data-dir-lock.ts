/**
 * One agent per DATA_DIR: an exclusive `flock(2)` on `DATA_DIR/voice-agent.lock`, held for the life
 * of the process. A second agent pointed at the same directory stops at start-up with a message naming
 * the holder, before it opens calls.db (whose restart recovery would otherwise mark the first agent's
 * live calls ended). The kernel drops the lock when the process dies, even on `kill -9`, so a crash
 * never leaves a stale lock behind; the file's content (pid, ports) is only for the message.
 *
 *   const lock = DataDirLock.acquire(cfg.dataDir, { sip: "udp:0.0.0.0:5060", http: "127.0.0.1:8000" });
 *   …
 *   lock.release();
 *
 * flock is called through `bun:ffi` on glibc's `libc.so.6` (works in the compiled binary). Where that
 * library cannot be loaded, the lock falls back to the file's pid: refused only while that pid is alive.
 */
import { dlopen, FFIType } from "bun:ffi";
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmdirSync, statSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { AgentError } from "../util/errors";

/** File name inside DATA_DIR. */
export const LOCK_FILE = "voice-agent.lock";

const LOCK_EX = 2;
const LOCK_NB = 4;

export class DataDirLockError extends AgentError<"data_dir_in_use" | "lock_failed"> {
  override readonly name = "DataDirLockError";
}

/** What the lock file says about its holder. */
export interface LockHolder {
  pid: number;
  startedAt: string;
  [key: string]: unknown;
}

type Flock = (fd: number, op: number) => number;

let flockFn: Flock | null | undefined;

function loadFlock(): Flock | null {
  if (flockFn !== undefined) return flockFn;
  try {
    const lib = dlopen("libc.so.6", { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
    flockFn = (fd, op) => lib.symbols.flock(fd, op) as number;
  } catch {
    flockFn = null;
  }
  return flockFn;
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, "utf8")) as LockHolder;
    return typeof h.pid === "number" ? h : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function describe(holder: LockHolder | undefined): string {
  if (!holder) return "another voice-agent";
  const extra = Object.entries(holder)
    .filter(([k]) => k !== "pid" && k !== "startedAt")
    .map(([k, v]) => `${k} ${String(v)}`);
  return `another voice-agent (pid ${holder.pid}${extra.length ? `, ${extra.join(", ")}` : ""}, started ${holder.startedAt})`;
}

export class DataDirLock {
  private released = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
  ) {}

  /**
   * Creates `dir` if needed (mode 0700) and takes the lock, writing our pid and `info` into it.
   * @throws DataDirLockError "data_dir_in_use" when another live process holds it (the message names
   *   the directory and the holder), "lock_failed" when the file cannot be created.
   */
  static acquire(dir: string, info: Record<string, string | number> = {}): DataDirLock {
    const path = join(dir, LOCK_FILE);
    let fd: number;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      fd = openSync(path, "a+", 0o600);
    } catch (err) {
      throw new DataDirLockError("lock_failed", `cannot create ${path}: ${(err as Error).message}`, { cause: err });
    }
    const flock = loadFlock();
    const busy = flock ? flock(fd, LOCK_EX | LOCK_NB) !== 0 : (() => {
      const h = readHolder(path);
      return h !== undefined && alive(h.pid);
    })();
    if (busy) {
      const holder = readHolder(path);
      closeSync(fd);
      throw new DataDirLockError(
        "data_dir_in_use",
        `${dir} is in use by ${describe(holder)}; each agent needs its own DATA_DIR (and its own SIP and HTTP ports). ` +
          `An agent stopped with SIGTERM keeps it while its live calls drain (up to DRAIN_TIMEOUT_S, 30 s by default): ` +
          `wait for ${holder ? `pid ${holder.pid}` : "it"} to exit (systemd's restart does)`,
      );
    }
    const holder: LockHolder = { pid: process.pid, startedAt: new Date().toISOString(), ...info };
    ftruncateSync(fd, 0);
    writeSync(fd, `${JSON.stringify(holder)}\n`, 0);
    return new DataDirLock(path, fd);
  }

  /**
   * What `acquire` would meet, without keeping anything (`voice-agent check-config`): the directory, or
   * when it does not exist yet its nearest existing parent, must be a directory this process can create
   * entries in (probed with an empty directory, removed at once).
   * @returns "DIR is in use by another voice-agent (pid …)" when another live agent holds the lock now
   *   (not an error: a new configuration is often checked while the old agent still runs), else undefined.
   * @throws DataDirLockError "lock_failed" with the message `acquire` would give (the path and why).
   */
  static check(dir: string): string | undefined {
    const path = join(dir, LOCK_FILE);
    let p = resolve(dir);
    for (;;) {
      let isDir: boolean;
      try {
        isDir = statSync(p).isDirectory();
      } catch (err) {
        const parent = dirname(p);
        if ((err as NodeJS.ErrnoException).code === "ENOENT" && parent !== p) {
          p = parent;
          continue;
        }
        throw new DataDirLockError("lock_failed", `cannot create ${path}: ${(err as Error).message}`, { cause: err });
      }
      if (!isDir) throw new DataDirLockError("lock_failed", `cannot create ${path}: ${p} is not a directory`);
      try {
        // A probe directory, made and removed at once: the only test that also holds for root on a
        // read-only mount, /proc or /sys, where permission bits say yes and mkdir fails.
        rmdirSync(mkdtempSync(join(p, ".voice-agent-check-")));
      } catch (err) {
        throw new DataDirLockError("lock_failed", `cannot create ${path}: ${p} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
      }
      break;
    }
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      return undefined; // no lock file yet, or unreadable: nobody we could name holds it
    }
    try {
      const flock = loadFlock();
      const busy = flock ? flock(fd, LOCK_EX | LOCK_NB) !== 0 : (() => {
        const h = readHolder(path);
        return h !== undefined && alive(h.pid);
      })();
      return busy ? `${dir} is in use by ${describe(readHolder(path))}` : undefined;
    } finally {
      closeSync(fd); // also drops the flock taken just now, if it was ours
    }
  }

  /** Adds facts known later (e.g. the bound ports) to the lock file. */
  update(info: Record<string, string | number>): void {
    if (this.released) return;
    const holder = { ...(readHolder(this.path) ?? { pid: process.pid, startedAt: new Date().toISOString() }), ...info };
    try {
      ftruncateSync(this.fd, 0);
      writeSync(this.fd, `${JSON.stringify(holder)}\n`, 0);
    } catch {
      /* informational only */
    }
  }

  /** Drops the lock (closing the descriptor releases the flock). The file stays. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      ftruncateSync(this.fd, 0);
    } catch {
      /* best effort */
    }
    closeSync(this.fd);
  }
}
