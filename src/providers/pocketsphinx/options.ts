/**
 * The "pocketsphinx" SttProvider's options and typed defaults (STYLE habit 8), as for the cloud providers'
 * options.ts: what pocketsphinx-stt.ts starts each recogniser with.
 */
import { DEBIAN_MODEL_DIR } from "./model-dir.ts";
import { RECOGNISER_NICE_DEFAULT } from "./recogniser-process.ts";
import type { TurnExpectation } from "../types.ts";

/** pocketsphinx VAD settings, in 10 ms frames (its `-frate 100`). */
export interface PocketsphinxVad {
  /** Silence frames that end an utterance (`-vad_postspeech`). Default 50 (500 ms). */
  postSpeechFrames: number;
  /** Frames kept before detected speech (`-vad_prespeech`). Default 20. */
  preSpeechFrames: number;
  /** Speech frames needed to start an utterance (`-vad_startspeech`). Default 10. */
  startSpeechFrames: number;
  /** Log-ratio signal/noise threshold (`-vad_threshold`). Default 2.0. */
  threshold: number;
}

export interface PocketsphinxSttOptions {
  /** Executable name or path. Default "pocketsphinx_continuous". */
  binary?: string;
  /** Model root. Default /usr/share/pocketsphinx/model/en-us (Debian pocketsphinx-en-us). */
  modelDir?: string;
  /** Acoustic model dir. Default `${modelDir}/en-us`. */
  hmm?: string;
  /** Pronunciation dictionary. Default `${modelDir}/cmudict-en-us.dict`. */
  dict?: string;
  /** N-gram language model (ARPA or .lm.bin). Default `${modelDir}/en-us.lm.bin`, general English. */
  lm?: string;
  /** A JSGF grammar instead of the n-gram LM (`-jsgf`). */
  jsgf?: string;
  /** Start vector for live CMN; default PHONE_CMNINIT (tuned for 8 kHz phone audio). null: the model's own. */
  cmninit?: string | null;
  /** VAD / endpointing; defaults in POCKETSPHINX_DEFAULTS.vad. */
  vad?: Partial<PocketsphinxVad>;
  /**
   * pocketsphinx's spectral-subtraction noise removal (`-remove_noise`). Default false: on clean VoIP
   * audio with digital silence it made the first utterance after a long silence fail and WER worse
   * (0.260 → 0.243 without); on audio with steady line noise (−47 dBFS) it helps (0.42 → 0.38).
   */
  removeNoise?: boolean;
  /** RMS (16-bit units) of high-band noise added after upsampling (see band-fill.ts). Default 0 (off). */
  bandFill?: number;
  /**
   * Most audio (ms) held in our buffer while the recogniser is not reading; newer audio is then dropped
   * and counted (overflow rule). Default 30000. Live calls never get near it (RTF ≈ 0.3–0.5).
   */
  maxBufferedMs?: number;
  /** How long end() waits for the last result before killing the process (ms). Default 5000. */
  endTimeoutMs?: number;
  /** Extra `-option value` pairs, appended last; each replaces our own option of the same name. */
  extraArgs?: string[];
  /** Step kinds whose expected words become a JSGF grammar (`expect()`); [] = always the LM. Default ["category"]. */
  grammarFor?: readonly NonNullable<TurnExpectation["kind"]>[];
  /** Extra arguments for a step-grammar process only (e.g. `-wip`). Default STEP_GRAMMAR_ARGS. */
  grammarArgs?: string[];
  /**
   * Added to the nice value of each recogniser and its feeder (0–19; 0 = the agent's own priority), so a
   * model load (0.6 s of CPU per process) does not take the core from the thread that paces RTP
   * (recogniser-process.ts). Default POCKETSPHINX_DEFAULTS.recogniserNice.
   */
  recogniserNice?: number;
}

/**
 * Word insertion penalty for step grammars: the grammar's loop of common words otherwise fills an
 * answer with short words (bench stt-grammar.ts: "jsgf" vs "jsgf-wip").
 */
export const STEP_GRAMMAR_ARGS = ["-wip", "1e-3"];

/** Typed defaults (STYLE habit 8). VAD values are pocketsphinx's own, which suit phone turns (0.5 s). */
export const POCKETSPHINX_DEFAULTS = {
  binary: "pocketsphinx_continuous",
  modelDir: DEBIAN_MODEL_DIR,
  vad: { postSpeechFrames: 50, preSpeechFrames: 20, startSpeechFrames: 10, threshold: 2.0 } satisfies PocketsphinxVad,
  bandFill: 0,
  removeNoise: false,
  maxBufferedMs: 30_000,
  endTimeoutMs: 5000,
  grammarFor: ["category"],
  recogniserNice: RECOGNISER_NICE_DEFAULT,
} as const;
