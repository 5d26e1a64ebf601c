/**
 * The last line of defence: a process-level handler for errors nothing else caught. A call's own
 * failures are caught at the call boundary (src/call) and end that call; whatever still escapes (a
 * rejected promise nobody awaited, an exception thrown from a timer or socket callback) is logged and
 * counted here, and the process goes on serving the other calls. It never exits for such an error:
 * one call's bug must not hang up everyone.
 *
 *   const uninstall = installProcessGuard(log);
 *
 * Counted in `processErrorTotals` (metrics: `voice_agent_process_errors_total{kind}`); logged as
 * "unhandled error: process kept running" with the kind, message, code and stack (the logger's rate
 * limit turns a storm of them into a summary line).
 */
import type { Logger } from "./log";

export type ProcessErrorKind = "unhandled_rejection" | "uncaught_exception";

/** Process totals by kind. */
export const processErrorTotals: Record<ProcessErrorKind, number> = { unhandled_rejection: 0, uncaught_exception: 0 };

function describe(value: unknown): { err: string; code?: string; stack?: string } {
  if (value instanceof Error) {
    return { err: `${value.name}: ${value.message}`, code: (value as { code?: string }).code, stack: value.stack };
  }
  let text: string;
  try {
    text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return { err: `non-Error value: ${text.slice(0, 500)}` };
}

/**
 * Installs the handlers for `unhandledRejection` and `uncaughtException`. Returns the function that
 * removes them. Installing twice replaces nothing: each call adds its own pair.
 */
export function installProcessGuard(log: Logger, onError?: (kind: ProcessErrorKind) => void): () => void {
  const handle = (kind: ProcessErrorKind) => (value: unknown) => {
    processErrorTotals[kind]++;
    try {
      log.error({ kind, ...describe(value) }, "unhandled error: process kept running");
      onError?.(kind);
    } catch {
      /* the guard itself must never throw */
    }
  };
  const onRejection = handle("unhandled_rejection");
  const onException = handle("uncaught_exception");
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  return () => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  };
}
