/**
 * What the agent spends, as Prometheus counters (by provider): seconds of caller audio streamed to the
 * STT, LLM input and output tokens (the providers' usage fields), characters sent to TTS.
 *
 *   voice_agent_stt_audio_seconds_total{provider}
 *   voice_agent_llm_tokens_total{provider,kind="input"|"output"}
 *   voice_agent_tts_characters_total{provider}
 */
import { Counter, type Registry } from "prom-client";

/** One turn's or one call's amounts; absent or zero amounts are not counted. */
export interface UsageAmounts {
  sttAudioS?: number;
  llmInputTokens?: number;
  llmOutputTokens?: number;
  ttsChars?: number;
}

export function usageCounters(registers: Registry[], label: (provider: string) => string) {
  const stt = new Counter({ name: "voice_agent_stt_audio_seconds_total", help: "Seconds of caller audio streamed to the STT, by provider.", labelNames: ["provider"] as const, registers });
  const llm = new Counter({ name: "voice_agent_llm_tokens_total", help: "LLM tokens by provider and kind (input, output), from the providers' usage fields.", labelNames: ["provider", "kind"] as const, registers });
  const tts = new Counter({ name: "voice_agent_tts_characters_total", help: "Characters sent to the TTS, by provider.", labelNames: ["provider"] as const, registers });
  return (u: UsageAmounts, providers: { stt: string; llm: string; tts: string } = { stt: "unknown", llm: "unknown", tts: "unknown" }): void => {
    if (u.sttAudioS) stt.inc({ provider: label(providers.stt) }, u.sttAudioS);
    if (u.llmInputTokens) llm.inc({ provider: label(providers.llm), kind: "input" }, u.llmInputTokens);
    if (u.llmOutputTokens) llm.inc({ provider: label(providers.llm), kind: "output" }, u.llmOutputTokens);
    if (u.ttsChars) tts.inc({ provider: label(providers.tts) }, u.ttsChars);
  };
}
