/**
 * Prometheus metrics for voice-agent, through prom-client 15 with a private `Registry` per
 * `createMetrics()` call (never prom-client's global default registry), so tests and several agents in
 * one process do not share counters.
 *
 * Names follow https://prometheus.io/docs/practices/naming/ (prefix `voice_agent_`, counters end in
 * `_total`, the unit is the last word). Latencies are in milliseconds (`_ms`) rather than the
 * recommended seconds because every latency in the project (call records, logs, config) is in ms and
 * the buckets read naturally; the suffix says so.
 *
 * Label values are bounded at this edge (./labels.ts); the process-wide drop/refusal/error totals are
 * read at scrape time (./process-totals.ts).
 *
 * Hot paths: `rtpPacketIn`/`rtpPacketOut` use label-bound children created once (measured ≈ 0.2 µs per
 * call); `pacerLateness` (once per pacer deadline and phase, ~180 a second at 200 calls) counts into a
 * plain bucket array rendered at scrape time (./counted-histogram.ts, the same exposition). Every method is a plain closure:
 * passing one as a callback (`onBargeIn: metrics.bargeIn`) needs no `bind`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ProviderError, ProviderKind } from "../providers/types.ts";
import {
  bounded,
  CALL_RESULTS,
  PROVIDER_KINDS,
  providerCodeLabel,
  providerLabel,
  SIP_METHODS,
  statusLabel,
  type CallDirection,
  type CallResult,
  type TurnStage,
} from "./labels.ts";
import { CountedHistogram } from "./counted-histogram.ts";
import { processTotalCounters } from "./process-totals.ts";
import { usageCounters, type UsageAmounts } from "./usage";

export { CALL_RESULTS, SIP_METHODS, type CallDirection, type CallResult, type TurnStage } from "./labels.ts";

/** Upper bounds, ms, of `voice_agent_pacer_lateness_ms` (tick lateness after its 20 ms deadline); 6, 7, 8 around the 5 ms target of issue 13 so a p99 of 6.5 and of 7.9 read apart. */
export const PACER_LATENESS_BUCKETS_MS: readonly number[] = [0.5, 1, 2, 3, 4, 5, 6, 7, 8, 10, 15, 20, 40];
/** Upper bounds, ms, of `voice_agent_turn_latency_ms`. */
export const TURN_LATENCY_BUCKETS_MS: readonly number[] = [50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000];
/** barge_in_pause_ms buckets, ms: a pause ends by 2 s (barge-in-pause.ts PAUSE_MAX_MS). */
export const BARGE_IN_PAUSE_BUCKETS_MS: readonly number[] = [100, 200, 300, 400, 500, 600, 800, 1000, 1500, 2000];

export interface MetricsOptions {
  /**
   * Register prom-client's default process metrics (`process_cpu_seconds_total`,
   * `process_resident_memory_bytes`, `process_open_fds`, `nodejs_eventloop_lag_seconds`, heap sizes…)
   * on the private registry, under their standard unprefixed names. Default true. Left out: the per-space
   * heap gauges (`nodejs_heap_space_size_*_bytes`, see HEAP_WALKING_METRICS).
   */
  defaultMetrics?: boolean;
  /** Labels added to every series (e.g. `{ instance_role: "inbound" }`). Default none. */
  defaultLabels?: Record<string, string>;
}

/** The counters, gauges and histograms of one agent, and the way to read them out. */
export interface Metrics {
  /** The private registry (for `registry.getSingleMetricAsString` or merging). */
  readonly registry: Registry;
  /** HTTP `content-type` of `render()`: `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string;
  /** The exposition text (Prometheus text format 0.0.4) of every metric. */
  render(): Promise<string>;

  /**
   * Where `voice_agent_unconfirmed_calls` reads, at each scrape, the inbound calls admitted but not yet
   * confirmed by an ACK (src/call/unconfirmed.ts). Unset: 0.
   */
  readUnconfirmedCalls(read: () => number): void;
  /**
   * A call exists (INVITE received and accepted for processing / our INVITE sent). active_calls shows it
   * once it holds a place: at once for outbound, from the ACK for inbound (readUnconfirmedCalls).
   */
  callStarted(direction: CallDirection): void;
  /**
   * The call is over: out of active_calls and calls_total{direction,result} +1. Call exactly once per
   * callStarted. `result` is typically `record.endReason ?? reason`; a string outside CallResult
   * counts as `other`.
   */
  callEnded(direction: CallDirection, result: CallResult | (string & {})): void;
  /**
   * A call refused before it existed (no callStarted, e.g. 486/503 for MAX_CALLS or drain):
   * calls_total{direction,result} +1 without touching active_calls.
   */
  callRefused(direction: CallDirection, result: CallResult | (string & {})): void;

