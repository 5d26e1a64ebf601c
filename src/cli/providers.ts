/**
 * Chooses and builds the providers for each stage from the configuration: the cloud provider when its
 * key is set (or `*_PROVIDER` forces it), else the offline default.
 */
import type { Config } from "./config";
import type { LlmProvider, SttProvider, TtsProvider } from "../providers/types";
import { createCartesiaTts, createDeepgramStt, createGeminiLlm, createOpenAiLlm } from "../providers/cloud";
import { createFliteTts, createPocketsphinxStt, createScriptedLlm, FliteWorkerPool, loadScript, missingPocketsphinx, type FliteTts } from "../providers/offline";

export interface Providers {
  stt: SttProvider;
  llm: LlmProvider;
  tts: TtsProvider;
  /** Offline providers used when a cloud one fails (apology, call-start fallback). */
  fallback: { stt: SttProvider; llm: LlmProvider; tts: TtsProvider };
  /** The offline TTS (flite): `tts` when no cloud TTS is configured, else `fallback.tts`. */
  flite: FliteTts;
  /** One line per stage for the start-up banner and health output. */
  describe: { stt: string; llm: string; tts: string };
  /** flite's synthesis workers (none with FLITE_WORKERS=0); started at start-up when flite is the TTS, else on first use. */
  flitePool?: FliteWorkerPool;
  /** Why the offline recogniser (the STT, or the cloud STT's fallback) cannot start here; undefined when it can. */
  offlineSttMissing?: string;
}

/** @throws Error naming SCRIPT_FILE when the dialogue file is invalid. */
export async function createProviders(cfg: Config): Promise<Providers> {
  const offlineStt = createPocketsphinxStt({ grammarFor: cfg.sttStepGrammar, recogniserNice: cfg.sttRecogniserNice });
  const flitePool = cfg.fliteWorkers > 0 ? new FliteWorkerPool(cfg.fliteWorkers) : undefined;
  const offlineTts = createFliteTts({ pool: flitePool });
  const stt =
    cfg.stt === "deepgram"
      ? createDeepgramStt({ apiKey: cfg.deepgram.apiKey!, model: cfg.deepgram.model, baseUrl: cfg.deepgram.baseUrl, chunkMs: cfg.deepgram.chunkMs })
      : offlineStt;
  const tts =
    cfg.tts === "cartesia"
      ? createCartesiaTts({
          apiKey: cfg.cartesia.apiKey!,
          voiceId: cfg.cartesia.voiceId,
          model: cfg.cartesia.model,
          baseUrl: cfg.cartesia.baseUrl,
        })
      : offlineTts;
  const offlineLlm = createScriptedLlm(await loadScript(cfg.scriptFile));
  let llm: LlmProvider;
  if (cfg.llm === "gemini") llm = createGeminiLlm({ apiKey: cfg.gemini.apiKey!, model: cfg.gemini.model, baseUrl: cfg.gemini.baseUrl });
  else if (cfg.llm === "openai")
    llm = createOpenAiLlm({ model: cfg.openai.model!, baseUrl: cfg.openai.baseUrl, apiKey: cfg.openai.apiKey });
  else llm = offlineLlm;
  return {
    stt,
    llm,
    tts,
    fallback: { stt: offlineStt, llm: offlineLlm, tts: offlineTts },
    flite: offlineTts,
    flitePool,
    offlineSttMissing: missingPocketsphinx(),
    describe: {
      stt: cfg.stt === "deepgram" ? `deepgram (${cfg.deepgram.model})` : "pocketsphinx (offline)",
      llm:
        cfg.llm === "gemini"
          ? `gemini (${cfg.gemini.model})`
          : cfg.llm === "openai"
            ? `openai-compatible (${cfg.openai.model} at ${cfg.openai.baseUrl})`
            : `scripted (offline dialogue script${cfg.scriptFile ? ` ${cfg.scriptFile}` : ""}, not AI)`,
      tts: cfg.tts === "cartesia" ? `cartesia (${cfg.cartesia.model})` : "flite (offline)",
    },
  };
}
