/**
 * The few libc functions the agent calls through bun:ffi (Linux, glibc's libc.so.6), opened once, lazily:
 * thread scheduling (./thread-sched.ts: syscall for gettid/sched_setattr, setpriority, getpriority) and
 * socket options (./socket-buffer.ts: setsockopt, getsockopt), FIFOs (providers/pocketsphinx/fifo.ts: mkfifo, so a call's
 * set-up does not wait on a `mkfifo` process).
 *
 *   const c = libc();                       // the symbols, or a string saying why not
 *   if (typeof c !== "string") c.getpriority(0, tid);
 *   errnoText(c)                            // "errno 9" after a failed call
 *
 * Never throws: a platform without it (not Linux, no glibc) gets the reason, and callers keep the kernel's
 * defaults.
 */
import { dlopen, FFIType, read } from "bun:ffi";

function open() {
  return dlopen("libc.so.6", {
    syscall: { args: [FFIType.i64, FFIType.i64, FFIType.ptr, FFIType.i64, FFIType.i64], returns: FFIType.i64 },
    setpriority: { args: [FFIType.i32, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
    getpriority: { args: [FFIType.i32, FFIType.u32], returns: FFIType.i32 },
    setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    mkfifo: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
}

export type Libc = ReturnType<typeof open>;
let symbols: Libc | undefined;
let failure: string | undefined;

/** libc's symbols, or why they cannot be had (`unsupported platform …`, `libc.so.6: …`). */
export function libc(): Libc | string {
  if (process.platform !== "linux") return `unsupported platform ${process.platform}`;
  if (!symbols && !failure) {
    try {
      symbols = open();
    } catch (err) {
      failure = `libc.so.6: ${String(err)}`;
    }
  }
  return symbols ?? failure!;
}

/** The calling thread's errno after a failed libc call, as text ("errno 9"). */
export function errnoText(c: Libc): string {
  const p = c.__errno_location();
  return p ? `errno ${read.i32(p, 0)}` : "errno unknown";
}