  /** We received a SIP request (after parsing; retransmissions included): sip_requests_total{method}. */
  sipRequestReceived(method: string): void;
  /**
   * We sent a SIP response (retransmissions included): sip_responses_total{code,method}, method from
   * CSeq. `instrumentTransport()` (./sip-transport.ts) calls both SIP methods for you.
   */
  sipResponseSent(method: string, code: number): void;

  /** One RTP packet received on a call: rtp_packets_total{direction="in"}. */
  rtpPacketIn(): void;
  /** One RTP packet sent on a call: rtp_packets_total{direction="out"}. */
  rtpPacketOut(): void;
  /** Adds `count` packets to rtp_packets_total{direction} in one step (e.g. at call end). */
  rtpPackets(direction: "in" | "out", count: number): void;
  /**
   * Adds `count` newly lost packets (RFC 3550 §6.4.1 cumulative loss; pass the increase since the last
   * report, never the cumulative value) to rtp_packets_lost_total. Negative counts are ignored.
   */
  rtpPacketsLost(count: number): void;
  /** One pacer tick, `ms` after its deadline (negative counts as 0): pacer_lateness_ms. */
  pacerLateness(ms: number): void;
  /** Adds `ticks` pacer deadlines dropped by a skip ahead (a stall past the catch-up window): pacer_skipped_ticks_total. */
  pacerSkippedTicks(ticks: number): void;
  /**
   * A far end's RTCP report about our stream (RFC 3550 §6.4.1): rtcp_rtt_ms (when it carried our last
   * SR), rtcp_fraction_lost (0–1) and rtcp_jitter_ms.
   */
  rtcpReport(r: { fractionLost: number; jitterMs: number; rttMs?: number }): void;

  /** One turn reached `stage` `ms` after the caller stopped speaking: turn_latency_ms{stage}. */
  turnLatency(stage: TurnStage, ms: number): void;
  /**
   * Observes every stage present in a turn's latency record (the shape of `TurnLatency` in
   * src/pipeline/call-record.ts, all ms): finalTranscriptMs → final_transcript, firstTokenMs →
   * first_token, firstAudioMs → first_audio, firstRtpMs → first_rtp. Absent stages are skipped.
   */
  turnLatencies(latency: { finalTranscriptMs?: number; firstTokenMs?: number; firstAudioMs?: number; firstRtpMs?: number }): void;
  /** The caller interrupted the agent's reply: barge_ins_total +1. */
  bargeIn(): void;
  /**
   * A barge-in paused the reply until its sound was known (src/pipeline/barge-in-pause.ts) and was
   * decided: `resumed` (the reply went on from the same sample: a backchannel, a cough) or `cut` (an
   * interruption, also counted in barge_ins_total), after `pausedMs` of silence in the agent's audio:
   * barge_in_pauses_total{result} +1 and barge_in_pause_ms{result} (not observed when null: a cut by
   * words that came after the reply went on, its silence already observed as resumed).
   */
  bargeInPause(result: "resumed" | "cut", pausedMs: number | null): void;
  /** What a turn or call cost, by provider (src/metrics/usage.ts); `providers` as on the call record. */
  usage(u: UsageAmounts, providers?: { stt: string; llm: string; tts: string }): void;
  /** A provider failed: provider_errors_total{provider,kind,code}. `code` = HTTP status or error code. */
  providerError(provider: string, kind: ProviderKind, code: string | number): void;
  /** Same as providerError, taking the fields of a thrown `ProviderError`. */
  providerErrorFrom(err: Pick<ProviderError, "provider" | "kind" | "code">): void;
}

/**
 * prom-client default metrics whose collection walks the whole JavaScript heap under Bun
 * (`v8.getHeapSpaceStatistics()` → JSC heap statistics): 40–80 ms with a ~100 MB heap, measured, on the
 * thread that paces RTP — every scrape was a gap every caller heard. The scrape without them: 1–10 ms.
 * The heap's size stays (`nodejs_heap_size_*_bytes`, from `process.memoryUsage()`, ≤ 2 ms).
 */
export const HEAP_WALKING_METRICS = ["nodejs_heap_space_size_total_bytes", "nodejs_heap_space_size_used_bytes", "nodejs_heap_space_size_available_bytes"] as const;

