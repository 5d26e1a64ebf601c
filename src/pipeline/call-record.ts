/**
 * What we keep about a call: parties, state, timestamps, turns with their text and per-turn latency.
 * Served by `GET /calls` and `GET /calls/:id`. Times are ISO-8601 strings; durations and latencies ms.
 */
export type CallDirection = "inbound" | "outbound";
export type CallState = "ringing" | "connected" | "ended";

/**
 * Detailed status of an outbound call (src/outbound/status.ts holds the transition table):
 * initiating → ringing → connected → completed, or one of the unanswered ends no_answer, busy,
 * declined, failed, canceled (a connected call can also end failed, e.g. unusable answer SDP, or
 * no_media when not one RTP packet came from the callee).
 */
export type CallStatus =
  | "initiating"
  | "ringing"
  | "connected"
  | "completed"
  /** Answered, but not one RTP packet came from the callee (dead media path, silent answering device). */
  | "no_media"
  | "no_answer"
  | "busy"
  | "declined"
  | "failed"
  | "canceled";

/**
 * Why a call ended, as a SIP status code and reason phrase when a SIP response ended it (e.g. 486 "Busy
 * Here", 408 "Request Timeout" for our own Timer B); `code` is null for BYE, hang-up by API or restart.
 * `source`: "remote" when the far end (trunk or callee) decided, "local" when we did.
 */
export interface HangupCause {
  code: number | null;
  reason: string;
  source: "remote" | "local";
}

/**
 * Per-turn latency, each field in ms measured from the end of the caller's speech (VAD) — or, for the
 * greeting, from the moment the reply was started. Undefined when the stage did not happen.
 */
export interface TurnLatency {
  /** End of caller speech → final transcript covering it. */
  finalTranscriptMs?: number;
  /** End of caller speech → first LLM token. */
  firstTokenMs?: number;
  /** End of caller speech → first TTS audio sample. */
  firstAudioMs?: number;
  /** End of caller speech → first RTP packet of the reply (voice-to-voice as far as we can see). */
  firstRtpMs?: number;
  /** End of caller speech → the LLM request sent (the reply started). Absent for fixed text (a resumed rest). */
  llmStartMs?: number;
  /** End of caller speech → the LLM's answer complete (or cut). */
  llmEndMs?: number;
  /** End of caller speech → the first text handed to TTS (its first sentence). */
  ttsStartMs?: number;
  /** End of caller speech → the last TTS audio received (absent when synthesis was cut). */
  ttsEndMs?: number;
  /** End of caller speech → the reply ended: played out, cut, or failed (the turn's whole span). */
  endMs?: number;
}

/** What an agent turn cost: LLM tokens from the provider's usage fields, characters sent to TTS. */
export interface TurnUsage {
  llmInputTokens?: number;
  llmOutputTokens?: number;
  ttsChars?: number;
}

/**
 * What a call cost so far: seconds of caller audio streamed to the STT (none while ringing or on hold),
 * LLM input/output tokens (provider usage fields), characters sent to TTS.
 */
export interface CallUsage {
  sttAudioS: number;
  llmInputTokens: number;
  llmOutputTokens: number;
  ttsChars: number;
}

export interface TurnRecord {
  index: number;
  speaker: "caller" | "agent";
  text: string;
  /** ISO time the turn was recorded. */
  at: string;
  /** Agent turns: the caller interrupted it; `text` then holds only what was played. */
  interrupted?: boolean;
  /** Agent turns: the whole reply as generated, when it differs from what was played. */
  generatedText?: string;
  latency?: TurnLatency;
  /** Agent turns: what the reply cost. */
  usage?: TurnUsage;
  /** Agent turns that failed and were replaced by the apology. */
  error?: string;
  /**
   * Agent turns spoken by a TTS other than the call's serving one (`CallRecord.providers.tts`): the
   * apology after a mid-call TTS failure, or a prompt the serving TTS failed on, is said by the offline
   * voice, named "<name> (fallback)". Absent when the serving TTS spoke the turn.
   */
  tts?: string;
}

/** CallRecord.bargeInPauses. */
export interface BargeInPauses {
  resumed: number;
  cut: number;
  /** ms */
  resumedMs: number;
  /** ms */
  maxResumedMs: number;
}

