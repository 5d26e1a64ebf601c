/**
 * `end_call`: the model asks to hang up. The pipeline executes it after the audio already queued (the
 * goodbye) has been played, then sends BYE. Arguments: `{ reason?: string }` (free text, for logs only).
 */

import type { ToolDefinition } from "./types";

export interface EndCallArgs {
  /** Why the call ends, in the model's words (logged, never spoken). */
  reason?: string;
}

/** Longest `reason` kept (characters); longer text is cut. */
export const END_CALL_REASON_MAX = 200;

export const endCall: ToolDefinition<EndCallArgs> = {
  spec: {
    name: "end_call",
    description:
      "Hang up the phone call. Use it only when the conversation is finished (the caller said goodbye, " +
      "asked to end the call, or there is nothing more to do). Before calling it, say a short goodbye to " +
      "the caller in the same reply: the call ends right after your last words are spoken.",
    parameters: {
      type: "object",
      properties: {
        reason: { type: "string", description: "Short reason for ending the call (for the logs)." },
      },
      required: [],
    },
  },
  parseArgs(args) {
    const r = args.reason;
    if (r === undefined || r === null) return { ok: true, args: {} };
    if (typeof r !== "string") return { ok: false, error: "reason must be a string" };
    return { ok: true, args: { reason: r.slice(0, END_CALL_REASON_MAX) } };
  },
};