/**
 * Creates the metrics of one agent on a new private registry.
 *
 * Example: `const m = createMetrics(); m.callStarted("inbound"); … const text = await m.render();`
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultLabels) registry.setDefaultLabels(options.defaultLabels);
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    for (const name of HEAP_WALKING_METRICS) registry.removeSingleMetric(name);
  }
  const registers = [registry];

  // One definition with /health/ready's activeCalls and MAX_CALLS: the calls that hold a place. Inbound
  // calls awaiting their ACK do not (a flood of INVITEs never ACKed is not a load), so they are counted
  // apart, in voice_agent_unconfirmed_calls, and left out here at each scrape.
  let live = 0;
  let unconfirmed: () => number = () => 0;
  new Gauge({
    name: "voice_agent_active_calls",
    help: "Calls that count against MAX_CALLS, at the scrape: inbound calls confirmed by their ACK, outbound calls from our INVITE on, transfer bridge legs; what /health/ready reports as activeCalls. Inbound calls awaiting their ACK are in voice_agent_unconfirmed_calls instead.",
    registers,
    collect() {
      this.set(Math.max(0, live - unconfirmed()));
    },
  });
  new Gauge({
    name: "voice_agent_unconfirmed_calls",
    help: "Inbound calls admitted but not yet confirmed by an ACK (being set up, or our 200 awaiting its ACK), at the scrape. Not in voice_agent_active_calls and not counted against MAX_CALLS; given up for a new INVITE after 8*T1 without ACK (voice_agent_calls_total{result=\"ack_given_up\"}).",
    registers,
    collect() {
      this.set(unconfirmed());
    },
  });
  const callsTotal = new Counter({
    name: "voice_agent_calls_total",
    help: "Calls that ended or were refused, by direction and result.",
    labelNames: ["direction", "result"] as const,
    registers,
  });
  const sipResponses = new Counter({
    name: "voice_agent_sip_responses_total",
    help: "SIP responses we sent (retransmissions included), by status code and the method in CSeq.",
    labelNames: ["code", "method"] as const,
    registers,
  });
  const sipRequests = new Counter({
    name: "voice_agent_sip_requests_total",
    help: "SIP requests we received, by method (unknown methods count as other).",
    labelNames: ["method"] as const,
    registers,
  });
  const rtpPackets = new Counter({
    name: "voice_agent_rtp_packets_total",
    help: "RTP packets received (in) and sent (out) on all calls.",
    labelNames: ["direction"] as const,
    registers,
  });
  const rtpLost = new Counter({
    name: "voice_agent_rtp_packets_lost_total",
    help: "RTP packets lost on the way to us (RFC 3550 6.4.1 cumulative loss, summed over calls).",
    registers,
  });
  processTotalCounters(registers);
  const rtcpRtt = new Histogram({
    name: "voice_agent_rtcp_rtt_ms",
    help: "Round-trip time to the far end from its RTCP reports (RFC 3550 6.4.1: A - LSR - DLSR), ms.",
    buckets: [5, 10, 20, 50, 100, 200, 400, 800, 1600],
    registers,
  });
  const rtcpLoss = new Histogram({
    name: "voice_agent_rtcp_fraction_lost",
    help: "Fraction of our RTP packets the far end reported lost per RTCP interval (0-1).",
    buckets: [0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1],
    registers,
  });
  const rtcpJitter = new Histogram({
    name: "voice_agent_rtcp_jitter_ms",
    help: "Interarrival jitter of our RTP stream as the far end reported it in RTCP, ms.",
    buckets: [1, 2, 5, 10, 20, 40, 80, 160],
    registers,
  });
  // Counted in a plain array on the pacing thread, rendered at scrape (./counted-histogram.ts).
  const pacer = new CountedHistogram({
    name: "voice_agent_pacer_lateness_ms",
    help: "How late each 20 ms outbound RTP pacer tick ran after its deadline, ms.",
    buckets: [...PACER_LATENESS_BUCKETS_MS],
    registers,
  });
  const pacerSkipped = new Counter({
    name: "voice_agent_pacer_skipped_ticks_total",
    help: "20 ms pacer deadlines dropped because the pacer's timer fired over 80 ms late (a stall): no packet was sent for them.",
    registers,
  });
  const turnLatency = new Histogram({
    name: "voice_agent_turn_latency_ms",
    help: "Time from the end of caller speech to each stage of the agent's reply, ms.",
    labelNames: ["stage"] as const,
    buckets: [...TURN_LATENCY_BUCKETS_MS],
    registers,
  });
  const bargeIns = new Counter({
    name: "voice_agent_barge_ins_total",
    help: "Agent replies interrupted by the caller.",
    registers,
  });
  const pauses = new Counter({
    name: "voice_agent_barge_in_pauses_total",
    help: "Barge-ins that paused the agent's reply until the sound was known, by how they ended: resumed (backchannel, noise) or cut.",
    labelNames: ["result"] as const,
    registers,
  });
  const pauseMs = new Histogram({
    name: "voice_agent_barge_in_pause_ms",
    help: "Silence a paused barge-in put in the agent's audio (pause to resume or cut), ms, by result.",
    labelNames: ["result"] as const,
    buckets: [...BARGE_IN_PAUSE_BUCKETS_MS],
    registers,
  });
  for (const result of ["resumed", "cut"] as const) {
    pauses.inc({ result }, 0);
    pauseMs.zero({ result });
  }
  const providerErrors = new Counter({
    name: "voice_agent_provider_errors_total",
    help: "Provider failures by provider, kind (stt, llm, tts) and code (error code or HTTP status).",
    labelNames: ["provider", "kind", "code"] as const,
    registers,
  });

  // Children bound once for the per-packet paths; they also make the series appear at 0 from the start.
  const rtpIn = rtpPackets.labels({ direction: "in" });
  const rtpOut = rtpPackets.labels({ direction: "out" });
  rtpIn.inc(0);
  rtpOut.inc(0);
  for (const stage of ["final_transcript", "first_token", "first_audio", "first_rtp"] as const) turnLatency.zero({ stage });

  const countCall = (direction: CallDirection, result: string) =>
    callsTotal.inc({ direction: bounded(direction, ["inbound", "outbound"] as const), result: bounded(result, CALL_RESULTS) });

  const observeTurn = (stage: TurnStage, ms: number) => {
    if (Number.isFinite(ms) && ms >= 0) turnLatency.observe({ stage }, ms);
  };

  const providerError = (provider: string, kind: ProviderKind, code: string | number) =>
    providerErrors.inc({ provider: providerLabel(provider), kind: bounded(kind, PROVIDER_KINDS), code: providerCodeLabel(code) });

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    readUnconfirmedCalls: (read) => void (unconfirmed = read),
    callStarted: () => void live++,
    callEnded(direction, result) {
      live--;
      countCall(direction, result);
    },
    callRefused: countCall,
    sipRequestReceived: (method) => sipRequests.inc({ method: bounded(method.toUpperCase(), SIP_METHODS) }),
    sipResponseSent: (method, code) =>
      sipResponses.inc({ code: statusLabel(code), method: bounded(method.toUpperCase(), SIP_METHODS) }),
    rtpPacketIn: () => rtpIn.inc(),
    rtpPacketOut: () => rtpOut.inc(),
    rtpPackets(direction, count) {
      if (count > 0) (direction === "in" ? rtpIn : rtpOut).inc(count);
    },
    rtpPacketsLost(count) {
      if (count > 0) rtpLost.inc(count);
    },
    pacerLateness: (ms) => pacer.observe(ms > 0 ? ms : 0),
    pacerSkippedTicks: (ticks) => void (ticks > 0 && pacerSkipped.inc(ticks)),
    rtcpReport: (r) => {
      if (r.rttMs !== undefined && Number.isFinite(r.rttMs)) rtcpRtt.observe(Math.max(0, r.rttMs));
      if (Number.isFinite(r.fractionLost)) rtcpLoss.observe(Math.min(1, Math.max(0, r.fractionLost)));
      if (Number.isFinite(r.jitterMs)) rtcpJitter.observe(Math.max(0, r.jitterMs));
    },
    turnLatency: observeTurn,
    turnLatencies(l) {
      if (l.finalTranscriptMs !== undefined) observeTurn("final_transcript", l.finalTranscriptMs);
      if (l.firstTokenMs !== undefined) observeTurn("first_token", l.firstTokenMs);
      if (l.firstAudioMs !== undefined) observeTurn("first_audio", l.firstAudioMs);
      if (l.firstRtpMs !== undefined) observeTurn("first_rtp", l.firstRtpMs);
    },
    bargeIn: () => bargeIns.inc(),
    bargeInPause(result, ms) {
      pauses.inc({ result });
      if (ms !== null && Number.isFinite(ms) && ms >= 0) pauseMs.observe({ result }, ms);
    },
    usage: usageCounters(registers, (p) => providerLabel(p.split(/[\s(]/)[0] ?? p)),
    providerError,
    providerErrorFrom: (err) => providerError(err.provider, err.kind, err.code),
  };
}
