/**
 * LlmProvider "scripted" (`scripted: true`): NOT a language model. It replies by replaying a dialogue
 * script (script.ts, engine.ts) over the request's history, so it is stateless across calls and turns
 * and deterministic. The `system` instruction is ignored.
 *
 * The reply streams as word chunks ("Hello, " "thank " "you " …, concatenating to the exact line),
 * with a macrotask between chunks so an abort lands before the next word. When the state reached ends
 * the call, a `tool_call` (default `end_call`, args from the script) follows the text — if the request
 * offers that tool, or offers no tools at all.
 */
import { abortedError } from "../errors.ts";
import type { ChatMessage, LlmChunk, LlmProvider, LlmRequest, TurnExpectation } from "../types.ts";
import { expectationOf, replay, type DialogueTurn } from "./engine.ts";
import type { Script } from "./script.ts";

const SRC = { provider: "scripted", kind: "llm" } as const;

/** Splits a line into word chunks that concatenate back to it exactly (each keeps its trailing space). */
export function wordChunks(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

export class ScriptedLlm implements LlmProvider {
  readonly name = "scripted";
  readonly scripted = true;

  constructor(readonly script: Script) {}

  /** The turn the next `generate` would produce for `history` (for tests and logs). */
  peek(history: LlmRequest["history"]): DialogueTurn {
    return replay(this.script, history);
  }

  /** What the step the reply to `history` reaches expects of the caller (engine.ts expectationOf). */
  expectation(history: readonly ChatMessage[]): TurnExpectation | undefined {
    return expectationOf(this.script, history);
  }

  /**
   * Streams the scripted reply.
   * @throws ProviderError "aborted" when `req.signal` aborts (before or between chunks).
   */
  async *generate(req: LlmRequest): AsyncGenerator<LlmChunk> {
    if (req.signal.aborted) throw abortedError(SRC);
    const turn = replay(this.script, req.history);
    for (const w of wordChunks(turn.text)) {
      await new Promise<void>((r) => setImmediate(r));
      if (req.signal.aborted) throw abortedError(SRC);
      yield { type: "text", text: w };
    }
    if (turn.end && (req.tools.length === 0 || req.tools.some((t) => t.name === turn.end!.tool))) {
      if (req.signal.aborted) throw abortedError(SRC);
      yield { type: "tool_call", name: turn.end.tool, args: { ...turn.end.args } };
    }
  }
}

/** Creates the "scripted" LlmProvider for a validated script (from `loadScript`). */
export function createScriptedLlm(script: Script): ScriptedLlm {
  return new ScriptedLlm(script);
}
