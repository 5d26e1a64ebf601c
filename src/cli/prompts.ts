/** System instructions for the LLM, one editable file per call direction (embedded defaults). */
import type { Config } from "./config";
import { DTMF_SYSTEM_NOTE } from "../providers/dtmf-text";
import inboundPromptFile from "../../models/prompts/inbound.md" with { type: "file" };
import outboundPromptFile from "../../models/prompts/outbound.md" with { type: "file" };

/**
 * The system instruction for a call direction: the file named by INBOUND_PROMPT_FILE, else the
 * embedded default. `{{objective}}` in the outbound prompt is replaced by the call's objective. A
 * note on key presses (how they arrive, the send_dtmf tool) is appended.
 */
export async function systemPrompt(cfg: Config, direction: "inbound" | "outbound", objective = ""): Promise<string> {
  const path = direction === "inbound" ? (cfg.inboundPromptFile ?? inboundPromptFile) : outboundPromptFile;
  const text = await Bun.file(path).text();
  return `${text.replaceAll("{{objective}}", objective || "(none given)").trimEnd()}\n\n${DTMF_SYSTEM_NOTE}\n`;
}
