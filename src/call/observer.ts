/**
 * What happens to a call, reported upward to whoever keeps account of it: the call store (records,
 * turns) and the metrics (gauges, counters, histograms). Inbound calls and the outbound dialer report
 * through the same interface (via CallSession), so neither repeats the bookkeeping.
 *
 *   const observer = combineObservers(log, storeObserver(store), metricsObserver(metrics));
 *   new CallSession({ record, observer, … });
 */
import type { CallDirection, CallRecord, CallRecordStore, TurnRecord } from "../pipeline/call-record";
import type { Metrics } from "../metrics";
import { ProviderError } from "../providers/types";
import type { Logger } from "../util/log";
import { observeTurnLatency } from "./turn-latency";
import type { CallEventHub } from "./events";

/** RTP counters of one call when it ended (RFC 3550 §6.4.1 cumulative loss). */
export interface CallRtpStats {
  packetsIn: number;
  packetsOut: number;
  lost: number;
}

/** Every method is called on the call's own path; an observer must not block (no waits, no I/O waits). */
export interface CallObserver {
  /** The call exists: inbound INVITE admitted, or our INVITE sent. Exactly once, before anything else. */
  callStarted(record: CallRecord): void;
  /** Fields of the live record changed (state, status, timestamps, cause, codec). */
  callUpdated(record: CallRecord): void;
  /** The dialog is confirmed (inbound: the ACK of our 2xx; outbound: the 2xx). */
  callAnswered(record: CallRecord): void;
  /** A turn was appended to `record.turns`. */
  turn(record: CallRecord, turn: TurnRecord): void;
  /** The caller interrupted the agent. */
  bargeIn(record: CallRecord): void;
  /** A barge-in that paused the reply was decided (record.bargeInPauses is updated): resumed or cut after `pausedMs`. */
  bargeInPause?(record: CallRecord, result: "resumed" | "cut", pausedMs: number | null): void;
  /** A provider failed (the conversation may have recovered). */
  providerError(record: CallRecord, err: unknown): void;
  /** The call's RTP counters, once, just before `callEnded` (only when media ran). */
  rtpStats(record: CallRecord, stats: CallRtpStats): void;
  /** The far end's RTCP report about our stream (RFC 3550 §6.4.1), as each arrives; `record.rtcp` holds the latest. */
  rtcpReport?(record: CallRecord, report: NonNullable<CallRecord["rtcp"]>): void;
  /** The caller's words so far, not final yet (STT interim results); for live watchers only. */
  interim?(record: CallRecord, text: string): void;
  /** A DTMF key from the far end (RFC 4733 or SIP INFO); for live watchers only. */
  dtmf?(record: CallRecord, key: string): void;
  /** The LLM called a tool (end_call, transfer, send_dtmf…); for live watchers only. */
  toolCall?(record: CallRecord, name: string, args: Record<string, unknown>): void;
  /** The agent's reply in progress: its text handed to TTS so far; the `turn` follows. For live watchers only. */
  saying?(record: CallRecord, text: string): void;
  /**
   * The call is over and everything it held is released. Exactly once per `callStarted`. `result` is
   * `record.endReason` when set (more precise), else the SIP layer's end reason.
   */
  callEnded(record: CallRecord, result: string): void;
  /** A call refused before it existed (no `callStarted`): capacity, no RTP port, policy. */
  callRefused(direction: CallDirection, result: string): void;
}

/** The call store's view: the record as it is created, changed, given turns, and ended. */
export function storeObserver(store: CallRecordStore): CallObserver {
  return {
    callStarted: (record) => store.add(record),
    callUpdated: (record) => store.save(record),
    callAnswered: (record) => store.save(record),
    turn: (record, turn) => store.addTurn(record.id, turn),
    bargeIn: () => {},
    providerError: () => {},
    rtpStats: () => {},
    callEnded: (record, result) => store.end(record.id, result),
    callRefused: () => {},
  };
}

/** The metrics' view: active calls, calls by direction and result, RTP packets, latencies, errors. */
export function metricsObserver(metrics: Metrics): CallObserver {
  return {
    callStarted: (record) => metrics.callStarted(record.direction),
    callUpdated: () => {},
    callAnswered: () => {},
    turn: (record, turn) => {
      observeTurnLatency(metrics, turn);
      if (turn.usage) metrics.usage(turn.usage, record.providers);
    },
    bargeIn: () => metrics.bargeIn(),
    bargeInPause: (_record, result, ms) => metrics.bargeInPause(result, ms),
    providerError: (_record, err) => {
      if (err instanceof ProviderError) metrics.providerErrorFrom(err);
    },
    rtpStats: (_record, st) => {
      metrics.rtpPackets("in", st.packetsIn);
      metrics.rtpPackets("out", st.packetsOut);
      metrics.rtpPacketsLost(Math.max(0, st.lost));
    },
    rtcpReport: (_record, r) => metrics.rtcpReport(r),
    callEnded: (record, result) => {
      metrics.callEnded(record.direction, result);
      if (record.usage) metrics.usage({ sttAudioS: record.usage.sttAudioS }, record.providers);
    },
    callRefused: (direction, result) => metrics.callRefused(direction, result),
  };
}

