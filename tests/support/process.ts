/**
 * Spawn a helper process (SIPp, dumpcap, the agent binary…) for a test, collect its output, wait for a
 * readiness line, and kill it and everything it started.
 *
 * Each child runs in its own session/process group (`Bun.spawn({ detached: true })` calls `setsid()`),
 * so `stop()` signals the whole group (`kill(-pid)`), grandchildren included. Every live process is
 * kept in a registry: `stopAllManaged()` (call it from `afterAll`) stops them, and a synchronous
 * `process.on("exit")` hook SIGKILLs any group still alive when the test process exits.
 */
import type { Subprocess } from "bun";

export interface SpawnManagedOptions {
  /** Working directory. */
  cwd?: string;
  /** Environment (default: the test process's). */
  env?: Record<string, string | undefined>;
  /** Label used in error messages (default: argv[0]). */
  name?: string;
  /** Bytes to write on stdin, then close it. Default: stdin is /dev/null. */
  stdin?: string | Uint8Array;
  /**
   * Leave stdout as a raw byte stream (`ManagedProcess.rawStdout`) instead of collecting it as text
   * (for binary output such as `dumpcap -w -`). The caller must read it to the end.
   */
  rawStdout?: boolean;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  /** Signal that ended the process, once exited (e.g. "SIGTERM"), else null. */
  readonly signalCode: string | null;
  /** Everything written to stdout so far (UTF-8). */
  stdout(): string;
  /** Everything written to stderr so far (UTF-8). */
  stderr(): string;
  /** True until the process has exited. */
  readonly running: boolean;
  /** The raw stdout stream when spawned with `rawStdout: true`, else undefined. */
  readonly rawStdout: ReadableStream<Uint8Array> | undefined;
  /**
   * Waits until a line of `stream` (default both) matches `re`; resolves with the match.
   * Lines already printed count.
   * @throws Error on timeout, or when the process exits first (message carries the output tail).
   */
  waitForLine(re: RegExp, opts: { timeoutMs: number; stream?: "stdout" | "stderr" | "both" }): Promise<RegExpMatchArray>;
  /** Sends `signal` to the process group. No-op once exited. */
  signal(signal: NodeJS.Signals): void;
  /**
   * Stops the group: `signal` (default SIGTERM), then SIGKILL after `graceMs` (default 2000 ms) if
   * still alive. Resolves with the exit code (null if killed by a signal).
   */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<number | null>;
}

const live = new Set<ManagedProcess>();
const livePids = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of livePids) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  });
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** Reads a stream to the end, appending decoded text through `onText`. */
async function pump(stream: ReadableStream<Uint8Array>, onText: (t: string) => void): Promise<void> {
  const dec = new TextDecoder();
  const reader = stream.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    onText(dec.decode(r.value, { stream: true }));
  }
  const tail = dec.decode();
  if (tail) onText(tail);
}

/** Debian package that provides each external tool the e2e support code runs. */
export const TOOL_PACKAGES: Record<string, string> = {
  sipp: "sip-tester",
  dumpcap: "tshark (wireshark-common)",
  tshark: "tshark",
  editcap: "tshark (wireshark-common)",
  flite: "flite",
  "espeak-ng": "espeak-ng",
  sox: "sox libsox-fmt-all",
  soxi: "sox",
  baresip: "baresip-core",
  sqlite3: "sqlite3",
  chromium: "chromium",
  taskset: "util-linux",
};

/** The tools among `names` that are not on PATH. */
export function missingTools(names: string[]): string[] {
  return names.filter((n) => !Bun.which(n));
}

/**
 * Starts `argv` as a managed process (own process group, output collected).
 * @throws Error when the executable cannot be started (for a known tool the message names the
 *   Debian package to install).
 */
