/** Logging of provider failures, shared by every stage of the conversation. */
import { ProviderError } from "../providers/types";
import { AgentError } from "../util/errors";
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

/**
 * What to do after a reply failed — decided here and nowhere else (retry lives in one layer):
 *  - "fallback": no reply has completed yet on this call (call start): the provider is unreachable,
 *    rejected our key or timed out, so the stage's offline provider serves the rest of the call;
 *  - "apology": later in the call: the caller hears a short apology and the next turn tries again.
 * Our own abort (`aborted`) is never a provider failure.
 */
export function replyRecovery(err: unknown, o: { replied: boolean }): "fallback" | "apology" {
  if (!(err instanceof ProviderError) || err.code === "aborted") return "apology";
  return o.replied ? "apology" : "fallback";
}

/**
 * What to do after the STT stream died mid-call (its own reconnects exhausted):
 *  - on the configured provider: "reopen" — it worked earlier in this call, so it is tried once more
 *    (a dropped socket, a restarted service), and the fallback is opened if that fails;
 *  - already on the fallback: "reopen" when the error is `retryable`, else "none" (it would fail the
 *    same way; the call goes on without recognition rather than looping).
 */
export function sttRecovery(err: unknown, o: { onFallback: boolean }): "reopen" | "none" {
  const retryable = err instanceof AgentError ? err.retryable : true;
  if (o.onFallback && !retryable) return "none";
  return "reopen";
}
