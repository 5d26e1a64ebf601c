/** Waits `ms` on an injected Clock; rejects with ProviderError "aborted" if `signal` fires first. */
import type { Clock } from "../../util/clock.ts";
import { ProviderError, type ProviderKind } from "../types.ts";

export function clockSleep(clock: Clock, ms: number, signal: AbortSignal | undefined, provider: string, kind: ProviderKind): Promise<void> {
  const aborted = () => new ProviderError(provider, kind, "aborted", `${provider}: aborted`, false);
  if (signal?.aborted) return Promise.reject(aborted());
  if (ms <= 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimer(h);
      reject(aborted());
    };
    const h = clock.setTimer(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
