/**
 * How the kernel schedules the calling OS thread (Linux, through bun:ffi and libc): used by the media
 * worker so its 20 ms ticks are not queued behind the call thread when both share one core.
 *
 *   setThreadSlice(500)   // this thread asks for a 500 µs slice: sched_setattr(2), SCHED_OTHER, sched_runtime
 *   raiseThreadNice(5)    // this thread only (not the process): nice + 5, setpriority(2) on its thread id
 *   raiseProcessNice(pid, 10)  // a child process just spawned (the offline recogniser): nice + 10
 *
 * Why a slice: under EEVDF (Linux ≥ 6.6) a task's virtual deadline is its eligible time plus its slice
 * (weighted), and a waking task preempts the running one when its deadline is earlier; since 6.12 a
 * custom slice shorter than the running task's lets it preempt at wake-up even while the running task is
 * protected to run to parity (sched_setattr(2): "sched_runtime … for SCHED_OTHER … the time slice"; the
 * kernel clamps it to 0.1–100 ms). Neither call needs privileges: a slice for SCHED_OTHER is not
 * checked, and raising one's own nice value never is (setpriority(2): "lower … requires CAP_SYS_NICE").
 *
 * Both return a result instead of throwing: the worker runs without them where they are unavailable
 * (not Linux, an older kernel: EINVAL/E2BIG, a seccomp filter: EPERM/ENOSYS).
 *
 * Why not a real-time policy: the media worker in SCHED_FIFO (priority 10, sched_setattr with
 * SCHED_FLAG_RESET_ON_FORK, as root) was measured on 6 Dec 2026 (session 12): at 200 calls on one core the
 * worker thread took 89 % of the core and the call thread 6.5 %, 15 of 200 calls heard replies, pacer p99
 * 999 ms. `perf record -g -t <worker>`: 89 % of its samples inside sched_yield(2), called from Bun's own code
 * under its event-loop tick (the function that waits in epoll), not from our JavaScript: a wait that yields
 * the CPU in a loop until another thread has done something (the npm build has no symbols to name it).
 * Priority inversion: the agent pinned to one core, that thread is a SCHED_OTHER one on the same core,
 * which a FIFO thread's sched_yield never lets run — only the kernel's RT throttling does (50 ms of each
 * second). With the agent on both cores (bench:load --no-pin) there was no livelock, but still 12 % of the
 * worker's samples in sched_yield, the worker at 30 % of a core (20–27 % without FIFO) and its pacer p99
 * 40 ms against 10 with the worker off. Bounding our own work per tick does
 * not help: the spin is inside the runtime. A real-time pacer needs code that never waits on the process's
 * normal threads (a native thread), not a JS Worker.
 */
import { ptr } from "bun:ffi";
import { errnoText as errno, libc, type Libc } from "./libc.ts";
import { readdirSync, readFileSync } from "node:fs";

export type SchedResult = { ok: true; tid: number } | { ok: false; error: string };

/** Syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h for arm64). */
const SYS: Record<string, { gettid: number; sched_setattr: number }> = {
  x64: { gettid: 186, sched_setattr: 314 },
  arm64: { gettid: 178, sched_setattr: 274 },
};
/** sizeof(struct sched_attr), SCHED_ATTR_SIZE_VER1 (include/uapi/linux/sched/types.h). */
const SCHED_ATTR_SIZE = 56;
const SCHED_OTHER = 0;
/** setpriority(2) `which`: the id names a process — on Linux a thread id names that one thread. */
const PRIO_PROCESS = 0;

/** libc and this architecture's syscall numbers, or why not. */
function sys(): { c: Libc; n: { gettid: number; sched_setattr: number } } | string {
  const n = SYS[process.arch];
  if (process.platform !== "linux" || !n) return `unsupported platform ${process.platform}/${process.arch}`;
  const c = libc();
  return typeof c === "string" ? c : { c, n };
}

/** The calling OS thread's id (gettid(2)); -1 when unavailable. */
export function threadId(): number {
  const s = sys();
  return typeof s === "string" ? -1 : Number(s.c.syscall(s.n.gettid, 0, null, 0, 0));
}

/**
 * Sets the calling thread's time slice (sched_setattr(2), SCHED_OTHER with `sched_runtime`), µs.
 * The thread's nice value is kept (sched_setattr sets both). `us` is clamped by the kernel to 100–100,000.
 */
