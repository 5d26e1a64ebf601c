/**
 * `transfer_call`: the model hands the caller to a person, one of the configured targets
 * (TRANSFER_TARGETS). The pipeline lets the reply's line play, then transfers (src/call/transfer.ts);
 * on failure the caller hears so and the conversation goes on. Arguments: `{ target: string }`.
 */
import type { ToolDefinition } from "./types";
import type { ToolSpec } from "../types";

export interface TransferCallArgs {
  /** A configured target name. */
  target: string;
}

/** The tool's spec for these target names (the model is told which exist, as an enum). */
export function transferCallSpec(targets: readonly string[]): ToolSpec {
  return {
    name: "transfer_call",
    description:
      "Transfer the caller to a person. Use it when the caller asks for a person or needs something you " +
      `cannot do. Available targets: ${targets.join(", ")}. In the same reply, first tell the caller you are ` +
      "transferring them (one short sentence); the transfer starts once that has been said.",
    parameters: {
      type: "object",
      properties: { target: { type: "string", enum: [...targets], description: "Who to transfer to." } },
      required: ["target"],
    },
  };
}

/** The tool with its spec for `targets`; parseArgs accepts only those names (case-insensitive). */
export function transferCall(targets: readonly string[]): ToolDefinition<TransferCallArgs> {
  return {
    spec: transferCallSpec(targets),
    parseArgs(args) {
      const t = args.target;
      if (typeof t !== "string") return { ok: false, error: "target must be a string" };
      const hit = targets.find((n) => n.toLowerCase() === t.trim().toLowerCase());
      return hit ? { ok: true, args: { target: hit } } : { ok: false, error: `unknown target "${t}" (have ${targets.join(", ")})` };
    },
  };
}
