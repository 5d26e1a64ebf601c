/**
 * The turn-taking, barge-in and end-of-turn variables of the configuration (src/cli/config.ts reads
 * them through `conversationConfig`), and their mapping onto the caller-speech detector's options and
 * the conversation's settings.
 * A bad value throws `ConfigError` naming the variable.
 */
import { DEFAULT_COMPLETE_SILENCE_MS } from "../pipeline/endpointing";
import { DEFAULT_PAUSE_WORDS_WAIT_MS } from "../pipeline/barge-in-pause";
import { DEFAULT_LLM_HISTORY_MAX_CHARS } from "../pipeline/history-bound";
import { DEFAULT_PAUSE_MS, type DetectorOptions } from "../pipeline/speech-detector";
import { DEFAULT_CALLER_LEVEL, DEFAULT_FIRST_TURN_FLOOR_DBFS, DEFAULT_FLOOR_ALWAYS } from "../pipeline/caller-level";
import type { ConversationSettings } from "../pipeline/agent-call";
import { bool, ConfigError, int, oneOf, str, type Env } from "./env-vars";

/** Turn-taking settings (src/pipeline/agent-call.ts, endpointing.ts, speech-detector.ts). */
export interface ConversationConfig {
  bargeIn: boolean;
  bargeInMinSpeechMs: number;
  /**
   * BARGE_IN_CALLER_MARGIN_DB: once the caller has spoken while the agent was silent, speech over the
   * agent interrupts only with a frame within this many dB of the caller's own level
   * (src/pipeline/caller-level.ts CallerLevelSettings.marginDb), dB; 0 = that rule off.
   */
  bargeInCallerMarginDb: number;
  /**
   * BARGE_IN_FIRST_TURN_FLOOR_DBFS: speech over the agent interrupts only when the peak sample of some
   * frame of it (our echo taken out) reaches this level (src/pipeline/caller-level.ts
   * DEFAULT_FIRST_TURN_FLOOR_DBFS: −23, measured there), before the caller's first words and, with
   * `bargeInFloorAfterFirstTurn`, after them too; dBFS, −60 to 0; 0 = that rule off.
   */
  bargeInFirstTurnFloorDbfs: number;
  /** BARGE_IN_FLOOR_AFTER_FIRST_TURN: the floor above also once the caller's level is known (DEFAULT_FLOOR_ALWAYS). */
  bargeInFloorAfterFirstTurn: boolean;
  backchannel: "resume" | "reply";
  /** BARGE_IN_PAUSE_WAIT_MS: a barge-in pauses the reply; a sound the VAD ended without words lets it go on this long after its onset, ms; null ("off"): cut at once. */
  bargeInPauseWaitMs: number | null;
  endOfTurnSilenceMs: number;
  endOfTurnMaxSilenceMs: number;
  /** Silence after a finished sentence once the STT answered our Finalize (END_OF_TURN_COMPLETE_SILENCE_MS), ms. */
  endOfTurnCompleteSilenceMs: number;
  /** Silence inside speech that the VAD reports as a pause, which sends Deepgram's Finalize (END_OF_TURN_PAUSE_MS), ms. */
  endOfTurnPauseMs: number;
  idlePromptMs: number;
  idlePromptsBeforeHangup: number;
  maxCallMs: number;
  /** LLM watchdog: first token due within this many ms (LLM_FIRST_TOKEN_MS). */
  llmFirstTokenMs: number;
  /** LLM watchdog: one reply's generation due within this many ms (LLM_REPLY_TIMEOUT_MS). */
  llmTotalMs: number;
  /** LLM_HISTORY_MAX_CHARS: characters of conversation one LLM request carries at most (src/pipeline/history-bound.ts). */
  llmHistoryMaxChars: number;
  /** CONTINUATION_GRACE_MS: caller speech this soon (ms) after a reply's first audio continues the caller's turn. */
  continuationGraceMs: number;
  /** NO_WORDS_RESUME_MS / NO_WORDS_MAX_WAIT_MS: after a barge-in without words, resume after this much silence / wait at most this long for a slow recogniser, ms. */
  noWordsResumeMs: number;
  noWordsMaxWaitMs: number;
  /** DTMF_TERMINATOR, DTMF_MAX_DIGITS, DTMF_INTER_DIGIT_MS: how key presses group into one caller turn (src/pipeline/digit-collector.ts). */
  digits: { terminator: string; maxDigits: number; interDigitMs: number };
}

