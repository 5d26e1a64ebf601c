/**
 * Log lines the process logger (src/util/log.ts) did not write, for metrics
 * (`voice_agent_log_lines_lost_total{outcome}`); kept apart from the logger so reading them pulls in no pino.
 * - suppressed: over the per-message-kind rate limit (summarised in "log lines suppressed" lines);
 * - dropped: stdout was not read and the asynchronous buffer was full.
 */
export const logTotals = { suppressed: 0, dropped: 0 };
