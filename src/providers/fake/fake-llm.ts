/**
 * FakeLlm: replies from a list, one per `generate` call (the last one repeats when the list runs out).
 * A reply is a string (streamed as word chunks), explicit chunks (text and tool calls), or a
 * ProviderError to throw. Latency is simulated on an injected Clock: `firstTokenDelayMs` before the
 * first chunk, `chunkDelayMs` between chunks. Every request is recorded. Aborts throw ProviderError
 * "aborted".
 *
 *     const llm = new FakeLlm({ replies: ["Hello there.", [{ type: "text", text: "Bye." }, { type: "tool_call", name: "end_call", args: {} }]] });
 */
import { SystemClock, type Clock } from "../../util/clock.ts";
import { ProviderError, type LlmChunk, type LlmProvider, type LlmRequest } from "../types.ts";
import { clockSleep } from "./sleep.ts";

export type FakeReply = string | LlmChunk[] | ProviderError;

export interface FakeLlmOptions {
  replies: FakeReply[];
  /** Delay before the first chunk (ms). Default 0. */
  firstTokenDelayMs?: number;
  /** Delay between chunks (ms). Default 0. */
  chunkDelayMs?: number;
  /** Default SystemClock. */
  clock?: Clock;
}

export class FakeLlm implements LlmProvider {
  readonly name: string;
  /** Every request received, in order (history copied at call time). */
  readonly requests: LlmRequest[] = [];
  private next = 0;
  private readonly clock: Clock;

  constructor(
    private readonly o: FakeLlmOptions,
    name = "fake-llm",
  ) {
    if (o.replies.length === 0) throw new Error("FakeLlm needs at least one reply");
    this.name = name;
    this.clock = o.clock ?? new SystemClock();
  }

  async *generate(req: LlmRequest): AsyncGenerator<LlmChunk> {
    this.requests.push({ ...req, history: req.history.map((m) => ({ ...m })) });
    const reply = this.o.replies[Math.min(this.next++, this.o.replies.length - 1)]!;
    await clockSleep(this.clock, this.o.firstTokenDelayMs ?? 0, req.signal, this.name, "llm");
    if (reply instanceof ProviderError) throw reply;
    const chunks: LlmChunk[] = typeof reply === "string" ? (reply.match(/\S+\s*/g) ?? []).map((text) => ({ type: "text", text })) : reply;
    for (let i = 0; i < chunks.length; i++) {
      if (i > 0) await clockSleep(this.clock, this.o.chunkDelayMs ?? 0, req.signal, this.name, "llm");
      if (req.signal.aborted) throw new ProviderError(this.name, "llm", "aborted", `${this.name}: aborted`, false);
      yield chunks[i]!;
    }
  }
}
