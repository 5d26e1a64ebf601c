/**
 * What we keep about a call: parties, state, timestamps, turns with their text and per-turn latency.
 * Served by `GET /calls` and `GET /calls/:id`. Times are ISO-8601 strings; durations and latencies ms.
 */
export type CallDirection = "inbound" | "outbound";
export type CallState = "ringing" | "connected" | "ended";

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
  /** Agent turns that failed and were replaced by the apology. */
  error?: string;
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
  providers?: { stt: string; llm: string; tts: string };
  turns: TurnRecord[];
  bargeIns: number;
}

/** Keeps active calls and a bounded list of recent ones (oldest dropped first). */
export class CallStore {
  private readonly active = new Map<string, CallRecord>();
  private readonly recent: CallRecord[] = [];

  constructor(private readonly keepRecent = 200) {}

  add(record: CallRecord): void {
    this.active.set(record.id, record);
  }

  get(id: string): CallRecord | undefined {
    return this.active.get(id) ?? this.recent.find((r) => r.id === id);
  }

  /** Marks the call ended and moves it to the recent list. */
  end(id: string, reason: string, now = new Date()): void {
    const r = this.active.get(id);
    if (!r) return;
    this.active.delete(id);
    r.state = "ended";
    r.endReason ??= reason;
    r.endedAt = now.toISOString();
    r.durationMs = now.getTime() - Date.parse(r.answeredAt ?? r.startedAt);
    this.recent.unshift(r);
    if (this.recent.length > this.keepRecent) this.recent.length = this.keepRecent;
  }

  get activeCount(): number {
    return this.active.size;
  }

  list(): { active: CallRecord[]; recent: CallRecord[] } {
    return { active: [...this.active.values()], recent: [...this.recent] };
  }
}
