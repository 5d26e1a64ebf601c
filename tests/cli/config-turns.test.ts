import { describe, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../../src/cli/config";
import { conversationSettings, detectorOptions } from "../../src/cli/config-turns";
import { DEFAULT_CALLER_LEVEL, DEFAULT_FIRST_TURN_FLOOR_DBFS } from "../../src/pipeline/caller-level";
import { SileroSpeechDetector } from "../../src/pipeline/speech-detector";
import type { VadStream } from "../../src/media/vad/silero";

const base = { SIP_PUBLIC_IP: "203.0.113.7" };
const silentVad = { process: async () => 0.01 } as unknown as VadStream;

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    return err as ConfigError;
  }
  throw new Error("loadConfig accepted " + JSON.stringify(env));
}

describe("BARGE_IN_CALLER_MARGIN_DB", () => {
  test("default 4 dB, the caller-level rule's measured default", () => {
    expect(loadConfig(base).conversation.bargeInCallerMarginDb).toBe(4);
    expect(DEFAULT_CALLER_LEVEL.marginDb).toBe(4);
    expect(detectorOptions(loadConfig(base).conversation).callerLevel).toEqual({ marginDb: 4 });
  });

  test("a value from 0 to 20 is taken; 0 turns the rule off (callerLevel null)", () => {
    expect(loadConfig({ ...base, BARGE_IN_CALLER_MARGIN_DB: "10" }).conversation.bargeInCallerMarginDb).toBe(10);
    expect(loadConfig({ ...base, BARGE_IN_CALLER_MARGIN_DB: "20" }).conversation.bargeInCallerMarginDb).toBe(20);
    const off = loadConfig({ ...base, BARGE_IN_CALLER_MARGIN_DB: "0" }).conversation;
    expect(off.bargeInCallerMarginDb).toBe(0);
    expect(detectorOptions(off).callerLevel).toBeNull();
  });

  test.each([
    ["21", /from 0 to 20, got 21/],
    ["-1", /from 0 to 20, got -1/],
    ["4.5", /integer from 0 to 20, got "4.5"/],
    ["loud", /integer from 0 to 20, got "loud"/],
  ])("%p is a start-up error naming the variable", (value, message) => {
    const err = configError({ BARGE_IN_CALLER_MARGIN_DB: value });
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.variable).toBe("BARGE_IN_CALLER_MARGIN_DB");
    expect(err.message).toMatch(message);
  });
});

describe("detectorOptions: the configured values reach the speech detector", () => {
  test("margin, barge-in speech and pause reach SileroSpeechDetector; the margin decides which frames are the caller's", () => {
    const c = loadConfig({ ...base, BARGE_IN_CALLER_MARGIN_DB: "8", BARGE_IN_MIN_SPEECH_MS: "120", END_OF_TURN_PAUSE_MS: "300" }).conversation;
    expect(detectorOptions(c)).toEqual({ bargeInMinSpeechMs: 120, pauseMs: 300, callerLevel: { marginDb: 8 }, firstTurnFloorDbfs: DEFAULT_FIRST_TURN_FLOOR_DBFS, floorAlways: true });
    const d = new SileroSpeechDetector(silentVad, detectorOptions(c));
    const level = d.callerLevel!;
    expect(level.settings).toEqual({ ...DEFAULT_CALLER_LEVEL, marginDb: 8 });
    // The caller spoke at −20 dBFS for the rule's minimum speech (400 ms = 20 frames of 20 ms).
    for (let i = 0; i < DEFAULT_CALLER_LEVEL.minSpeechMs / 20; i++) level.learn(-20);
    expect(level.levelDb).toBeCloseTo(-20, 6);
    expect(level.atCallerLevel(-27.9)).toBe(true); // within 8 dB (the default 4 dB would refuse it)
    expect(level.atCallerLevel(-28.1)).toBe(false);
  });

  test("BARGE_IN_CALLER_MARGIN_DB=0: the detector has no caller-level rule", () => {
    const c = loadConfig({ ...base, BARGE_IN_CALLER_MARGIN_DB: "0" }).conversation;
    expect(new SileroSpeechDetector(silentVad, detectorOptions(c)).callerLevel).toBeNull();
    expect(new SileroSpeechDetector(silentVad, detectorOptions(loadConfig(base).conversation)).callerLevel).not.toBeNull();
  });
});