/** DTMF_TERMINATOR: one of 0-9 * # A-D, or "none"; default "#" (src/pipeline/digit-collector.ts DEFAULT_DIGIT_COLLECTION). */
function digitsConfig(env: Env): ConversationConfig["digits"] {
  const t = str(env, "DTMF_TERMINATOR") ?? "#";
  if (t !== "none" && !/^[0-9*#A-D]$/.test(t)) throw new ConfigError("DTMF_TERMINATOR", `expected one key (0-9, *, #, A-D) or "none", got "${t}"`);
  return {
    terminator: t === "none" ? "" : t,
    maxDigits: int(env, "DTMF_MAX_DIGITS", 0, 0, 64),
    interDigitMs: int(env, "DTMF_INTER_DIGIT_MS", 2000, 200, 60_000),
  };
}

/** BARGE_IN_PAUSE_WAIT_MS: "off", or 0–2000 ms (barge-in-pause.ts PAUSE_MAX_MS); default src/pipeline/barge-in-pause.ts DEFAULT_PAUSE_WORDS_WAIT_MS (900). */
function pauseWait(env: Env): number | null {
  const v = str(env, "BARGE_IN_PAUSE_WAIT_MS");
  if (v === "off") return null;
  if (v !== undefined && (!/^\d+$/.test(v) || Number(v) > 2000)) throw new ConfigError("BARGE_IN_PAUSE_WAIT_MS", `expected "off" or an integer from 0 to 2000, got "${v}"`);
  return v === undefined ? DEFAULT_PAUSE_WORDS_WAIT_MS : Number(v);
}

export function conversationConfig(env: Env): ConversationConfig {
  const endOfTurnSilenceMs = int(env, "END_OF_TURN_SILENCE_MS", 900, 100, 10_000);
  const endOfTurnMaxSilenceMs = int(env, "END_OF_TURN_MAX_SILENCE_MS", Math.max(1600, endOfTurnSilenceMs), 100, 30_000);
  if (endOfTurnMaxSilenceMs < endOfTurnSilenceMs)
    throw new ConfigError("END_OF_TURN_MAX_SILENCE_MS", `must be at least END_OF_TURN_SILENCE_MS (${endOfTurnSilenceMs}), got ${endOfTurnMaxSilenceMs}`);
  // src/pipeline/endpointing.ts DEFAULT_COMPLETE_SILENCE_MS and src/pipeline/speech-detector.ts DEFAULT_PAUSE_MS (measured there).
  const endOfTurnCompleteSilenceMs = int(env, "END_OF_TURN_COMPLETE_SILENCE_MS", Math.min(DEFAULT_COMPLETE_SILENCE_MS, endOfTurnSilenceMs), 0, 10_000);
  if (endOfTurnCompleteSilenceMs > endOfTurnSilenceMs)
    throw new ConfigError("END_OF_TURN_COMPLETE_SILENCE_MS", `must be at most END_OF_TURN_SILENCE_MS (${endOfTurnSilenceMs}), got ${endOfTurnCompleteSilenceMs}`);
  const endOfTurnPauseMs = int(env, "END_OF_TURN_PAUSE_MS", Math.min(DEFAULT_PAUSE_MS, endOfTurnSilenceMs), 32, 10_000);
  if (endOfTurnPauseMs > endOfTurnSilenceMs)
    throw new ConfigError("END_OF_TURN_PAUSE_MS", `must be at most END_OF_TURN_SILENCE_MS (${endOfTurnSilenceMs}), got ${endOfTurnPauseMs}`);
  // src/pipeline/conversation-settings.ts DEFAULT_CONVERSATION (200 ms, 1.5 s, 6 s; measured where each is defined).
  const noWordsResumeMs = int(env, "NO_WORDS_RESUME_MS", 1500, 200, 15_000);
  const noWordsMaxWaitMs = int(env, "NO_WORDS_MAX_WAIT_MS", Math.max(6000, noWordsResumeMs), 200, 15_000);
  if (noWordsMaxWaitMs < noWordsResumeMs)
    throw new ConfigError("NO_WORDS_MAX_WAIT_MS", `must be at least NO_WORDS_RESUME_MS (${noWordsResumeMs}), got ${noWordsMaxWaitMs}`);
  return {
    bargeIn: bool(env, "BARGE_IN", true),
    // 80 ms: src/pipeline/speech-detector.ts DEFAULT_BARGE_IN_MIN_SPEECH_MS (measured there).
    bargeInMinSpeechMs: int(env, "BARGE_IN_MIN_SPEECH_MS", 80, 20, 2000),
    // 4 dB: src/pipeline/caller-level.ts DEFAULT_CALLER_LEVEL.marginDb (measured there).
    bargeInCallerMarginDb: int(env, "BARGE_IN_CALLER_MARGIN_DB", DEFAULT_CALLER_LEVEL.marginDb, 0, 20),
    // src/pipeline/caller-level.ts DEFAULT_FIRST_TURN_FLOOR_DBFS (measured there; null there = 0 here).
    bargeInFirstTurnFloorDbfs: int(env, "BARGE_IN_FIRST_TURN_FLOOR_DBFS", DEFAULT_FIRST_TURN_FLOOR_DBFS ?? 0, -60, 0),
    bargeInFloorAfterFirstTurn: bool(env, "BARGE_IN_FLOOR_AFTER_FIRST_TURN", DEFAULT_FLOOR_ALWAYS),
    backchannel: oneOf(env, "BACKCHANNEL_MODE", ["resume", "reply"] as const, "resume"),
    // src/pipeline/barge-in-pause.ts DEFAULT_PAUSE_WORDS_WAIT_MS (900 ms, measured there); "off": cut at the onset.
    bargeInPauseWaitMs: pauseWait(env),
    endOfTurnSilenceMs,
    endOfTurnMaxSilenceMs,
    endOfTurnCompleteSilenceMs,
    endOfTurnPauseMs,
    continuationGraceMs: int(env, "CONTINUATION_GRACE_MS", 200, 0, 2000),
    noWordsResumeMs,
    noWordsMaxWaitMs,
    idlePromptMs: int(env, "IDLE_PROMPT_S", 10, 1, 3600) * 1000,
    idlePromptsBeforeHangup: int(env, "IDLE_PROMPTS", 2, 0, 20),
    maxCallMs: int(env, "MAX_CALL_S", 1800, 10, 86_400) * 1000,
    // src/pipeline/conversation-settings.ts DEFAULT_CONVERSATION (3 s / 20 s): no first token → apology.
    llmFirstTokenMs: int(env, "LLM_FIRST_TOKEN_MS", 3000, 200, 120_000),
    llmTotalMs: int(env, "LLM_REPLY_TIMEOUT_MS", 20_000, 1000, 600_000),
    // src/pipeline/history-bound.ts DEFAULT_LLM_HISTORY_MAX_CHARS (12,000: a 10-minute conversation fits);
    // at least a few sentences, at most ~1 M tokens (Gemini's context window) of text.
    llmHistoryMaxChars: int(env, "LLM_HISTORY_MAX_CHARS", DEFAULT_LLM_HISTORY_MAX_CHARS, 200, 4_000_000),
    digits: digitsConfig(env),
  };
}

/** The caller-speech detector's options the configuration sets (src/call/media.ts passes them to SileroSpeechDetector). */
export type ConfiguredDetectorOptions = Pick<DetectorOptions, "bargeInMinSpeechMs" | "pauseMs" | "callerLevel" | "firstTurnFloorDbfs" | "floorAlways">;

/**
 * Maps the configuration's barge-in variables onto the detector's options; margin 0 turns the
 * caller-level rule off (`callerLevel: null`), floor 0 the first-turn floor (`firstTurnFloorDbfs: null`).
 */
export function detectorOptions(c: ConversationConfig): ConfiguredDetectorOptions {
  return {
    bargeInMinSpeechMs: c.bargeInMinSpeechMs,
    pauseMs: c.endOfTurnPauseMs,
    callerLevel: c.bargeInCallerMarginDb === 0 ? null : { marginDb: c.bargeInCallerMarginDb },
    firstTurnFloorDbfs: c.bargeInFirstTurnFloorDbfs === 0 ? null : c.bargeInFirstTurnFloorDbfs,
    floorAlways: c.bargeInFloorAfterFirstTurn,
  };
}

/** Maps the configuration's turn-taking variables onto the conversation's settings. */
export function conversationSettings(c: ConversationConfig): Partial<ConversationSettings> {
  return {
    bargeIn: c.bargeIn,
    backchannel: c.backchannel,
    bargeInPauseWaitMs: c.bargeInPauseWaitMs,
    continuationGraceMs: c.continuationGraceMs,
    noWordsResumeMs: c.noWordsResumeMs,
    noWordsMaxWaitMs: c.noWordsMaxWaitMs,
    endpointing: { minSilenceMs: c.endOfTurnSilenceMs, maxSilenceMs: c.endOfTurnMaxSilenceMs, completeSilenceMs: c.endOfTurnCompleteSilenceMs },
    idlePromptMs: c.idlePromptMs,
    idlePromptsBeforeHangup: c.idlePromptsBeforeHangup,
    maxCallMs: c.maxCallMs,
    llmFirstTokenMs: c.llmFirstTokenMs,
    llmTotalMs: c.llmTotalMs,
    llmHistoryMaxChars: c.llmHistoryMaxChars,
    digits: { ...c.digits },
  };
}
