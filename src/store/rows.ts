/**
 * CallRecord / TurnRecord ↔ rows of the calls and turns tables (src/store/ddl.ts; SQLite and PostgreSQL).
 * Pure functions; JSON columns are parsed leniently (a damaged value reads as undefined rather than
 * failing the whole listing).
 */
import type { CallRecord, CallStatus, HangupCause, TurnRecord } from "../pipeline/call-record";

/** A `calls` row as bun:sqlite returns it. */
export interface CallRow {
  id: string;
  sip_call_id: string;
  direction: "inbound" | "outbound";
  from_uri: string;
  to_uri: string;
  state: "ringing" | "connected" | "ended";
  status: string | null;
  started_at: string;
  ringing_at: string | null;
  answered_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  end_reason: string | null;
  hangup_code: number | null;
  hangup_reason: string | null;
  hangup_source: string | null;
  codec: string | null;
  providers: string | null;
  barge_ins: number;
  opening_reason: string | null;
  objective: string | null;
  metadata: string | null;
  outcome: string | null;
  outcome_source: string | null;
  transfer: string | null;
  rtcp: string | null;
  usage?: string | null;
  amd?: string | null;
  barge_in_pauses?: string | null;
  updated_at: string;
}

/** A `turns` row. */
export interface TurnRow {
  call_id: string;
  idx: number;
  speaker: "caller" | "agent";
  text: string;
  at: string;
  interrupted: number | null;
  generated_text: string | null;
  latency: string | null;
  error: string | null;
  usage?: string | null;
  tts?: string | null;
}

/** Column names of `calls`, in the order `callParams` fills them. */
export const CALL_COLUMNS = [
  "id",
  "sip_call_id",
  "direction",
  "from_uri",
  "to_uri",
  "state",
  "status",
  "started_at",
  "ringing_at",
  "answered_at",
  "ended_at",
  "duration_ms",
  "end_reason",
  "hangup_code",
  "hangup_reason",
  "hangup_source",
  "codec",
  "providers",
  "barge_ins",
  "opening_reason",
  "objective",
  "metadata",
  "outcome",
  "outcome_source",
  "transfer",
  "rtcp",
  "usage",
  "amd",
  "barge_in_pauses",
  "updated_at",
] as const;

export const TURN_COLUMNS = ["call_id", "idx", "speaker", "text", "at", "interrupted", "generated_text", "latency", "error", "usage", "tts"] as const;

const json = (v: unknown): string | null => (v === undefined || v === null ? null : JSON.stringify(v));
const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

function parseJson<T>(text: string | null): T | undefined {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** Bind values for an upsert of `calls`, keyed by column name. */
export function callParams(r: CallRecord, updatedAt: string): Record<(typeof CALL_COLUMNS)[number], string | number | null> {
  return {
    id: r.id,
    sip_call_id: r.sipCallId,
    direction: r.direction,
    from_uri: r.from,
    to_uri: r.to,
    state: r.state,
    status: r.status ?? null,
    started_at: r.startedAt,
    ringing_at: r.ringingAt ?? null,
    answered_at: r.answeredAt ?? null,
    ended_at: r.endedAt ?? null,
    duration_ms: r.durationMs ?? null,
    end_reason: r.endReason ?? null,
    hangup_code: r.hangupCause?.code ?? null,
    hangup_reason: r.hangupCause?.reason ?? null,
    hangup_source: r.hangupCause?.source ?? null,
    codec: r.codec ?? null,
    providers: json(r.providers),
    barge_ins: r.bargeIns,
    opening_reason: r.openingReason ?? null,
    objective: r.objective ?? null,
    metadata: json(r.metadata),
    outcome: r.outcome ?? null,
    outcome_source: r.outcomeSource ?? null,
    transfer: json(r.transfer),
    rtcp: json(r.rtcp),
    usage: json(r.usage),
    amd: json(r.amd),
    barge_in_pauses: json(r.bargeInPauses),
    updated_at: updatedAt,
  };
}

/** Bind values for an upsert of `turns`. */
export function turnParams(callId: string, t: TurnRecord): Record<(typeof TURN_COLUMNS)[number], string | number | null> {
  return {
    call_id: callId,
    idx: t.index,
    speaker: t.speaker,
    text: t.text,
    at: t.at,
    interrupted: t.interrupted === undefined ? null : t.interrupted ? 1 : 0,
    generated_text: t.generatedText ?? null,
    latency: json(t.latency),
    error: t.error ?? null,
    usage: json(t.usage),
    tts: t.tts ?? null,
  };
}

export function rowToTurn(row: TurnRow): TurnRecord {
  const t: TurnRecord = { index: row.idx, speaker: row.speaker, text: row.text, at: row.at };
  if (row.interrupted !== null) t.interrupted = row.interrupted === 1;
  if (row.generated_text !== null) t.generatedText = row.generated_text;
  const latency = parseJson<TurnRecord["latency"]>(row.latency);
  if (latency) t.latency = latency;
  if (row.error !== null) t.error = row.error;
  const usage = parseJson<TurnRecord["usage"]>(row.usage ?? null);
  if (usage) t.usage = usage;
  if (row.tts != null) t.tts = row.tts;
  return t;
}

/** Rebuilds a record; undefined fields are left out, as on a live record. */
export function rowToCall(row: CallRow, turns: TurnRecord[]): CallRecord {
  const r: CallRecord = {
    id: row.id,
    sipCallId: row.sip_call_id,
    direction: row.direction,
    from: row.from_uri,
    to: row.to_uri,
    state: row.state,
    startedAt: row.started_at,
    turns,
    bargeIns: row.barge_ins,
  };
  const set = <K extends keyof CallRecord>(k: K, v: CallRecord[K] | undefined) => {
    if (v !== undefined) r[k] = v;
  };
  set("status", opt(row.status) as CallStatus | undefined);
  set("ringingAt", opt(row.ringing_at));
  set("answeredAt", opt(row.answered_at));
  set("endedAt", opt(row.ended_at));
  set("durationMs", opt(row.duration_ms));
  set("endReason", opt(row.end_reason));
  if (row.hangup_reason !== null) {
    const cause: HangupCause = {
      code: row.hangup_code,
      reason: row.hangup_reason,
      source: row.hangup_source === "remote" ? "remote" : "local",
    };
    r.hangupCause = cause;
  }
  set("codec", opt(row.codec));
  set("providers", parseJson(row.providers));
  set("openingReason", opt(row.opening_reason));
  set("objective", opt(row.objective));
  set("metadata", parseJson(row.metadata));
  set("outcome", opt(row.outcome));
  set("outcomeSource", opt(row.outcome_source) as CallRecord["outcomeSource"]);
  set("transfer", parseJson(row.transfer));
  set("rtcp", parseJson(row.rtcp));
  set("usage", parseJson(row.usage ?? null));
  set("amd", parseJson(row.amd ?? null));
  set("bargeInPauses", parseJson(row.barge_in_pauses ?? null));
  return r;
}
