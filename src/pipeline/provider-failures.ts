/** Logging of provider failures, shared by every stage of the conversation. */
import { ProviderError } from "../providers/types";
import type { Logger } from "../util/log";

/** One line for a log field: provider, code, status and message. */
export function describeError(err: unknown): string {
  if (err instanceof ProviderError) return `${err.provider} ${err.code}${err.status ? ` ${err.status}` : ""}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

const keyRejectedLogged = new Set<string>();

/**
 * Logs a provider failure. A rejected key (401/403) is logged once per provider and process as
 * "key rejected", since it will fail the same way on every call until the configuration changes.
 */
export function logProviderError(log: Logger, callId: string, err: unknown, msg: string): void {
  if (err instanceof ProviderError && err.code === "auth") {
    if (keyRejectedLogged.has(err.provider)) return;
    keyRejectedLogged.add(err.provider);
    log.error({ provider: err.provider, kind: err.kind, status: err.status }, "key rejected");
    return;
  }
  log.warn({ callId, err: describeError(err), retryable: err instanceof ProviderError ? err.retryable : undefined }, msg);
}
