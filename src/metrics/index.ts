/** Prometheus metrics: `createMetrics()` → typed recording methods + `render()` for `GET /metrics`. */
export {
  createMetrics,
  CALL_RESULTS,
  SIP_METHODS,
  PACER_LATENESS_BUCKETS_MS,
  TURN_LATENCY_BUCKETS_MS,
  type Metrics,
  type MetricsOptions,
  type CallDirection,
  type CallResult,
  type TurnStage,
} from "./metrics.ts";
export { instrumentTransport, type SipCounters } from "./sip-transport.ts";
