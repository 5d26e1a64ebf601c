/** The conversation's settings, its dependencies, and the speech-detector port it listens to. */
import type { AudioOutput } from "../media/audio-output";
import type { LlmProvider, SttProvider, ToolSpec, TtsProvider } from "../providers/types";
import type { Clock } from "../util/clock";
import type { Logger } from "../util/log";
import type { CallRecord, TurnRecord } from "./call-record";
import { DEFAULT_ENDPOINTING, type EndpointingSettings } from "./endpointing";
import { DEFAULT_DIGIT_COLLECTION, type DigitCollectorSettings } from "./digit-collector";
import type { OutboundAnswerSettings } from "./outbound-answer";
import { CONTINUATION_GRACE_MS } from "./turn-taking";
import { DEFAULT_LLM_HISTORY_MAX_CHARS } from "./history-bound";

/** What a speech detector reports. */
export interface SpeechEvents {
  /**
   * Caller speech confirmed (minimum duration reached). `onsetAgoMs`: how long ago (ms) the speech
   * began, i.e. the confirmation delay (default 0).
   */
  onSpeechStart(onsetAgoMs?: number): void;
  /** Caller speech ended; `silenceMs` of silence have already passed since the last speech frame. */
  onSpeechEnd(silenceMs: number): void;
  /**
   * A pause inside caller speech (`silenceMs` of silence so far); the speech may go on (a new
   * `onSpeechStart`) or end (`onSpeechEnd`). Lets endpointing decide before the segment ends.
   */
  onSpeechPause?(silenceMs: number): void;
  /** During a pause, speech-like sound not (yet) confirmed as speech: hold the end-of-turn decision. */
  onSpeechActivity?(): void;
}

/** Caller speech detection (Silero VAD + segmenter), fed one 20 ms frame at a time. */
export interface SpeechDetector {
  listen(events: SpeechEvents): void;
  /** Feeds one 160-sample frame (8 kHz). Events arrive later through `listen`'s callbacks. */
  push(pcm: Int16Array): void;
  /** The agent is (not) playing audio: lets the detector tighten its rule against echo. */
  setAgentSpeaking?(speaking: boolean): void;
  /**
   * The last speech heard while the agent talked was held as background (src/pipeline/caller-level.ts:
   * under the caller's own level, or the first-turn floor), and no caller speech was reported since.
   */
  readonly heldBackground?: boolean;
  close?(): void;
}

export interface ConversationSettings {
  endpointing: EndpointingSettings;
  /** Caller speech during agent audio interrupts it. */
  bargeIn: boolean;
  /** Silence (ms) after the agent finished before asking whether the caller is still there. */
  idlePromptMs: number;
  /** After this many unanswered prompts the agent says goodbye and hangs up. */
  idlePromptsBeforeHangup: number;
  /** Maximum call duration (ms); then a polite goodbye and hang-up. */
  maxCallMs: number;
  idlePromptText: string;
  idleGoodbyeText: string;
  maxDurationText: string;
  apologyText: string;
  shutdownText: string;
  /** Said before hanging up when speech recognition failed for good on the call (STT restarts exhausted). */
  sttLostText: string;
  /**
   * After a barge-in whose words are only a backchannel ("uh-huh", "okay", "right"): "resume" goes on
   * with the rest of the interrupted reply, "reply" treats it as a new turn.
   */
  backchannel: "resume" | "reply";
  /**
   * Caller speech that begins at most this long (ms) after a reply's first audio continues the caller's
   * turn (the reply is abandoned, the turns merge) instead of interrupting it (turn-taking.ts
   * CONTINUATION_GRACE_MS, the default).
   */
  continuationGraceMs: number;
  /**
   * Barge-in pauses the reply instead of cutting it, until the caller's sound is known to be an
   * interruption (src/pipeline/barge-in-pause.ts): a sound the VAD ended without words lets the reply
   * go on this many ms after its onset (BARGE_IN_PAUSE_WAIT_MS, default there DEFAULT_PAUSE_WORDS_WAIT_MS).
   * null: a barge-in cuts at once (the default here, so scripted tests see the cut at the onset).
   */
  bargeInPauseWaitMs: number | null;
  /** After a barge-in, if no words arrive within this many ms of the caller's speech ending, resume. */
  noWordsResumeMs: number;
  /**
   * After a barge-in by speech long enough to be words (turn-taking.ts LIKELY_WORDS_SPEECH_MS) that the
   * recogniser has not answered yet, the resume waits for it up to this many ms of the caller's silence;
   * words arriving later still become a caller turn (the resumed rest is cut by it).
   */
  noWordsMaxWaitMs: number;
  /**
   * LLM watchdog (src/pipeline/llm-deadline.ts): no first token within this many ms → the reply fails
   * with a retryable timeout and the caller hears the apology.
   */
  llmFirstTokenMs: number;
  /** LLM watchdog: the whole generation of one reply must end within this many ms. */
  llmTotalMs: number;
  /**
   * Characters of conversation one LLM request carries at most (history-bound.ts; LLM_HISTORY_MAX_CHARS):
   * the oldest turns are dropped whole past it. Not applied to a scripted LLM (`LlmProvider.scripted`:
   * its dialogue state is a replay of every caller turn, and nothing leaves the machine).
   */
  llmHistoryMaxChars: number;
  /** Said when a transfer to a person failed (the conversation goes on). */
  transferFailedText: string;
  /** Said when the trunk refused the REFER and the agent calls the target to bridge them (TRANSFER_FALLBACK=bridge). */
  transferBridgingText: string;
  /** How key presses are grouped into one caller input (digit-collector.ts). */
  digits: DigitCollectorSettings;
}

