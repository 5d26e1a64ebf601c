/**
 * The tool layer: functions the LLM may call during a call. Each tool is one file exporting a
 * `ToolDefinition` (its `spec`, sent to the model, and a pure `parseArgs` that validates what the model
 * sent). Providers only carry specs and calls; the pipeline executes them (e.g. `end_call` hangs up after
 * the goodbye has been spoken).
 */

import type { ToolSpec } from "../types";

/** A tool as the registry knows it. `A` is the validated argument shape. */
export interface ToolDefinition<A = Record<string, unknown>> {
  /** Name, description and JSON-schema parameters, exactly as sent to the model. */
  readonly spec: ToolSpec;
  /**
   * Validates the arguments the model produced (already JSON-decoded). Never throws: returns
   * `{ ok: false, error }` for malformed input so the pipeline can decide (ignore, or tell the model).
   */
  parseArgs(args: Record<string, unknown>): { ok: true; args: A } | { ok: false; error: string };
}