export interface CallRecord {
  id: string;
  sipCallId: string;
  direction: CallDirection;
  from: string;
  to: string;
  state: CallState;
  startedAt: string;
  answeredAt?: string;
  endedAt?: string;
  durationMs?: number;
  /** Why the call ended: remote_bye, local_bye, canceled, no_ack, rejected, error, shutdown. */
  endReason?: string;
  codec?: string;
  /**
   * The far end's latest RTCP report about our stream (RFC 3550 §6.4.1): loss fraction (0–1),
   * cumulative loss, jitter (ms), round-trip time (ms). Absent when the far end sent no RTCP.
   */
  rtcp?: { fractionLost: number; cumulativeLost: number; jitterMs: number; rttMs?: number };
  /**
   * The provider serving each stage: the configured one as described at call start, replaced by
   * "<name> (fallback)" when the conversation switched that stage to its offline fallback
   * (src/pipeline/conversation-log.ts `serving`).
   */
  providers?: { stt: string; llm: string; tts: string };
  turns: TurnRecord[];
  bargeIns: number;
  /**
   * Barge-ins that paused the agent's reply until their sound was known (src/pipeline/barge-in-pause.ts):
   * how many let it go on from the same sample (`resumed`: a backchannel, a cough) and how many were
   * confirmed and cut it (`cut`, also counted in `bargeIns`); the silence the resumed ones put in the
   * agent's audio, ms (`resumedMs` in all, `maxResumedMs` the longest). Absent before the first pause.
   */
  bargeInPauses?: BargeInPauses;
  /** What the call cost so far (see CallUsage); absent before any audio or reply. */
  usage?: CallUsage;
  /** Outbound calls: detailed status (see CallStatus). */
  status?: CallStatus;
  /** First 180/183 from the far end (outbound). */
  ringingAt?: string;
  hangupCause?: HangupCause;
  /**
   * What the agent reached: the end_call tool's `reason`. Never the agent's own last words (they say
   * nothing about what the callee did); absent when the agent did not end the call with end_call, and
   * always absent for status no_media. `outcomeSource` "last_agent_turn" is only found in records
   * written before this rule.
   */
  outcome?: string;
  outcomeSource?: "end_call" | "last_agent_turn";
  /** A transfer the agent attempted (the last one), see TransferRecord. */
  transfer?: TransferRecord;
  /** Outbound with answering-machine detection on (AMD): the classification and what was done. */
  amd?: AmdRecord;
  /**
   * Live only (not stored): true while the peer holds the call (its offer no longer lets us send,
   * RFC 3264 §8.4); set and cleared by the call's media (src/call/media.ts `renegotiate`).
   */
  onHold?: boolean;
  /** Outbound: caller-supplied key/values, stored and returned as given. */
  metadata?: Record<string, unknown>;
  /** Outbound: why we call; the agent's opening is built from it. */
  openingReason?: string;
  /** Outbound: goal put into the system instruction. */
  objective?: string;
}

/** Filter for `list()`: active calls in start order, ended ones newest first; `limit` bounds the ended calls returned. */
export interface CallListOptions {
  direction?: CallDirection;
  status?: CallStatus;
  limit?: number;
}

/**
 * Where call records live: `CallStore` (memory) or `SqliteCallStore` (src/store, survives restarts).
 * Live records are mutated in place by the call's owner, which calls `save` after changing fields and
 * `addTurn` after a turn was appended, so a persistent store can write them as they happen.
 */
export interface CallRecordStore {
  add(record: CallRecord): void;
  /** Memory and SQLite answer at once; PostgreSQL (src/store/pg-call-store.ts) asynchronously. */
  get(id: string): CallRecord | undefined | Promise<CallRecord | undefined>;
  /** Persists the current fields of a live record (state, status, timestamps, cause…). */
  save(record: CallRecord): void;
  /** Persists one turn that was just appended to a live record's `turns`. */
  addTurn(callId: string, turn: TurnRecord): void;
  /** Marks the call ended (state, endedAt, durationMs) and moves it out of the active set. */
  end(id: string, reason: string, now?: Date): void;
  readonly activeCount: number;
  list(opts?: CallListOptions): CallList | Promise<CallList>;
}

/** A store that answers reads at once (memory, SQLite). */
export interface SyncCallRecordStore extends CallRecordStore {
  get(id: string): CallRecord | undefined;
  list(opts?: CallListOptions): CallList;
}

/** `list()`'s answer: live calls, then ended ones (newest first). */
export interface CallList {
  active: CallRecord[];
  recent: CallRecord[];
}

/** Keeps active calls and a bounded list of recent ones (oldest dropped first), in memory only. */
/**
 * Marks a record ended at `now`: state "ended", `endReason` unless one is set, `endedAt`, and
 * `durationMs` from the answer (from the start when never answered) to `now`, ms.
 */