describe("BARGE_IN_FIRST_TURN_FLOOR_DBFS", () => {
  test("default −23 (DEFAULT_FIRST_TURN_FLOOR_DBFS, on since session 9); 0 turns the rule off", () => {
    expect(DEFAULT_FIRST_TURN_FLOOR_DBFS).toBe(-23);
    expect(loadConfig(base).conversation.bargeInFirstTurnFloorDbfs).toBe(-23);
    expect(detectorOptions(loadConfig(base).conversation).firstTurnFloorDbfs).toBe(-23);
    expect(detectorOptions(loadConfig({ ...base, BARGE_IN_FIRST_TURN_FLOOR_DBFS: "0" }).conversation).firstTurnFloorDbfs).toBeNull();
  });

  test("BARGE_IN_FLOOR_AFTER_FIRST_TURN: default true (the floor also after the caller's first words); false reaches the detector", () => {
    expect(detectorOptions(loadConfig(base).conversation).floorAlways).toBe(true);
    expect(detectorOptions(loadConfig({ ...base, BARGE_IN_FLOOR_AFTER_FIRST_TURN: "false" }).conversation).floorAlways).toBe(false);
    expect(configError({ BARGE_IN_FLOOR_AFTER_FIRST_TURN: "sometimes" }).message).toContain("BARGE_IN_FLOOR_AFTER_FIRST_TURN");
  });

  test("a value from −60 to 0 is taken and reaches the detector's options; 0 turns the rule off (null)", () => {
    const c = loadConfig({ ...base, BARGE_IN_FIRST_TURN_FLOOR_DBFS: "-40" }).conversation;
    expect(c.bargeInFirstTurnFloorDbfs).toBe(-40);
    expect(detectorOptions(c).firstTurnFloorDbfs).toBe(-40);
    expect(detectorOptions(loadConfig({ ...base, BARGE_IN_FIRST_TURN_FLOOR_DBFS: "-60" }).conversation).firstTurnFloorDbfs).toBe(-60);
    expect(detectorOptions(loadConfig({ ...base, BARGE_IN_FIRST_TURN_FLOOR_DBFS: "0" }).conversation).firstTurnFloorDbfs).toBeNull();
  });

  test.each([
    ["-61", /from -60 to 0, got -61/],
    ["5", /from -60 to 0, got 5/],
    ["-32.5", /integer from -60 to 0, got "-32.5"/],
    ["quiet", /integer from -60 to 0, got "quiet"/],
  ])("%p is a start-up error naming the variable", (value, message) => {
    const err = configError({ BARGE_IN_FIRST_TURN_FLOOR_DBFS: value });
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.variable).toBe("BARGE_IN_FIRST_TURN_FLOOR_DBFS");
    expect(err.message).toMatch(message);
  });
});

describe("LLM_HISTORY_MAX_CHARS", () => {
  test("default 12000 characters (src/pipeline/history-bound.ts), reaching the conversation's settings", () => {
    expect(loadConfig(base).conversation.llmHistoryMaxChars).toBe(12_000);
    const c = loadConfig({ ...base, LLM_HISTORY_MAX_CHARS: "4000" }).conversation;
    expect(c.llmHistoryMaxChars).toBe(4000);
    expect(conversationSettings(c).llmHistoryMaxChars).toBe(4000);
  });

  test.each([
    ["199", /from 200 to 4000000, got 199/],
    ["4000001", /from 200 to 4000000, got 4000001/],
    ["12k", /integer from 200 to 4000000, got "12k"/],
    ["0", /from 200 to 4000000, got 0/],
  ])("%p is a start-up error naming the variable", (value, message) => {
    const err = configError({ LLM_HISTORY_MAX_CHARS: value });
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.variable).toBe("LLM_HISTORY_MAX_CHARS");
    expect(err.message).toContain("LLM_HISTORY_MAX_CHARS");
    expect(err.message).toMatch(message);
  });
});
