/** A completed agent turn's latencies into the metrics histograms, for calls of both directions. */
import type { TurnRecord } from "../pipeline/call-record";
import type { Metrics } from "../metrics";

/** Feeds a completed turn's latency to the histograms (the first-RTP figure may fill in later). */
export function observeTurnLatency(metrics: Metrics, turn: TurnRecord): void {
  if (turn.speaker !== "agent" || !turn.latency) return;
  const lat = turn.latency;
  // firstRtpMs is written when the first packet goes out, possibly after the turn was recorded.
  setTimeout(() => metrics.turnLatencies(lat), 1000);
}
