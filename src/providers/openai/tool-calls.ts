/**
 * Assembles streamed tool-call deltas into whole calls. In a chat-completions stream a call arrives as
 * fragments keyed by `index`: the first carries `id` and `function.name`, later ones append pieces of
 * `function.arguments` (a JSON text) (https://platform.openai.com/docs/guides/function-calling, section
 * "Streaming"). Some compatible servers (e.g. Ollama) send each call whole in one delta; that works too.
 */

import { protocolError, type ErrorSource } from "../errors";
import type { LlmChunk } from "../types";

export interface ToolCallDelta {
  index?: number;
  id?: string | null;
  function?: { name?: string | null; arguments?: string | null } | null;
}

export class ToolCallAssembler {
  private readonly calls = new Map<number, { name: string; args: string }>();

  constructor(private readonly src: ErrorSource) {}

  get pending(): number {
    return this.calls.size;
  }

  add(deltas: readonly ToolCallDelta[]): void {
    for (const d of deltas) {
      const i = d.index ?? 0;
      let c = this.calls.get(i);
      if (!c) {
        c = { name: "", args: "" };
        this.calls.set(i, c);
      }
      if (d.function?.name) c.name += d.function.name;
      if (d.function?.arguments) c.args += d.function.arguments;
    }
  }

  /**
   * The assembled calls, by index, and clears the state. Throws ProviderError "protocol" for a call
   * without a name or whose arguments are not a JSON object (empty arguments mean `{}`).
   */
  take(): LlmChunk[] {
    const out: LlmChunk[] = [];
    for (const i of [...this.calls.keys()].sort((a, b) => a - b)) {
      const c = this.calls.get(i)!;
      if (!c.name) throw protocolError(this.src, `tool call #${i} without a function name`);
      let args: unknown = {};
      if (c.args.trim()) {
        try {
          args = JSON.parse(c.args);
        } catch (e) {
          throw protocolError(this.src, `tool call ${c.name}: arguments are not JSON`, e);
        }
      }
      if (!args || typeof args !== "object" || Array.isArray(args)) {
        throw protocolError(this.src, `tool call ${c.name}: arguments are not a JSON object`);
      }
      out.push({ type: "tool_call", name: c.name, args: args as Record<string, unknown> });
    }
    this.calls.clear();
    return out;
  }
}