export function spawnManaged(argv: string[], opts: SpawnManagedOptions = {}): ManagedProcess {
  installExitHook();
  const name = opts.name ?? argv[0] ?? "process";
  const exe = argv[0] ?? "";
  if (!exe.includes("/") && missingTools([exe]).length) {
    const pkg = TOOL_PACKAGES[exe];
    throw new Error(`${exe} is not installed${pkg ? `: apt-get install -y --no-install-recommends ${pkg}` : ""}`);
  }
  const proc: Subprocess<"pipe" | "ignore", "pipe", "pipe"> = Bun.spawn(argv, {
    cwd: opts.cwd,
    env: opts.env as Record<string, string> | undefined,
    stdin: opts.stdin === undefined ? "ignore" : "pipe",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  if (opts.stdin !== undefined && proc.stdin && typeof proc.stdin !== "number") {
    proc.stdin.write(opts.stdin);
    proc.stdin.end();
  }
  let out = "";
  let err = "";
  type Waiter = { re: RegExp; stream: "stdout" | "stderr" | "both"; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void };
  const waiters = new Set<Waiter>();
  const check = (w: Waiter): boolean => {
    const text = w.stream === "stdout" ? out : w.stream === "stderr" ? err : out + "\n" + err;
    for (const line of text.split("\n")) {
      const m = line.match(w.re);
      if (m) {
        waiters.delete(w);
        w.resolve(m);
        return true;
      }
    }
    return false;
  };
  const onOutput = () => {
    for (const w of [...waiters]) check(w);
  };
  const pumps = Promise.all([
    opts.rawStdout
      ? Promise.resolve()
      : pump(proc.stdout, (t) => {
          out += t;
          onOutput();
        }),
    pump(proc.stderr, (t) => {
      err += t;
      onOutput();
    }),
  ]).catch(() => undefined);

  let running = true;
  // Assigned below; read only once the process has exited.
  let mp: ManagedProcess | undefined;
  const tail = () => `--- stdout ---\n${out.slice(-2000)}\n--- stderr ---\n${err.slice(-2000)}`;
  const exited = (async () => {
    const code = await proc.exited;
    await pumps;
    running = false;
    if (mp) live.delete(mp);
    livePids.delete(proc.pid);
    for (const w of [...waiters]) {
      if (check(w)) continue;
      waiters.delete(w);
      w.reject(new Error(`${name} exited (code ${code}, signal ${proc.signalCode}) before printing ${w.re}\n${tail()}`));
    }
    return proc.signalCode ? null : code;
  })();

  mp = {
    name,
    pid: proc.pid,
    exited,
    get signalCode() {
      return (proc.signalCode as string | null) ?? null;
    },
    stdout: () => out,
    stderr: () => err,
    get running() {
      return running;
    },
    rawStdout: opts.rawStdout ? proc.stdout : undefined,
    waitForLine(re, { timeoutMs, stream = "both" }) {
      return new Promise<RegExpMatchArray>((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const w: Waiter = {
          re,
          stream,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        waiters.add(w);
        if (check(w)) return;
        if (!running) {
          waiters.delete(w);
          reject(new Error(`${name} is not running; ${re} never printed\n${tail()}`));
          return;
        }
        timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`${name}: no line matching ${re} within ${timeoutMs} ms\n${tail()}`));
        }, timeoutMs);
      });
    },
    signal(sig) {
      if (running) killGroup(proc.pid, sig);
    },
    async stop({ signal = "SIGTERM", graceMs = 2000 } = {}) {
      if (running) {
        killGroup(proc.pid, signal);
        const timer = setTimeout(() => killGroup(proc.pid, "SIGKILL"), graceMs);
        try {
          await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      // The leader is gone; make sure nothing else in its group survives.
      killGroup(proc.pid, "SIGKILL");
      return exited;
    },
  };
  live.add(mp);
  livePids.add(proc.pid);
  return mp;
}

/** Stops every managed process still running (SIGTERM, SIGKILL after `graceMs`). For `afterAll`. */
export async function stopAllManaged(graceMs = 1000): Promise<void> {
  await Promise.all([...live].map((p) => p.stop({ graceMs })));
}

/** Number of managed processes still running (tests assert 0 after cleanup). */
export function liveManagedCount(): number {
  return live.size;
}
