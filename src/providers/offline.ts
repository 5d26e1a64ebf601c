/**
 * The offline (no cloud key) providers, in one place:
 *
 *   createPocketsphinxStt(opts?: PocketsphinxSttOptions)  → PocketsphinxStt  (SttProvider "pocketsphinx")
 *       Debian pocketsphinx_continuous, one process per call (swapped for one with a step's JSGF grammar
 *       while a scripted category step listens, grammar.ts), 8 → 16 kHz, US-English general LM.
 *   createFliteTts(opts?: FliteTtsOptions)                 → FliteTts         (TtsProvider "flite")
 *       flite WASM embedded in the binary, voice kal16 by default, 16 → 8 kHz; synthesize8k(text).
 *   createScriptedLlm(script: Script)                      → ScriptedLlm      (LlmProvider "scripted", scripted: true)
 *       NOT AI: a dialogue state machine replayed over the history (stateless, deterministic).
 *   loadScript(path?: string): Promise<Script>             embedded receptionist.json, or SCRIPT_FILE; throws ScriptError
 *   Resampler.create(fromHz, toHz): Promise<Resampler>     per-stream band-limited resampler (libsamplerate)
 */
export { createFliteTts, FliteTts, FLITE_TTS_DEFAULTS, splitForSynthesis, type FliteTtsOptions } from "./flite/flite-tts.ts";
export { FLITE_VOICES, type FliteVoice } from "./flite/engine.ts";
export { FliteWorkerPool } from "./flite/synth-pool.ts";
export {
  createPocketsphinxStt,
  PocketsphinxStt,
  POCKETSPHINX_DEFAULTS,
  type PocketsphinxSttOptions,
  type PocketsphinxVad,
} from "./pocketsphinx/pocketsphinx-stt.ts";
export { PHONE_CMNINIT, DEBIAN_MODEL_DIR, missingPocketsphinx } from "./pocketsphinx/model-dir.ts";
export { createScriptedLlm, ScriptedLlm } from "./scripted/scripted-llm.ts";
export { loadScript, outboundScript, validateScript, ScriptError, type Script, type State, type Say, type Listen } from "./scripted/script.ts";
export { replay, type DialogueTurn } from "./scripted/engine.ts";
export { Resampler, resample, concatInt16, type ResamplerOptions, type ResamplerQuality } from "../media/resample.ts";
