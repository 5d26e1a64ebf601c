/**
 * Tool registry: every tool the agent offers, by name. Adding a tool = one file exporting a
 * `ToolDefinition` plus one line in `ALL_TOOLS`.
 */

import type { ToolSpec } from "../types";
import { endCall } from "./end-call";
import { sendDtmf } from "./send-dtmf";
import type { ToolDefinition } from "./types";

const ALL_TOOLS: readonly ToolDefinition<any>[] = [endCall, sendDtmf];

/** Specs of the tools offered to the model on every turn (`end_call`, `send_dtmf`). Fresh array each call. */
export function defaultTools(): ToolSpec[] {
  return ALL_TOOLS.map((t) => structuredClone(t.spec));
}

/** The definition for a tool call's `name`, or undefined for a name the model made up. */
export function findTool(name: string): ToolDefinition<any> | undefined {
  return ALL_TOOLS.find((t) => t.spec.name === name);
}
