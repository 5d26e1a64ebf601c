/**
 * What a conversation keeps: the LLM history (what the caller said, what the caller heard) and the call
 * record's turns, written together so they never disagree; and the provider serving each stage.
 */
import type { ChatMessage } from "../providers/types";
import type { CallRecord, CallUsage, TurnLatency, TurnRecord, TurnUsage } from "./call-record";

/** The record's usage totals, created at zero on first use. */
export function callUsage(record: CallRecord): CallUsage {
  return (record.usage ??= { sttAudioS: 0, llmInputTokens: 0, llmOutputTokens: 0, ttsChars: 0 });
}

export class ConversationLog {
  readonly history: ChatMessage[] = [];

  constructor(
    private readonly record: CallRecord,
    private readonly onTurn?: (turn: TurnRecord) => void,
  ) {}

  /**
   * A caller turn, as recognised. With `notify: false` it is on the record at once but its observers
   * hear of it only through the returned function (the reply's LLM request goes out first: see
   * AgentCall.onTurnEnd).
   */
  callerTurn(text: string, o: { notify?: boolean } = {}): () => void {
    const turn = this.add({ speaker: "caller", text }, o.notify ?? true);
    return () => this.onTurn?.(turn);
  }

  /** The caller's turn goes to the LLM history (when a reply to it starts). */
  userAsked(text: string): void {
    this.history.push({ role: "user", text });
  }

  /** Takes back the last `userAsked(text)` (its reply is restarted on another provider). */
  unask(text: string | null): void {
    if (text !== null && this.history.at(-1)?.role === "user") this.history.pop();
  }

  /** The caller went on talking before the reply to `text` was heard: the turn merges with what follows. */
  mergeTurn(text: string): void {
    const last = this.history.at(-1);
    if (last?.role === "user" && last.text === text) this.history.pop();
    const turns = this.record.turns;
    const t = turns.at(-1);
    if (t?.speaker === "caller" && t.text === text) turns.pop();
  }

  /**
   * An agent reply: `text` is what the caller heard (all of it unless `interrupted`); `generated` the
   * whole reply when it differs.
   */
  agentTurn(text: string, o: { interrupted?: boolean; latency?: TurnLatency; error?: string; generated?: string; usage?: TurnUsage } = {}): void {
    const u = o.usage && Object.keys(o.usage).length > 0 ? { ...o.usage } : undefined;
    if (u) {
      const total = callUsage(this.record);
      total.llmInputTokens += u.llmInputTokens ?? 0;
      total.llmOutputTokens += u.llmOutputTokens ?? 0;
      total.ttsChars += u.ttsChars ?? 0;
    }
    if (text || !o.interrupted) this.history.push({ role: "assistant", text: text || "" });
    this.add({
      speaker: "agent",
      text,
      interrupted: o.interrupted || undefined,
      generatedText: o.generated && o.generated !== text ? o.generated : undefined,
      latency: o.latency,
      usage: u,
      error: o.error,
    });
  }

  /**
   * The record names the provider that actually serves each stage (after a fallback: the offline one);
   * `configured` fills the stages not switched yet when the record has no entry.
   */
  serving(stage: "stt" | "llm" | "tts", name: string, configured: { stt: string; llm: string; tts: string }): void {
    this.record.providers = { ...(this.record.providers ?? configured), [stage]: name };
  }

  private add(t: Omit<TurnRecord, "index" | "at">, notify = true): TurnRecord {
    const turn: TurnRecord = { index: this.record.turns.length, at: new Date().toISOString(), ...t };
    this.record.turns.push(turn);
    if (notify) this.onTurn?.(turn);
    return turn;
  }
}