export function markEnded(r: CallRecord, reason: string, now: Date): void {
  r.state = "ended";
  r.endReason ??= reason;
  r.endedAt = now.toISOString();
  r.durationMs = now.getTime() - Date.parse(r.answeredAt ?? r.startedAt);
}

export class CallStore implements CallRecordStore {
  private readonly active = new Map<string, CallRecord>();
  private readonly recent: CallRecord[] = [];

  constructor(private readonly keepRecent = 200) {}

  add(record: CallRecord): void {
    this.active.set(record.id, record);
  }

  get(id: string): CallRecord | undefined {
    return this.active.get(id) ?? this.recent.find((r) => r.id === id);
  }

  /** Records live in memory: nothing to write. */
  save(_record: CallRecord): void {}

  /** Records live in memory: the turn is already in `record.turns`. */
  addTurn(_callId: string, _turn: TurnRecord): void {}

  /** Marks the call ended and moves it to the recent list. */
  end(id: string, reason: string, now = new Date()): void {
    const r = this.active.get(id);
    if (!r) return;
    this.active.delete(id);
    markEnded(r, reason, now);
    this.recent.unshift(r);
    if (this.recent.length > this.keepRecent) this.recent.length = this.keepRecent;
  }

  get activeCount(): number {
    return this.active.size;
  }

  list(opts: CallListOptions = {}): { active: CallRecord[]; recent: CallRecord[] } {
    const keep = (r: CallRecord) => (!opts.direction || r.direction === opts.direction) && (!opts.status || r.status === opts.status);
    const recent = this.recent.filter(keep);
    return { active: [...this.active.values()].filter(keep), recent: opts.limit ? recent.slice(0, opts.limit) : recent };
  }
}

/**
 * Answering-machine detection on an outbound call (src/pipeline/outbound-answer.ts). `result` human /
 * machine / unknown with its `reason` (amd-classifier.ts: beep, long_greeting, many_words,
 * short_greeting, no_speech, timeout), decided `afterMs` after the answer (at `decidedAt`, ISO-8601).
 * `action`: what a machine got ("hangup" or "message"; "none" when not a machine). `beep*`: the beep
 * heard (end time, Hz, ms). `messageAfter`: what the message waited for (the beep, silence after the
 * greeting, or the end of the bounded beep wait); `messageLeft`: the message was played to its end.
 */
export interface AmdRecord {
  result: "human" | "machine" | "unknown";
  reason: string;
  decidedAt: string;
  afterMs: number;
  action: "hangup" | "message" | "none";
  beepAt?: string;
  beepHz?: number;
  beepMs?: number;
  messageAfter?: "beep" | "silence" | "beep_wait_over";
  messageLeft: boolean;
}

/**
 * A transfer to a person (src/call/transfer.ts): `method` "refer" = blind transfer by REFER (RFC 3515);
 * "bridge" = the REFER was refused and the agent called the target itself and bridged the two calls
 * (TRANSFER_FALLBACK=bridge, src/call/transfer-bridge.ts; `referStatus` keeps the REFER's refusal).
 * `outcome`: "transferred" (NOTIFY sipfrag 2xx), "refused" (REFER got a non-2xx, `referStatus`),
 * "failed" (NOTIFY sipfrag 3xx–6xx, `finalStatus`; for a bridge: the target's leg was not answered,
 * `finalStatus` its SIP status when it had one), "no_notify" (no final NOTIFY in time), "bridged" (the
 * target answered and the two calls were connected), "unknown_target". Times are ISO-8601; for a bridge
 * `bridgedAt` is when the target answered and `endedAt` when the bridge (or the attempt) ended.
 */
export interface TransferRecord {
  /** The configured name (TRANSFER_TARGETS). */
  target: string;
  /** The URI it was sent to. PII. */
  uri?: string;
  method: "refer" | "bridge";
  outcome: "pending" | "transferred" | "refused" | "failed" | "no_notify" | "bridged" | "unknown_target";
  referStatus?: number;
  finalStatus?: number;
  /** Bridge: the call record id of the agent's call to the target (its `metadata.bridge_of` is this call). */
  legCallId?: string;
  /** Bridge: the target answered. */
  bridgedAt?: string;
  /** Bridge: which side hung up first. */
  endedBy?: "caller" | "target";
  /** Bridge: why the leg did not connect (SIP status and reason, no port, destination not allowed). */
  failureReason?: string;
  startedAt: string;
  endedAt?: string;
}