export const DEFAULT_CONVERSATION: ConversationSettings = {
  endpointing: DEFAULT_ENDPOINTING,
  bargeIn: true,
  idlePromptMs: 10_000,
  idlePromptsBeforeHangup: 2,
  maxCallMs: 30 * 60_000,
  idlePromptText: "Are you still there?",
  idleGoodbyeText: "I have not heard from you, so I will end the call now. Goodbye.",
  maxDurationText: "We have reached the time limit for this call. Thank you for calling. Goodbye.",
  apologyText: "Sorry, I had a problem just now. Could you say that again?",
  shutdownText: "I am sorry, I have to end the call now. Please call again later. Goodbye.",
  sttLostText: "I am sorry, I cannot hear you properly right now. Please call again later. Goodbye.",
  backchannel: "resume",
  bargeInPauseWaitMs: null,
  continuationGraceMs: CONTINUATION_GRACE_MS,
  noWordsResumeMs: 1500,
  noWordsMaxWaitMs: 6000,
  llmFirstTokenMs: 3000,
  llmTotalMs: 20_000,
  llmHistoryMaxChars: DEFAULT_LLM_HISTORY_MAX_CHARS,
  digits: DEFAULT_DIGIT_COLLECTION,
  transferFailedText: "I am sorry, I could not transfer you right now. Is there anything else I can help you with?",
  transferBridgingText: "Please hold while I connect you.",
};

export interface AgentCallDeps {
  record: CallRecord;
  clock: Clock;
  log: Logger;
  stt: SttProvider;
  llm: LlmProvider;
  tts: TtsProvider;
  /** Used to speak the apology when the main TTS failed. */
  fallbackTts?: TtsProvider;
  /** Used when the main LLM fails at call start (for the rest of the call). */
  fallbackLlm?: LlmProvider;
  /** Used when the main STT cannot be opened (for the rest of the call). */
  fallbackStt?: SttProvider;
  /** Every provider failure (metrics). */
  onProviderError?: (err: unknown) => void;
  system: string;
  tools: ToolSpec[];
  /** Where reply audio goes: the call's RTP playout (src/media/playout.ts) through the audio-output seam. */
  output: AudioOutput;
  vad?: SpeechDetector;
  codec: "PCMU" | "PCMA";
  settings?: Partial<ConversationSettings>;
  /**
   * Sends DTMF keys (RFC 4733) on the call's RTP (the send_dtmf tool); false when the far end did not
   * negotiate telephone-event. Absent: the tool is not available.
   */
  sendDtmf?: (keys: string) => boolean;
  /**
   * Transfer to a person (the transfer_call tool): the configured target names, and the transfer itself,
   * resolving true when the caller was handed over (the owner then ends the call), "bridged" when the
   * owner connected the caller to the target itself (the conversation has stopped; `hooks.bridging` was
   * called before the target's phone rang, for a short line), false when it failed. Absent: no transfers.
   */
  transfer?: { targets: readonly string[]; run(target: string, hooks?: { bridging?(): void }): Promise<boolean | "bridged"> };
  /** Ends the call at the SIP level (BYE). Called after the last packet of the goodbye. */
  hangup: (reason: string) => void;
  /**
   * Outbound calls: the opening waits for the callee's first words to end, and answering-machine
   * detection (src/pipeline/outbound-answer.ts). Absent (inbound): the agent greets at once.
   */
  answer?: OutboundAnswerSettings;
  /** Receives turn records as they are completed (persistence, metrics). */
  onTurn?: (turn: TurnRecord) => void;
  /** A barge-in happened. */
  onBargeIn?: () => void;
  /**
   * A barge-in that paused the reply (barge-in-pause.ts) was decided: the reply went on (`resumed`) or
   * was cut, after `pausedMs` of silence (null: words that came after it went on cut it, the silence was
   * counted with the resume); `record.bargeInPauses` is already updated.
   */
  onBargeInPause?: (result: "resumed" | "cut", pausedMs: number | null) => void;
  /** The caller's words so far, not final (STT interim results): for live watchers, never for decisions. */
  onInterim?: (text: string) => void;
  /** The LLM called a tool (end_call, transfer, send_dtmf…): for live watchers. */
  onToolCall?: (name: string, args: Record<string, unknown>) => void;
  /** The reply in progress: its text handed to TTS so far (a sentence ahead of the audio), for live watchers. */
  onSaying?: (text: string) => void;
  /**
   * A failure nothing in the conversation handled (a provider breaking its contract, a bug): the owner
   * ends the call (src/call/session.ts). Without it the failure is logged.
   */
  onError?: (err: unknown) => void;
  /** Fields of the record changed outside a turn (the serving providers after a fallback): persist them. */
  onRecordChanged?: () => void;
}
