/**
 * `send_dtmf`: the model presses keys on the phone keypad (to get through an IVR menu). The pipeline
 * sends them as RFC 4733 telephone-events (src/rtp/dtmf-sender.ts). Arguments: `{ digits: string }`,
 * 1–32 of 0-9 * # A-D.
 */
import type { ToolDefinition } from "./types";

export interface SendDtmfArgs {
  /** Keys to press, in order, e.g. "1" or "1234#". */
  digits: string;
}

/** Most keys accepted in one call. */
export const SEND_DTMF_MAX_KEYS = 32;

export const sendDtmf: ToolDefinition<SendDtmfArgs> = {
  spec: {
    name: "send_dtmf",
    description:
      "Press keys on the phone keypad (DTMF), for example to choose an option in an automated phone menu " +
      "or to enter a number. The keys are sent after what you say in the same reply starts playing.",
    parameters: {
      type: "object",
      properties: {
        digits: { type: "string", description: "The keys to press in order: 0-9, *, #, A-D (e.g. \"1\" or \"1234#\")." },
      },
      required: ["digits"],
    },
  },
  parseArgs(args) {
    const d = args.digits;
    const s = typeof d === "number" ? String(d) : d;
    if (typeof s !== "string") return { ok: false, error: "digits must be a string" };
    const keys = s.replace(/[\s,-]/g, "").toUpperCase();
    if (!/^[0-9*#A-D]+$/.test(keys)) return { ok: false, error: "digits may contain only 0-9, *, #, A-D" };
    if (keys.length > SEND_DTMF_MAX_KEYS) return { ok: false, error: `at most ${SEND_DTMF_MAX_KEYS} keys` };
    return { ok: true, args: { digits: keys } };
  },
};
