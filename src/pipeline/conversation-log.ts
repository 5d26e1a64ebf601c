/**
 * What a conversation keeps: the LLM history (what the caller said, what the caller heard) and the call
 * record's turns, written together so they never disagree; and the provider serving each stage.
 */
import type { ChatMessage } from "../providers/types";
import type { CallRecord, CallUsage, TurnLatency, TurnRecord, TurnUsage } from "./call-record";
import { boundHistory, type BoundedHistory } from "./history-bound";

/** The record's usage totals, created at zero on first use. */
export function callUsage(record: CallRecord): CallUsage {
  return (record.usage ??= { sttAudioS: 0, llmInputTokens: 0, llmOutputTokens: 0, ttsChars: 0 });
}

export class ConversationLog {
  readonly history: ChatMessage[] = [];
  /** True once a request's history was first bounded (history-bound.ts): reported once per call. */
  private cut = false;
  /** Notifications held back (`callerTurn` with `defer`), in order; `flush()` sends them. */
  private deferred: (() => void)[] = [];

  constructor(
    private readonly record: CallRecord,
    private readonly onTurn?: (turn: TurnRecord) => void,
  ) {}

  /**
   * A caller turn, as recognised; `then` runs after its observers were told. With `defer` it is on the
   * record at once, but the observers (store, metrics, live page, traces) hear of it only at `flush()`
   * — called when the reply's first audio went out, or by the next turn added — so that their work is
   * not on the path from the caller's last word to the agent's first (AgentCall.onTurnEnd).
   */
  callerTurn(text: string, o: { defer?: boolean; then?: () => void } = {}): void {
    const turn = this.add({ speaker: "caller", text }, !o.defer);
    const notify = () => (this.onTurn?.(turn), o.then?.());
    if (o.defer) this.deferred.push(notify);
    else o.then?.();
  }

  /** Sends the notifications held back by `callerTurn({ defer })`, in order. */
  flush(): void {
    for (const n of this.deferred.splice(0)) n();
  }

  /** The caller's turn goes to the LLM history (when a reply to it starts). */
  userAsked(text: string): void {
    this.history.push({ role: "user", text });
  }

  /**
   * The history an LLM request carries: `history` bounded to `maxChars` characters (history-bound.ts;
   * Infinity = all of it); `firstCut` is true on the first request of the call that left something out.
   */
  forRequest(maxChars: number): BoundedHistory & { firstCut: boolean } {
    const b = boundHistory(this.history, maxChars);
    const firstCut = !this.cut && (b.dropped > 0 || b.cutNewest);
    if (firstCut) this.cut = true;
    return { ...b, firstCut };
  }

  /** Takes back the last `userAsked(text)` (its reply is restarted on another provider). */
  unask(text: string | null): void {
    if (text !== null && this.history.at(-1)?.role === "user") this.history.pop();
  }

  /** The caller went on talking before the reply to `text` was heard: the turn merges with what follows. */
  mergeTurn(text: string): void {
    this.flush();
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
  agentTurn(
    text: string,
    o: { interrupted?: boolean; latency?: TurnLatency; error?: string; generated?: string; usage?: TurnUsage; tts?: string } = {},
  ): void {
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
      tts: o.tts,
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
    if (notify) this.flush(); // observers hear of turns in the record's order
    const turn: TurnRecord = { index: this.record.turns.length, at: new Date().toISOString(), ...t };
    this.record.turns.push(turn);
    if (notify) this.onTurn?.(turn);
    return turn;
  }
}
