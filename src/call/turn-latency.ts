/** A completed agent turn's latencies into the metrics histograms, for calls of both directions. */
import type { TurnRecord } from "../pipeline/call-record";
import type { Metrics } from "../metrics";

/**
 * Feeds a completed turn's latency to the histograms. The conversation records an agent turn only after
 * its playback finished, and `firstRtpMs` is set by the playback-started event before that, so the
 * figures are complete when the turn arrives here.
 */
export function observeTurnLatency(metrics: Metrics, turn: TurnRecord): void {
  if (turn.speaker !== "agent" || !turn.latency) return;
  metrics.turnLatencies(turn.latency);
}
