/**
 * Cloud speech providers, one factory each, plus the tool registry. The wiring (src/cli) reads the
 * config names (`*_ENV`) and passes an options object; defaults are the `*_DEFAULTS` constants.
 *
 *   createDeepgramStt({ apiKey, model?, baseUrl?, endpointingMs?, … })  → SttProvider  (Deepgram live, raw WS)
 *   createGeminiLlm({ apiKey, model?, baseUrl?, … })                   → LlmProvider  (@google/genai)
 *   createOpenAiLlm({ model, baseUrl?, apiKey?, … })                   → LlmProvider  (openai package)
 *   createCartesiaTts({ apiKey, voiceId, model?, baseUrl?, … })        → TtsProvider  (Cartesia, raw WS)
 *   defaultTools()                                                    → ToolSpec[]   (end_call, send_dtmf)
 */

export { createDeepgramStt, DeepgramStt } from "./deepgram/provider";
export { DEEPGRAM_DEFAULTS, DEEPGRAM_ENV, buildListenUrl, type DeepgramOptions } from "./deepgram/options";
export type { DeepgramStream, DeepgramStreamStats } from "./deepgram/stream";

export { createGeminiLlm, GeminiLlm } from "./gemini/provider";
export { GEMINI_DEFAULTS, GEMINI_ENV, type GeminiOptions } from "./gemini/options";
export { SILENCE_PROMPT, SPEAK_FIRST_PROMPT, normalizeTurns, type TurnPrompts } from "./gemini/history";

export { createOpenAiLlm, OpenAiLlm } from "./openai/provider";
export { OPENAI_DEFAULTS, OPENAI_ENV, type OpenAiOptions } from "./openai/options";

export { createCartesiaTts, CartesiaTts } from "./cartesia/provider";
export { CARTESIA_DEFAULTS, CARTESIA_ENV, buildTtsUrl, type CartesiaEncoding, type CartesiaOptions, type FirstAudioInfo } from "./cartesia/options";
export type { CartesiaTtsStream } from "./cartesia/stream";

export { defaultTools, findTool } from "./tools/registry";
export { endCall, type EndCallArgs } from "./tools/end-call";
export { sendDtmf, type SendDtmfArgs } from "./tools/send-dtmf";
export { dtmfTurnText, dtmfOfTurn, DTMF_SYSTEM_NOTE } from "./dtmf-text";
export type { ToolDefinition } from "./tools/types";