export function setThreadSlice(us: number): SchedResult {
  const s = sys();
  if (typeof s === "string") return { ok: false, error: s };
  const nice = s.c.getpriority(PRIO_PROCESS, threadId());
  const attr = new ArrayBuffer(SCHED_ATTR_SIZE);
  const v = new DataView(attr);
  v.setUint32(0, SCHED_ATTR_SIZE, true); // size
  v.setUint32(4, SCHED_OTHER, true); // sched_policy
  v.setBigUint64(8, 0n, true); // sched_flags
  v.setInt32(16, nice, true); // sched_nice
  v.setBigUint64(24, BigInt(Math.round(us * 1000)), true); // sched_runtime, ns
  const r = Number(s.c.syscall(s.n.sched_setattr, 0, ptr(attr), 0, 0));
  return r === 0 ? { ok: true, tid: threadId() } : { ok: false, error: `sched_setattr: ${errno(s.c)}` };
}

/**
 * Raises the calling thread's nice value by `by` (capped at 19), this thread only: raising needs no
 * privilege, whatever nice value the process was started with. Threads it creates later inherit it.
 */
export function raiseThreadNice(by: number): SchedResult & { nice?: number } {
  const s = sys();
  if (typeof s === "string") return { ok: false, error: s };
  const tid = threadId();
  const nice = Math.min(19, s.c.getpriority(PRIO_PROCESS, tid) + by);
  const r = s.c.setpriority(PRIO_PROCESS, tid, nice);
  return r === 0 ? { ok: true, tid, nice } : { ok: false, error: `setpriority: ${errno(s.c)}` };
}

/**
 * Raises by `by` (capped at 19) the nice value of process `pid` — a child just spawned, whose one thread
 * the id names (setpriority(2), PRIO_PROCESS: "on Linux a thread id names that one thread"; threads it
 * creates later inherit the value). The child starts with the spawning thread's value, so this is relative
 * to ours, as `nice -n by` would be. Needs no privilege for our own children (same user; raising never does).
 * @returns the new value, or why it could not be set (no libc, ESRCH when the child already exited).
 */
export function raiseProcessNice(pid: number, by: number): SchedResult & { nice?: number } {
  const s = sys();
  if (typeof s === "string") return { ok: false, error: s };
  const nice = Math.min(19, s.c.getpriority(PRIO_PROCESS, pid) + by);
  const r = s.c.setpriority(PRIO_PROCESS, pid, nice);
  return r === 0 ? { ok: true, tid: pid, nice } : { ok: false, error: `setpriority: ${errno(s.c)}` };
}

/** Names (comm) of threads `raiseHelperThreadsNice` leaves alone: Bun Workers (the media worker, flite synthesis). */
const KEEP_THREADS = new Set(["Worker"]);

/**
 * Raises by `by` (capped at 19) the nice value of this process's other threads — the runtime's helpers:
 * the JIT compiler ("JITWorker"), the allocator's scavenger, the HTTP client, the thread pool — but not
 * the calling thread and not Bun Workers. On a shared core a helper that wakes (a JIT compilation of a
 * few ms) otherwise takes the core from the calling thread at once: measured at bench:load's 200 calls
 * (issue 13), late pacer ticks' windows held 5.7 ms of the call thread waiting on its run queue, on
 * average. With nice +10 a helper weighs 110 against the call thread's 1024 (sched(7)): it still runs,
 * in the call thread's idle time first. Threads in `done` (tids) are skipped and the ones changed added,
 * so a caller can repeat it for threads created later. Threads named (comm) in `keep` are left alone too
 * (RUNTIME_THREADS_NICE_KEEP, e.g. "JITWorker": a nicer JIT compiler tiers code up later, which costs the
 * call thread more than it saves). Linux only; needs no privilege (raising a nice value never does).
 * @returns the names of the threads changed, or why none could be.
 */
export function raiseHelperThreadsNice(by: number, done: Set<number>, keep: ReadonlySet<string> = new Set()): { changed: string[] } | { error: string } {
  const s = sys();
  if (typeof s === "string") return { error: s };
  const self = threadId();
  const changed: string[] = [];
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch (err) {
    return { error: `/proc/self/task: ${String(err)}` };
  }
  for (const t of tids) {
    const tid = Number(t);
    if (tid === self || done.has(tid)) continue;
    let name: string;
    try {
      name = readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim();
    } catch {
      continue; // ended meanwhile
    }
    done.add(tid);
    if (KEEP_THREADS.has(name) || keep.has(name)) continue;
    const nice = Math.min(19, s.c.getpriority(PRIO_PROCESS, tid) + by);
    if (s.c.setpriority(PRIO_PROCESS, tid, nice) === 0) changed.push(name);
  }
  return { changed };
}