/**
 * One observer that reports to each of `observers` in order. An observer that throws is logged and
 * skipped: bookkeeping failing (a full disk) never ends a call nor stops the other observers.
 */
export function combineObservers(log: Logger, ...observers: CallObserver[]): CallObserver {
  type Optional = "rtcpReport" | "interim" | "dtmf" | "toolCall" | "saying" | "bargeInPause";
  type Required = Exclude<keyof CallObserver, Optional>;
  const each =
    <K extends Required>(name: K) =>
    (...args: Parameters<CallObserver[K]>): void => {
      for (const o of observers) {
        try {
          (o[name] as (...a: Parameters<CallObserver[K]>) => void)(...args);
        } catch (err) {
          log.error({ event: name, err: String(err) }, "call observer failed");
        }
      }
    };
  const optional =
    <K extends Optional>(name: K) =>
    (...args: Parameters<NonNullable<CallObserver[K]>>): void => {
      for (const o of observers) {
        try {
          (o[name] as ((...a: Parameters<NonNullable<CallObserver[K]>>) => void) | undefined)?.(...args);
        } catch (err) {
          log.error({ event: name, err: String(err) }, "call observer failed");
        }
      }
    };
  return {
    callStarted: each("callStarted"),
    callUpdated: each("callUpdated"),
    callAnswered: each("callAnswered"),
    turn: each("turn"),
    bargeIn: each("bargeIn"),
    bargeInPause: optional("bargeInPause"),
    providerError: each("providerError"),
    rtpStats: each("rtpStats"),
    rtcpReport: optional("rtcpReport"),
    interim: optional("interim"),
    dtmf: optional("dtmf"),
    toolCall: optional("toolCall"),
    saying: optional("saying"),
    callEnded: each("callEnded"),
    callRefused: each("callRefused"),
  };
}

/**
 * The log's view of the agent's side: one "agent turn" line per reply as the caller heard it, with its
 * latency stages (ms from the end of the caller's speech), whether it was cut, and what it cost.
 * `callId` is our id, `sipCallId` the SIP Call-ID; the words go under `pii` (dropped when LOG_PII=false).
 */
export function logObserver(log: Logger): CallObserver {
  const none = () => {};
  return {
    callStarted: none,
    callUpdated: none,
    callAnswered: none,
    turn: (record, turn) => {
      if (turn.speaker !== "agent") return;
      log.info(
        {
          callId: record.id,
          sipCallId: record.sipCallId,
          turn: turn.index,
          ...(turn.interrupted ? { interrupted: true } : {}),
          ...(turn.latency && Object.keys(turn.latency).length ? { latencyMs: turn.latency } : {}),
          ...(turn.usage ? { usage: turn.usage } : {}),
          ...(turn.error ? { error: turn.error } : {}),
          pii: { text: turn.text, ...(turn.generatedText ? { generatedText: turn.generatedText } : {}) },
        },
        "agent turn",
      );
    },
    bargeIn: none,
    providerError: none,
    rtpStats: none,
    callEnded: none,
    callRefused: none,
  };
}

/**
 * The live event stream's view (src/call/events.ts): call state, interim and final transcripts,
 * agent replies (heard part and whole reply on barge-in) with their latency stages, barge-ins, provider
 * errors. Publishing never waits for a watcher.
 */
export function eventsObserver(hub: CallEventHub): CallObserver {
  const now = () => new Date().toISOString();
  return {
    callStarted: (record) => hub.started(record),
    callUpdated: (record) => hub.publishCall(record),
    callAnswered: (record) => hub.publishCall(record),
    turn: (record, turn) => hub.publish({ type: "turn", callId: record.id, at: turn.at, turn }),
    interim: (record, text) => hub.publish({ type: "interim", callId: record.id, at: now(), text }),
    dtmf: (record, key) => hub.publish({ type: "dtmf", callId: record.id, at: now(), key }),
    toolCall: (record, name, args) => hub.publish({ type: "tool", callId: record.id, at: now(), name, args }),
    saying: (record, text) => hub.publish({ type: "saying", callId: record.id, at: now(), text }),
    bargeIn: (record) => hub.publish({ type: "bargeIn", callId: record.id, at: now() }),
    providerError: (record, err) =>
      hub.publish({ type: "providerError", callId: record.id, at: now(), message: err instanceof Error ? err.message : String(err) }),
    rtpStats: () => {},
    callEnded: (record) => hub.ended(record),
    callRefused: () => {},
  };
}
