/**
 * The offline voice (flite) made ready in the background when it is only the cloud TTS's fallback
 * (FLITE_FALLBACK_WARM, default true).
 *
 * Why: the fallback exists for the moment Cartesia fails mid-call, and the caller then waits for the
 * apology. Started on that first failure, the pool starts its workers (~2 s on a busy core) and each
 * worker's first render runs cold: the first apology's first frame came 2.8–3.6 s after the error, warm
 * 0.16–1.08 s (tests/e2e/fallback-warm.test.ts, same hour, loaded core). The cost is memory, once per
 * process: idle RSS with cloud keys ~170 → ~270 MiB (workers started ~+70, their first render ~+40;
 * scripts/bench-appliance.ts) — what a cold agent takes on at its first fallback anyway. It runs after
 * the SIP port is open, so start-up to answering OPTIONS is unchanged.
 *
 * What it does: starts the pool's workers and has each render the apology once (the audio is dropped).
 * A failure is logged and changes nothing else: the pool starts again on first use, as without warming.
 */
import type { FliteTts } from "../providers/offline";
import type { Logger } from "../util/log";

/**
 * Warms `flite` (its workers, then one render of `text` in each) without blocking the caller.
 * @returns a promise that resolves once done or failed (never rejects); logs `flite fallback warm` with `ms`.
 */
export function warmFliteFallback(flite: FliteTts, text: string, log: Logger): Promise<void> {
  const t0 = performance.now();
  return flite.warmup(text).then(
    () => log.info({ workers: flite.pool?.live ?? 0, ms: Math.round(performance.now() - t0) }, "flite fallback warm"),
    (err) => log.warn({ err: String(err), ms: Math.round(performance.now() - t0) }, "flite fallback warm-up failed: the workers start on the first fallback"),
  );
}
