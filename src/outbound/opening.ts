/**
 * The first thing the agent says on an outbound call, and the LLM seam that speaks it and notes the
 * outcome.
 *
 * `OpeningLlm` wraps the configured LlmProvider: the first request with an empty history (AgentCall's
 * "speak first" reply) is answered with the fixed opening text, without calling the model, so the callee
 * hears the same words whatever the provider (and the scripted offline LLM needs no special script).
 * Every later request goes to the model, whose history then starts with the opening as the agent's own
 * turn. On the way through it reads the `end_call` tool's `reason` (src/providers/tools/end-call.ts): that
 * is the outcome the agent reached.
 */
import type { LlmChunk, LlmProvider, LlmRequest } from "../providers/types";
import { END_CALL_REASON_MAX } from "../providers/tools/end-call";

/** Longest opening_reason accepted (characters). */
export const OPENING_REASON_MAX = 500;

const CONNECTIVE = /^(about|regarding|concerning|to|because|on behalf of|with|from|for|as)\b/i;
const SENTENCE = /^(hello|hi|good (morning|afternoon|evening)|this is|i am|i'm|we are|we're|my name)\b/i;

/**
 * Builds the opening from `opening_reason`:
 * - a reason that is already an opening sentence ("Hi, this is Ann from Acme …") is spoken as given;
 * - one starting with a connective ("about …", "to confirm …", "regarding …") → "Hello! I'm calling <reason>.";
 * - anything else ("your order 1234") → "Hello! I'm calling about <reason>.".
 * A question follows so the callee knows it is their turn: "Do you have a moment?".
 */
export function buildOpening(openingReason: string): string {
  const reason = openingReason.replace(/\s+/g, " ").trim().replace(/[.!?,;:\s]+$/, "");
  if (!reason) return "Hello! Do you have a moment?";
  if (SENTENCE.test(reason)) return `${reason}.`;
  const phrase = CONNECTIVE.test(reason) ? reason.replace(CONNECTIVE, (w) => w.toLowerCase()) : `about ${reason}`;
  return `Hello! I'm calling ${phrase}. Do you have a moment?`;
}

/**
 * The message left on an answering machine (AMD=message) when the request gave no `voicemail_message`:
 * the opening's first sentence, built from `opening_reason` as in `buildOpening`, then a request to call
 * back — never the `objective`, which is an instruction to the agent, not words for the callee.
 * "your order 1234" → "Hello! I'm calling about your order 1234. Please call us back when you can. Thank you, goodbye."
 */
export function buildVoicemailMessage(openingReason: string): string {
  const first = buildOpening(openingReason).replace(/ Do you have a moment\?$/, "");
  return `${first} Please call us back when you can. Thank you, goodbye.`;
}

/** An LlmProvider that speaks `opening` first, then delegates; records the end_call reason. */
export class OpeningLlm implements LlmProvider {
  readonly name: string;
  readonly scripted: boolean | undefined;
  private openingSpoken = false;
  /** The `reason` of the last end_call the model made, trimmed and cut to END_CALL_REASON_MAX. */
  endCallReason: string | undefined;

  constructor(
    private readonly inner: LlmProvider,
    readonly opening: string,
  ) {
    this.name = inner.name;
    this.scripted = inner.scripted;
  }

  async *generate(req: LlmRequest): AsyncIterable<LlmChunk> {
    if (!this.openingSpoken && req.history.length === 0) {
      this.openingSpoken = true;
      yield { type: "text", text: this.opening };
      return;
    }
    for await (const chunk of this.inner.generate(req)) {
      if (chunk.type === "tool_call" && chunk.name === "end_call") {
        const r = chunk.args?.reason;
        if (typeof r === "string" && r.trim()) this.endCallReason = r.trim().slice(0, END_CALL_REASON_MAX);
      }
      yield chunk;
    }
  }
}
