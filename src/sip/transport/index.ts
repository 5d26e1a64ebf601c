/** SIP transport layer: UDP datagrams, TCP/TLS streams, and the choice between them (RFC 3261 §18, RFC 3581). */
export type { Address, ArrivalProtocol, Transport, TransportDelegate } from "./types.ts";
export { DEFAULT_SIP_PORT, responseDestination, responseDestinationOf } from "./response-address.ts";
export { processDatagram, stampVia, type InboundResult } from "./inbound.ts";
export { UdpTransport, type UdpTransportOptions, type UdpTransportStats } from "./udp.ts";
export { MemoryTransport, type SentRecord } from "./memory.ts";
export { SourceGate, type SourceGateOptions, type GateVerdict, type UntrustedPolicy } from "./source-gate.ts";
export { DropReport, sipRefusedTotals, type RefusalReason } from "./drop-report.ts";
export { statelessResponse, statelessToTag } from "./stateless.ts";
export { StreamTransport, MAX_HEADER_BYTES, MAX_BODY_BYTES, STREAM_SLICE_MESSAGES, STREAM_SLICE_MS, type StreamTransportOptions } from "./tcp.ts";
export { StreamBudget, STREAM_BUDGET, type StreamBudgetLimits } from "./stream-budget.ts";
export { MultiTransport, UDP_MAX_REQUEST_BYTES } from "./multi.ts";
