import { describe, expect, test } from "bun:test";
import { DEFAULT_VAD_WORKER_NICE } from "../../src/cli/config-vad.ts";
import { DEFAULT_BATCH_WAIT_MS, DEFAULT_MAX_LAG_MS } from "../../src/media/vad/batcher";
import { ConfigError, loadConfig, MAX_CALLS_DEFAULTS, requireOutbound } from "../../src/cli/config";
import { RECOGNISER_NICE_DEFAULT } from "../../src/providers/pocketsphinx/recogniser-process";
import { DEFAULT_DENY_PREFIXES } from "../../src/outbound/destination-policy";
import { parseCommand, UsageError } from "../../src/cli/args";
import { CARTESIA_DEFAULTS } from "../../src/providers/cartesia/options";
import { DEEPGRAM_DEFAULTS } from "../../src/providers/deepgram/options";
import { GEMINI_DEFAULTS } from "../../src/providers/gemini/options";
import { conversationSettings } from "../../src/cli/config-turns";
import { DEFAULT_ENDPOINTING } from "../../src/pipeline/endpointing";
import { DEFAULT_CONVERSATION } from "../../src/pipeline/conversation-settings";
import { DEFAULT_PAUSE_MS } from "../../src/pipeline/speech-detector";

describe("loadConfig", () => {
  test("defaults match the documented names and values", () => {
    const c = loadConfig({ SIP_PUBLIC_IP: "203.0.113.7" });
    expect(c).toMatchObject({
      sipHost: "0.0.0.0",
      sipPort: 5060,
      rtpPortStart: 10000,
      rtpPortEnd: 20000,
      serverPort: 8000,
      publicIp: "203.0.113.7",
      answerDelayMs: 0,
      stt: "pocketsphinx",
      llm: "scripted",
      tts: "flite",
    });
    expect(c.deepgram.model).toBe("nova-2-phonecall");
    expect(c.gemini.model).toBe("gemini-2.0-flash");
    expect(c.cartesia.model).toBe("sonic-2");
    expect(c.conversation).toMatchObject({ llmFirstTokenMs: 3000, llmTotalMs: 20_000 });
    expect(c.cartesia.voiceId).toBe("a0e99841-438c-4a64-b679-ae501e7d6091");
  });

  test("end-of-turn waits: defaults from the pipeline's measured constants; each variable reaches the conversation's settings", () => {
    const d = loadConfig({ SIP_PUBLIC_IP: "203.0.113.7" }).conversation;
    expect(d).toMatchObject({
      endOfTurnSilenceMs: DEFAULT_ENDPOINTING.minSilenceMs,
      endOfTurnMaxSilenceMs: DEFAULT_ENDPOINTING.maxSilenceMs,
      endOfTurnCompleteSilenceMs: DEFAULT_ENDPOINTING.completeSilenceMs,
      endOfTurnPauseMs: DEFAULT_PAUSE_MS,
    });
    const c = loadConfig({
      SIP_PUBLIC_IP: "203.0.113.7",
      END_OF_TURN_SILENCE_MS: "700",
      END_OF_TURN_MAX_SILENCE_MS: "2000",
      END_OF_TURN_COMPLETE_SILENCE_MS: "120",
      END_OF_TURN_PAUSE_MS: "240",
    }).conversation;
    expect(c).toMatchObject({ endOfTurnSilenceMs: 700, endOfTurnMaxSilenceMs: 2000, endOfTurnCompleteSilenceMs: 120, endOfTurnPauseMs: 240 });
    expect(conversationSettings(c).endpointing).toEqual({ minSilenceMs: 700, maxSilenceMs: 2000, completeSilenceMs: 120 });
    // A lower END_OF_TURN_SILENCE_MS pulls the defaults of the shorter waits down with it instead of failing.
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", END_OF_TURN_SILENCE_MS: "100" }).conversation).toMatchObject({ endOfTurnCompleteSilenceMs: Math.min(100, DEFAULT_ENDPOINTING.completeSilenceMs!), endOfTurnPauseMs: 100 });
  });

  test("CONTINUATION_GRACE_MS, NO_WORDS_RESUME_MS, NO_WORDS_MAX_WAIT_MS reach the conversation's settings; defaults are the conversation's own", () => {
    const def = loadConfig({ SIP_PUBLIC_IP: "203.0.113.7" }).conversation;
    expect(conversationSettings(def)).toMatchObject({
      continuationGraceMs: DEFAULT_CONVERSATION.continuationGraceMs,
      noWordsResumeMs: DEFAULT_CONVERSATION.noWordsResumeMs,
      noWordsMaxWaitMs: DEFAULT_CONVERSATION.noWordsMaxWaitMs,
    });
    const c = loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", CONTINUATION_GRACE_MS: "0", NO_WORDS_RESUME_MS: "800", NO_WORDS_MAX_WAIT_MS: "9000" }).conversation;
    expect(conversationSettings(c)).toMatchObject({ continuationGraceMs: 0, noWordsResumeMs: 800, noWordsMaxWaitMs: 9000 });
    // BARGE_IN_PAUSE_WAIT_MS: 900 by default (src/pipeline/barge-in-pause.ts), "off" = cut at the onset.
    expect(conversationSettings(def).bargeInPauseWaitMs).toBe(900);
    expect(conversationSettings(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", BARGE_IN_PAUSE_WAIT_MS: "off" }).conversation).bargeInPauseWaitMs).toBeNull();
    expect(conversationSettings(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", BARGE_IN_PAUSE_WAIT_MS: "0" }).conversation).bargeInPauseWaitMs).toBe(0);
    // A resume wait above the default maximum wait pulls the maximum up with it instead of failing.
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", NO_WORDS_RESUME_MS: "7000" }).conversation.noWordsMaxWaitMs).toBe(7000);
  });

  test("MAX_CALLS defaults to the measured capacity of the pipeline (offline recogniser or cloud STT); FLITE_WORKERS, FLITE_FALLBACK_WARM, VAD_BATCH, VAD_BATCH_MS, VAD_MAX_LAG_MS, ADMISSION_*", () => {
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7" }).maxCalls).toBe(MAX_CALLS_DEFAULTS.offline);
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", DEEPGRAM_API_KEY: "k" }).maxCalls).toBe(MAX_CALLS_DEFAULTS.cloud);
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", DEEPGRAM_API_KEY: "k", MAX_CALLS: "7" }).maxCalls).toBe(7);
    expect(MAX_CALLS_DEFAULTS.cloud).toBeGreaterThan(MAX_CALLS_DEFAULTS.offline);
    const d = loadConfig({ SIP_PUBLIC_IP: "203.0.113.7" });
    expect(d).toMatchObject({ fliteWorkers: 2, fliteFallbackWarm: true, vadBatch: true, vadBatchMs: DEFAULT_BATCH_WAIT_MS, vadMaxLagMs: DEFAULT_MAX_LAG_MS, admission: { cpuPct: 85, pacerP99Ms: 10, vadSkipPct: 1, minCalls: 20 } });
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", FLITE_WORKERS: "0", FLITE_FALLBACK_WARM: "false", VAD_BATCH: "false", VAD_BATCH_MS: "0", VAD_MAX_LAG_MS: "0", ADMISSION_CPU_PCT: "0" })).toMatchObject({
      fliteWorkers: 0,
      fliteFallbackWarm: false,
      vadBatch: false,
      vadBatchMs: 0,
      vadMaxLagMs: 0,
      admission: { cpuPct: 0 },
    });
    for (const bad of [{ FLITE_WORKERS: "-1" }, { ADMISSION_PACER_P99_MS: "x" }, { VAD_BATCH: "maybe" }, { FLITE_FALLBACK_WARM: "sometimes" }, { VAD_BATCH_MS: "21" }, { VAD_BATCH_MS: "-1" }, { VAD_MAX_LAG_MS: "-5" }, { VAD_MAX_LAG_MS: "10001" }, { ADMISSION_VAD_SKIP_PCT: "101" }]) {
      expect(() => loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", ...bad })).toThrow(Object.keys(bad)[0]!);
    }
  });

  test("PACER_HOME_PHASES: 1, 2 or 4 (default 4); anything else names the variable", () => {
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7" }).pacerHomePhases).toBe(4);
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", PACER_HOME_PHASES: "1" }).pacerHomePhases).toBe(1);
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", PACER_HOME_PHASES: "2" }).pacerHomePhases).toBe(2);
    for (const bad of ["0", "3", "8", "four"]) expect(() => loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", PACER_HOME_PHASES: bad })).toThrow(/^PACER_HOME_PHASES: /);
  });

  test("CALL_THREAD_SLICE_US (0 = the kernel's, 100–100,000 µs) and RUNTIME_THREADS_NICE_KEEP (thread names of ≤ 15 characters); a bad value names the variable", () => {
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7" })).toMatchObject({ callThreadSliceUs: 0, runtimeThreadsNiceKeep: [] });
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", CALL_THREAD_SLICE_US: "500", RUNTIME_THREADS_NICE_KEEP: " JITWorker , HTTP Client" })).toMatchObject({
      callThreadSliceUs: 500,
      runtimeThreadsNiceKeep: ["JITWorker", "HTTP Client"],
    });
    for (const bad of ["-1", "1", "99", "100001", "fast"]) expect(() => loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", CALL_THREAD_SLICE_US: bad })).toThrow(/^CALL_THREAD_SLICE_US: /);
    for (const bad of ["50", "100001"]) expect(() => loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", MEDIA_WORKER_SLICE_US: bad })).toThrow(/^MEDIA_WORKER_SLICE_US: /);
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", CALL_THREAD_SLICE_US: "0" }).callThreadSliceUs).toBe(0);
    expect(() => loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", RUNTIME_THREADS_NICE_KEEP: "JITWorker,a-name-of-16-chars" })).toThrow(/^RUNTIME_THREADS_NICE_KEEP: thread name "a-name-of-16-chars" is longer than 15 characters/);
  });

  test("STT_RECOGNISER_NICE (0–19, default RECOGNISER_NICE_DEFAULT = 10); a bad value names the variable", () => {
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7" }).sttRecogniserNice).toBe(RECOGNISER_NICE_DEFAULT);
    expect(RECOGNISER_NICE_DEFAULT).toBe(10);
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", STT_RECOGNISER_NICE: "0" }).sttRecogniserNice).toBe(0);
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", STT_RECOGNISER_NICE: "19" }).sttRecogniserNice).toBe(19);
    for (const bad of ["-1", "20", "low"]) expect(() => loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", STT_RECOGNISER_NICE: bad })).toThrow(/^STT_RECOGNISER_NICE: /);
  });

  test("VAD_WORKER (off by default, on/off) and VAD_WORKER_NICE (0–19, default DEFAULT_VAD_WORKER_NICE); a bad value names the variable", () => {
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7" })).toMatchObject({ vadWorker: false, vadWorkerNice: DEFAULT_VAD_WORKER_NICE });
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", VAD_WORKER: "on", VAD_WORKER_NICE: "10" })).toMatchObject({ vadWorker: true, vadWorkerNice: 10 });
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", VAD_WORKER: "off" }).vadWorker).toBe(false);
    for (const bad of ["maybe", "2"]) expect(() => loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", VAD_WORKER: bad })).toThrow(/^VAD_WORKER: /);
    for (const bad of ["-1", "20", "low"]) expect(() => loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", VAD_WORKER_NICE: bad })).toThrow(/^VAD_WORKER_NICE: /);
  });

  test("VAD_SILENCE_FLOOR_DBFS: −60 by default, a level from −120 to 0, or off; a bad value names the variable", () => {
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7" }).vadSilenceFloorDbfs).toBe(-60);
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", VAD_SILENCE_FLOOR_DBFS: "-70" }).vadSilenceFloorDbfs).toBe(-70);
    expect(loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", VAD_SILENCE_FLOOR_DBFS: "off" }).vadSilenceFloorDbfs).toBe(-Infinity);
    for (const bad of ["5", "-121", "quiet", "-60.5"]) {
      expect(() => loadConfig({ SIP_PUBLIC_IP: "203.0.113.7", VAD_SILENCE_FLOOR_DBFS: bad })).toThrow("VAD_SILENCE_FLOOR_DBFS");
    }
  });

  test("DTMF_TERMINATOR / DTMF_MAX_DIGITS / DTMF_INTER_DIGIT_MS: key grouping without code; bad values name the variable", () => {
    expect(loadConfig({}).conversation.digits).toEqual({ terminator: "#", maxDigits: 0, interDigitMs: 2000 });
    expect(loadConfig({ DTMF_TERMINATOR: "*", DTMF_MAX_DIGITS: "4", DTMF_INTER_DIGIT_MS: "3500" }).conversation.digits).toEqual({ terminator: "*", maxDigits: 4, interDigitMs: 3500 });
    expect(loadConfig({ DTMF_TERMINATOR: "none" }).conversation.digits.terminator).toBe("");
    expect(() => loadConfig({ DTMF_TERMINATOR: "##" })).toThrow(/^DTMF_TERMINATOR: expected one key .* got "##"$/);
    expect(() => loadConfig({ DTMF_MAX_DIGITS: "-1" })).toThrow(/^DTMF_MAX_DIGITS/);
    expect(() => loadConfig({ DTMF_INTER_DIGIT_MS: "50" })).toThrow(/^DTMF_INTER_DIGIT_MS/);
  });

  test("STT_STEP_GRAMMAR: category by default, off, or a list of step kinds; anything else names the variable", () => {
    expect(loadConfig({}).sttStepGrammar).toEqual(["category"]);
    expect(loadConfig({ STT_STEP_GRAMMAR: "off" }).sttStepGrammar).toEqual([]);
    expect(loadConfig({ STT_STEP_GRAMMAR: "category, yes_no,digits" }).sttStepGrammar).toEqual(["category", "yes_no", "digits"]);
    expect(() => loadConfig({ STT_STEP_GRAMMAR: "names" })).toThrow(/^STT_STEP_GRAMMAR: expected "off" or comma-separated .* got "names"$/);
  });

  test("RTP_START_TIMEOUT_S: 5 s by default, in ms; 0 turns it off", () => {
    expect(loadConfig({}).rtpStartTimeoutMs).toBe(5000);
    expect(loadConfig({ RTP_START_TIMEOUT_S: "0" }).rtpStartTimeoutMs).toBe(0);
    expect(loadConfig({ RTP_START_TIMEOUT_S: "2" }).rtpStartTimeoutMs).toBe(2000);
  });

  test("the provider defaults come from the providers' options modules (one source)", () => {
    const c = loadConfig({});
    expect(c.deepgram.model).toBe(DEEPGRAM_DEFAULTS.model);
    expect(c.deepgram.chunkMs).toBe(DEEPGRAM_DEFAULTS.chunkMs);
    expect(loadConfig({ DEEPGRAM_CHUNK_MS: "120" }).deepgram.chunkMs).toBe(120);
    expect(c.gemini.model).toBe(GEMINI_DEFAULTS.model);
    expect([c.cartesia.model, c.cartesia.voiceId]).toEqual([CARTESIA_DEFAULTS.model, CARTESIA_DEFAULTS.voiceId]);
  });

  test("CARTESIA_API_KEY alone is enough for Cartesia (stock voice); CARTESIA_VOICE_ID overrides it", () => {
    const c = loadConfig({ CARTESIA_API_KEY: "c" });
    expect(c.tts).toBe("cartesia");
    expect(c.cartesia.voiceId).toBe(CARTESIA_DEFAULTS.voiceId);
    expect(loadConfig({ CARTESIA_API_KEY: "c", CARTESIA_VOICE_ID: " my-voice " }).cartesia.voiceId).toBe("my-voice");
  });

  test("SIP_TRUSTED_IPS is a list of addresses and CIDR ranges", () => {
    expect(loadConfig({ SIP_TRUSTED_IPS: "52.9.254.127, 52.9.254.128" }).sipTrustedIps).toEqual(["52.9.254.127", "52.9.254.128"]);
    expect(loadConfig({ SIP_TRUSTED_IPS: "52.9.254.0/24,10.1.2.3" }).sipTrustedIps).toEqual(["52.9.254.0/24", "10.1.2.3"]);
    expect(loadConfig({}).sipTrustedIps).toEqual([]);
  });

  test("RTP_LATCH: signalled by default, any on request", () => {
    expect(loadConfig({}).rtpLatch).toBe("signalled");
    expect(loadConfig({ RTP_LATCH: "any" }).rtpLatch).toBe("any");
    expect(loadConfig({ RTP_LATCH: "Signalled" }).rtpLatch).toBe("signalled");
  });

  test("RTP_SILENCE_SUPPRESSION: off by default, on on request", () => {
    expect(loadConfig({}).rtpSilenceSuppression).toBe(false);
    expect(loadConfig({ RTP_SILENCE_SUPPRESSION: "on" }).rtpSilenceSuppression).toBe(true);
    expect(loadConfig({ RTP_SILENCE_SUPPRESSION: "off" }).rtpSilenceSuppression).toBe(false);
  });

  test("SIP access control: untrusted policy, rate limit with burst, inbound digest credentials", () => {
    const d = loadConfig({});
    expect([d.sipUntrusted, d.sipRateLimit, d.sipInboundAuth]).toEqual(["reject", { perSecond: 100, burst: 200 }, undefined]);
    const c = loadConfig({ SIP_UNTRUSTED: "drop", SIP_RATE_LIMIT: "20", SIP_INBOUND_USERNAME: "pbx", SIP_INBOUND_PASSWORD: " s3cret " });
    expect([c.sipUntrusted, c.sipRateLimit, c.sipInboundAuth]).toEqual([
      "drop",
      { perSecond: 20, burst: 40 },
      { username: "pbx", password: " s3cret ", realm: undefined, algorithms: ["SHA-256", "MD5"], maxFailures: 5, lockoutS: 600 },
    ]);
    const lock = loadConfig({ SIP_INBOUND_USERNAME: "pbx", SIP_INBOUND_PASSWORD: "p", SIP_INBOUND_MAX_FAILURES: "0", SIP_INBOUND_LOCKOUT_S: "60" });
    expect([lock.sipInboundAuth?.maxFailures, lock.sipInboundAuth?.lockoutS]).toEqual([0, 60]);
    const md5 = loadConfig({ SIP_INBOUND_USERNAME: "pbx", SIP_INBOUND_PASSWORD: "p", SIP_INBOUND_DIGEST_ALGORITHMS: "md5, sha-256" });
    expect(md5.sipInboundAuth?.algorithms).toEqual(["MD5", "SHA-256"]);
    expect(loadConfig({ SIP_RATE_LIMIT: "0" }).sipRateLimit.perSecond).toBe(0);
    expect(loadConfig({ SIP_RATE_LIMIT: "10", SIP_RATE_BURST: "15" }).sipRateLimit).toEqual({ perSecond: 10, burst: 15 });
  });

  test("SIP_USER_AGENT: unset leaves the versioned default to the agent; a product string is kept; control characters or over 128 characters name the variable", () => {
    expect(loadConfig({}).sipUserAgent).toBeUndefined();
    expect(loadConfig({ SIP_USER_AGENT: " Acme SBC/2 (edge) " }).sipUserAgent).toBe("Acme SBC/2 (edge)");
    expect(() => loadConfig({ SIP_USER_AGENT: "pbx\r\nX-Injected: 1" })).toThrow(/SIP_USER_AGENT: expected up to 128 printable ASCII/);
    expect(() => loadConfig({ SIP_USER_AGENT: "a  b" })).toThrow(/SIP_USER_AGENT/);
    expect(() => loadConfig({ SIP_USER_AGENT: "x".repeat(129) })).toThrow(/SIP_USER_AGENT/);
  });

  test("SIP_T1_MS: RFC 3261 T1 and every timer derived from it (64·T1 for B, F, H, L, M); T2, T4 and Timer D stay", () => {
    expect(loadConfig({}).sipTimers).toBeUndefined();
    expect(loadConfig({ SIP_T1_MS: "500" }).sipTimers).toBeUndefined();
    const t = loadConfig({ SIP_T1_MS: "100" }).sipTimers!;
    expect([t.T1, t.A, t.B, t.E, t.F, t.G, t.H, t.J, t.L, t.M]).toEqual([100, 100, 6400, 100, 6400, 100, 6400, 6400, 6400, 6400]);
    expect([t.T2, t.T4, t.D, t.I, t.K]).toEqual([4000, 5000, 32_000, 5000, 5000]);
  });

  test("a bound SIP_HOST is the public address unless SIP_PUBLIC_IP is set", () => {
    expect(loadConfig({ SIP_HOST: "127.0.0.1" }).publicIp).toBe("127.0.0.1");
    expect(loadConfig({ SIP_HOST: "127.0.0.1", SIP_PUBLIC_IP: "198.51.100.2" }).publicIp).toBe("198.51.100.2");
  });

  test("keys select the cloud providers; *_PROVIDER overrides", () => {
    const c = loadConfig({ DEEPGRAM_API_KEY: "k", GEMINI_API_KEY: "g", CARTESIA_API_KEY: "c", CARTESIA_VOICE_ID: "v" });
    expect([c.stt, c.llm, c.tts]).toEqual(["deepgram", "gemini", "cartesia"]);
    const o = loadConfig({ DEEPGRAM_API_KEY: "k", STT_PROVIDER: "pocketsphinx" });
    expect(o.stt).toBe("pocketsphinx");
  });

  const bad: [Record<string, string>, string, RegExp][] = [
    [{ SIP_PORT: "70000" }, "SIP_PORT", /from 1 to 65535, got 70000/],
    [{ SIP_PORT: "abc" }, "SIP_PORT", /integer/],
    [{ SIP_HOST: "example.com" }, "SIP_HOST", /IPv4/],
    [{ SIP_PUBLIC_IP: "1.2.3" }, "SIP_PUBLIC_IP", /IPv4/],
    [{ RTP_PORT_START: "20000", RTP_PORT_END: "20000" }, "RTP_PORT_END", /above RTP_PORT_START/],
    [{ ANSWER_DELAY_MS: "-5" }, "ANSWER_DELAY_MS", /integer from 0/],
    [{ RTP_TIMEOUT_S: "ten" }, "RTP_TIMEOUT_S", /integer from 0/],
    [{ RTP_HOLD_TIMEOUT_S: "-1" }, "RTP_HOLD_TIMEOUT_S", /integer from 0/],
    [{ RTP_START_TIMEOUT_S: "soon" }, "RTP_START_TIMEOUT_S", /integer from 0/],
    [{ SIP_TLS_PORT: "5061" }, "SIP_TLS_CERT_FILE", /required with SIP_TLS_PORT/],
    [{ SIP_TLS_PORT: "5061", SIP_TLS_CERT_FILE: "/nonexistent/c.pem", SIP_TLS_KEY_FILE: "/nonexistent/k.pem" }, "SIP_TLS_CERT_FILE", /file not found/],
    [{ SIP_TCP: "sometimes" }, "SIP_TCP", /true or false/],
    [{ LOG_PII: "maybe" }, "LOG_PII", /true or false/],
    [{ STT_PROVIDER: "whisper" }, "STT_PROVIDER", /one of deepgram, pocketsphinx/],
    [{ STT_PROVIDER: "deepgram" }, "DEEPGRAM_API_KEY", /required/],
    [{ DEEPGRAM_BASE_URL: "not a url" }, "DEEPGRAM_BASE_URL", /URL/],
    [{ DEEPGRAM_CHUNK_MS: "250" }, "DEEPGRAM_CHUNK_MS", /integer from 20 to 240, got 250/],
    [{ DEEPGRAM_CHUNK_MS: "150" }, "DEEPGRAM_CHUNK_MS", /multiple of 20 .* got 150/],
    [{ DEEPGRAM_CHUNK_MS: "0" }, "DEEPGRAM_CHUNK_MS", /integer from 20/],
    [{ SIP_TRUSTED_IPS: "52.9.254.127, trunk.example.com" }, "SIP_TRUSTED_IPS", /IPv4 addresses or a.b.c.d\/n ranges, got "trunk.example.com"/],
    [{ SIP_TRUSTED_IPS: "10.0.0.0/33" }, "SIP_TRUSTED_IPS", /got "10.0.0.0\/33"/],
    [{ SIP_UNTRUSTED: "ignore" }, "SIP_UNTRUSTED", /one of reject, drop/],
    [{ RTP_LATCH: "first" }, "RTP_LATCH", /one of signalled, any, got "first"/],
    [{ RTP_SILENCE_SUPPRESSION: "yes" }, "RTP_SILENCE_SUPPRESSION", /one of on, off, got "yes"/],
    [{ SIP_RATE_LIMIT: "-1" }, "SIP_RATE_LIMIT", /integer from 0/],
    [{ SIP_RATE_BURST: "0" }, "SIP_RATE_BURST", /integer from 1/],
    [{ SIP_T1_MS: "5" }, "SIP_T1_MS", /from 10 to 4000, got 5/],
    [{ SIP_T1_MS: "5000" }, "SIP_T1_MS", /from 10 to 4000/],
    [{ SIP_INBOUND_USERNAME: "pbx" }, "SIP_INBOUND_PASSWORD", /required when SIP_INBOUND_USERNAME is set/],
    [{ SIP_INBOUND_USERNAME: "pbx", SIP_INBOUND_PASSWORD: "pw", SIP_INBOUND_REALM: 'a"b' }, "SIP_INBOUND_REALM", /without "/],
    [{ SIP_INBOUND_USERNAME: "pbx", SIP_INBOUND_PASSWORD: "pw", SIP_INBOUND_DIGEST_ALGORITHMS: "SHA-512" }, "SIP_INBOUND_DIGEST_ALGORITHMS", /got "SHA-512"/],
    [{ SIP_INBOUND_USERNAME: "pbx", SIP_INBOUND_PASSWORD: "pw", SIP_INBOUND_MAX_FAILURES: "-1" }, "SIP_INBOUND_MAX_FAILURES", /integer from 0 to 1000/],
    [{ SIP_INBOUND_USERNAME: "pbx", SIP_INBOUND_PASSWORD: "pw", SIP_INBOUND_LOCKOUT_S: "0" }, "SIP_INBOUND_LOCKOUT_S", /integer from 1 to 86400/],
    [{ END_OF_TURN_SILENCE_MS: "2000", END_OF_TURN_MAX_SILENCE_MS: "1000" }, "END_OF_TURN_MAX_SILENCE_MS", /at least END_OF_TURN_SILENCE_MS/],
    [{ END_OF_TURN_COMPLETE_SILENCE_MS: "1000" }, "END_OF_TURN_COMPLETE_SILENCE_MS", /at most END_OF_TURN_SILENCE_MS \(900\), got 1000/],
    [{ END_OF_TURN_COMPLETE_SILENCE_MS: "-1" }, "END_OF_TURN_COMPLETE_SILENCE_MS", /integer from 0/],
    [{ END_OF_TURN_PAUSE_MS: "10" }, "END_OF_TURN_PAUSE_MS", /from 32/],
    [{ END_OF_TURN_SILENCE_MS: "300", END_OF_TURN_PAUSE_MS: "400" }, "END_OF_TURN_PAUSE_MS", /at most END_OF_TURN_SILENCE_MS \(300\), got 400/],
    [{ CONTINUATION_GRACE_MS: "2500" }, "CONTINUATION_GRACE_MS", /from 0 to 2000, got 2500/],
    [{ NO_WORDS_RESUME_MS: "soon" }, "NO_WORDS_RESUME_MS", /integer/],
    [{ BARGE_IN_PAUSE_WAIT_MS: "2500" }, "BARGE_IN_PAUSE_WAIT_MS", /"off" or an integer from 0 to 2000, got "2500"/],
    [{ BARGE_IN_PAUSE_WAIT_MS: "soon" }, "BARGE_IN_PAUSE_WAIT_MS", /"off" or an integer/],
    [{ NO_WORDS_RESUME_MS: "2000", NO_WORDS_MAX_WAIT_MS: "1000" }, "NO_WORDS_MAX_WAIT_MS", /at least NO_WORDS_RESUME_MS \(2000\), got 1000/],
    [{ NO_WORDS_MAX_WAIT_MS: "20000" }, "NO_WORDS_MAX_WAIT_MS", /from 200 to 15000/],
    [{ DRAIN_TIMEOUT_S: "abc" }, "DRAIN_TIMEOUT_S", /integer/],
    [{ LLM_FIRST_TOKEN_MS: "0" }, "LLM_FIRST_TOKEN_MS", /from 200/],
    [{ LLM_REPLY_TIMEOUT_MS: "soon" }, "LLM_REPLY_TIMEOUT_MS", /integer/],
    [{ SIP_TRUNK_HOST: "bad host!" }, "SIP_TRUNK_HOST", /host name or IPv4/],
    [{ SIP_TRUNK_PORT: "0" }, "SIP_TRUNK_PORT", /from 1 to 65535/],
    [{ SIP_CALLER_ID: "+1 415 555" }, "SIP_CALLER_ID", /expected a number/],
    [{ SIP_USERNAME: "u" }, "SIP_PASSWORD", /required when SIP_USERNAME is set/],
    [{ PLIVO_AUTH_TOKEN: "t" }, "PLIVO_AUTH_ID", /required when PLIVO_AUTH_TOKEN is set/],
    // s22 fresheyes2: a CR LF in the digest username ended our Authorization header and started another.
    [{ SIP_USERNAME: "alice\r\nX-Injected: 1", SIP_PASSWORD: "pw" }, "SIP_USERNAME", /no control characters .*got "alice\\r\\nX-Injected: 1"/],
    [{ PLIVO_AUTH_ID: "MA\nX", PLIVO_AUTH_TOKEN: "t" }, "PLIVO_AUTH_ID", /no control characters/],
    [{ SIP_USERNAME: "a", SIP_PASSWORD: "b", SIP_TRUNK_REALM: "sip.example\r\nX: 1" }, "SIP_TRUNK_REALM", /control characters/],
    [{ RING_TIMEOUT_S: "0" }, "RING_TIMEOUT_S", /from 1 to 600/],
    [{ MAX_OUTBOUND_CALLS: "lots" }, "MAX_OUTBOUND_CALLS", /integer/],
    [{ OUTBOUND_CALLS_PER_MINUTE: "0" }, "OUTBOUND_CALLS_PER_MINUTE", /from 1/],
    [{ AMD: "yes" }, "AMD", /one of off, hangup, message, got "yes"/],
    [{ AMD_DECISION_MS: "500" }, "AMD_DECISION_MS", /from 1000 to 30000/],
    [{ AMD_GREETING_MS: "4000" }, "AMD_GREETING_MS", /shorter than AMD_DECISION_MS \(3500\)/],
    [{ AMD_BEEP_WAIT_S: "0" }, "AMD_BEEP_WAIT_S", /from 1 to 120/],
    [{ OPENING_NO_SPEECH_MS: "x" }, "OPENING_NO_SPEECH_MS", /integer/],
    [{ API_TOKEN: "short" }, "API_TOKEN", /at least 16/],
  ];
  for (const [env, variable, msg] of bad) {
    test(`rejects ${JSON.stringify(env)} naming ${variable}`, () => {
      let err: unknown;
      try {
        loadConfig(env);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(variable);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message.startsWith(variable + ":")).toBe(true);
    });
  }
});

describe("outbound, API token and data directory", () => {
  test("defaults: trunk port 5060, ring 30 s, 10 calls, 30 per minute, ./data, loopback HTTP without API_TOKEN", () => {
    const c = loadConfig({ SERVER_HOST: "0.0.0.0" });
    expect(c.outbound).toEqual({ trunkHost: undefined, trunkPort: 5060, callerId: undefined, credentials: undefined, ringTimeoutS: 30, maxCalls: 10, callsPerMinute: 30, denyPrefixes: [...DEFAULT_DENY_PREFIXES], denyIsDefault: true,
      answer: { amd: "off", classifier: { decisionMs: 3500, greetingMs: 2400, noSpeechMs: undefined }, beepWaitMs: 20_000 },
    });
    expect(c.dataDir).toBe("./data");
    expect(c.apiToken).toBeUndefined();
    expect(c.serverHost).toBe("127.0.0.1");
    expect(c.serverHostRequested).toBe("0.0.0.0");
    const t = loadConfig({ API_TOKEN: "0123456789abcdef-xyz" });
    expect(t.serverHost).toBe("0.0.0.0");
    expect(t.serverHostRequested).toBeUndefined();
  });

  test("trunk, caller ID and credentials; SIP_USERNAME wins over the Plivo pair", () => {
    const c = loadConfig({
      SIP_TRUNK_HOST: "trunk.example.com",
      SIP_TRUNK_PORT: "5080",
      SIP_CALLER_ID: "+14155550123",
      PLIVO_AUTH_ID: "MAXXXX",
      PLIVO_AUTH_TOKEN: "secret",
      RING_TIMEOUT_S: "20",
      DATA_DIR: "/var/lib/va",
    });
    expect(c.outbound).toMatchObject({ trunkHost: "trunk.example.com", trunkPort: 5080, callerId: "+14155550123", ringTimeoutS: 20 });
    const amd = loadConfig({ AMD: "Message", AMD_DECISION_MS: "4000", AMD_GREETING_MS: "3000", AMD_BEEP_WAIT_S: "30", OPENING_NO_SPEECH_MS: "1500" });
    expect(amd.outbound.answer).toEqual({ amd: "message", classifier: { decisionMs: 4000, greetingMs: 3000, noSpeechMs: 1500 }, beepWaitMs: 30_000 });
    expect(c.outbound.credentials).toEqual({ username: "MAXXXX", password: "secret", from: "PLIVO_AUTH_ID" });
    expect(c.dataDir).toBe("/var/lib/va");
    const s = loadConfig({ PLIVO_AUTH_ID: "MAXXXX", PLIVO_AUTH_TOKEN: "secret", SIP_USERNAME: "alice", SIP_PASSWORD: "pw with space " });
    expect(s.outbound.credentials).toEqual({ username: "alice", password: "pw with space ", from: "SIP_USERNAME" });
  });

  test("--mode outbound/all need SIP_TRUNK_HOST and SIP_CALLER_ID; inbound does not", () => {
    const none = loadConfig({});
    expect(() => requireOutbound(none, "inbound")).not.toThrow();
    expect(() => requireOutbound(none, "outbound")).toThrow(/^SIP_TRUNK_HOST: required with --mode outbound/);
    const noCaller = loadConfig({ SIP_TRUNK_HOST: "10.0.0.1" });
    expect(() => requireOutbound(noCaller, "all")).toThrow(/^SIP_CALLER_ID: required with --mode all/);
    expect(() => requireOutbound(loadConfig({ SIP_TRUNK_HOST: "10.0.0.1", SIP_CALLER_ID: "+14155550123" }), "all")).not.toThrow();
  });
});

describe("outbound destinations and the trunk realm", () => {
  const trunk = { SIP_TRUNK_HOST: "10.0.0.1" };
  test("OUTBOUND_ALLOW_PREFIXES defaults to the caller ID's country code (1, 2 or 3 digits)", () => {
    expect(loadConfig({ ...trunk, SIP_CALLER_ID: "+14155550123" }).outbound.allowPrefixes).toEqual(["+1"]);
    expect(loadConfig({ ...trunk, SIP_CALLER_ID: "+442071838750" }).outbound.allowPrefixes).toEqual(["+44"]);
    expect(loadConfig({ ...trunk, SIP_CALLER_ID: "+35312345678" }).outbound.allowPrefixes).toEqual(["+353"]);
    expect(loadConfig({ ...trunk, SIP_CALLER_ID: "+79161234567" }).outbound.allowPrefixes).toEqual(["+7"]);
  });
  test("explicit lists, '*' for any, deny list; bad entries name the variable", () => {
    const c = loadConfig({ ...trunk, SIP_CALLER_ID: "+14155550123", OUTBOUND_ALLOW_PREFIXES: "+1, +44", OUTBOUND_DENY_PREFIXES: "+1900,+1976" });
    expect(c.outbound.allowPrefixes).toEqual(["+1", "+44"]);
    expect(c.outbound.denyPrefixes).toEqual(["+1900", "+1976"]);
    expect(c.outbound.denyIsDefault).toBe(false);
    expect(loadConfig({ OUTBOUND_ALLOW_PREFIXES: "*" }).outbound.allowPrefixes).toEqual(["*"]);
    expect(() => loadConfig({ OUTBOUND_ALLOW_PREFIXES: "1,44" })).toThrow(/^OUTBOUND_ALLOW_PREFIXES: expected comma-separated E.164 prefixes .* got "1"$/);
    expect(() => loadConfig({ OUTBOUND_ALLOW_PREFIXES: "+1,*" })).toThrow(/^OUTBOUND_ALLOW_PREFIXES: .* got "\*"$/);
    expect(() => loadConfig({ OUTBOUND_DENY_PREFIXES: "*" })).toThrow(/^OUTBOUND_DENY_PREFIXES: /);
    expect(() => loadConfig({ OUTBOUND_DENY_PREFIXES: "+0" })).toThrow(/^OUTBOUND_DENY_PREFIXES: .* or "none", got "\+0"$/);
  });
  test("OUTBOUND_DENY_PREFIXES unset: premium rate and +1 area codes billed as international are denied; 'none' clears it", () => {
    const c = loadConfig({ ...trunk, SIP_CALLER_ID: "+14155550123" });
    expect(c.outbound.denyIsDefault).toBe(true);
    for (const p of ["+1900", "+1876", "+1809", "+1242", "+1284", "+449", "+4470"]) expect(c.outbound.denyPrefixes).toContain(p);
    for (const p of ["+1787", "+1415", "+1212", "+1416"]) expect(c.outbound.denyPrefixes).not.toContain(p); // Puerto Rico, US, Canada
    expect(loadConfig({ ...trunk, OUTBOUND_DENY_PREFIXES: "none" }).outbound).toMatchObject({ denyPrefixes: [], denyIsDefault: false });
    expect(loadConfig({ ...trunk, OUTBOUND_DENY_PREFIXES: " None " }).outbound.denyPrefixes).toEqual([]);
  });
  test("a caller ID that is not E.164 has no default: outbound mode asks for OUTBOUND_ALLOW_PREFIXES", () => {
    const c = loadConfig({ ...trunk, SIP_CALLER_ID: "agent-account" });
    expect(c.outbound.allowPrefixes).toBeUndefined();
    expect(() => requireOutbound(c, "outbound")).toThrow(/^OUTBOUND_ALLOW_PREFIXES: required with --mode outbound when SIP_CALLER_ID \(agent-account\) is not an E.164 number/);
    expect(() => requireOutbound(loadConfig({ ...trunk, SIP_CALLER_ID: "agent-account", OUTBOUND_ALLOW_PREFIXES: "+49" }), "all")).not.toThrow();
  });
  test("SIP_TRUNK_REALM pins the realm the credentials answer; it needs credentials", () => {
    const c = loadConfig({ SIP_USERNAME: "alice", SIP_PASSWORD: "pw", SIP_TRUNK_REALM: "sip.plivo.com" });
    expect(c.outbound.credentials).toEqual({ username: "alice", password: "pw", from: "SIP_USERNAME", realm: "sip.plivo.com" });
    expect(() => loadConfig({ SIP_TRUNK_REALM: "sip.plivo.com" })).toThrow(/^SIP_TRUNK_REALM: set SIP_USERNAME\/SIP_PASSWORD/);
    expect(() => loadConfig({ SIP_USERNAME: "a", SIP_PASSWORD: "b", SIP_TRUNK_REALM: 'x"y' })).toThrow(/^SIP_TRUNK_REALM: expected a realm without quotes/);
  });
});

describe("RECORD_RETENTION_DAYS and LOG_RATE_LIMIT", () => {
  test("retention unset keeps everything; 1..36500 days; 0 or words are refused naming the variable", () => {
    expect(loadConfig({}).recordRetentionDays).toBeUndefined();
    expect(loadConfig({ RECORD_RETENTION_DAYS: "90" }).recordRetentionDays).toBe(90);
    expect(() => loadConfig({ RECORD_RETENTION_DAYS: "0" })).toThrow(/^RECORD_RETENTION_DAYS: expected an integer from 1 to 36500, got 0$/);
    expect(() => loadConfig({ RECORD_RETENTION_DAYS: "forever" })).toThrow(/^RECORD_RETENTION_DAYS: /);
  });
  test("LOG_RATE_LIMIT defaults to 50 lines per message per second; 0 turns it off", () => {
    expect(loadConfig({}).logRateLimit).toBe(50);
    expect(loadConfig({ LOG_RATE_LIMIT: "0" }).logRateLimit).toBe(0);
    expect(() => loadConfig({ LOG_RATE_LIMIT: "-1" })).toThrow(/^LOG_RATE_LIMIT: /);
  });
});

describe("parseCommand", () => {
  test("modes, help, version, call", () => {
    expect(parseCommand([])).toEqual({ kind: "run", mode: "inbound" });
    expect(parseCommand(["--mode", "all"])).toEqual({ kind: "run", mode: "all" });
    expect(parseCommand(["--help"])).toEqual({ kind: "help" });
    expect(parseCommand(["--version"])).toEqual({ kind: "version" });
    const c = parseCommand(["call", "sip:agent@127.0.0.1:5060", "--say", "hi", "--say", "there", "--record", "x.wav"]);
    expect(c).toMatchObject({ kind: "call", uri: "sip:agent@127.0.0.1:5060", say: ["hi", "there"], record: "x.wav" });
  });
  test("bad arguments are usage errors naming the argument", () => {
    expect(() => parseCommand(["--mode", "sideways"])).toThrow(/--mode: expected one of inbound, outbound, all/);
    expect(() => parseCommand(["call", "http://x"])).toThrow(UsageError);
    expect(() => parseCommand(["frobnicate"])).toThrow(/unknown command "frobnicate"/);
    expect(() => parseCommand(["--bogus"])).toThrow(UsageError);
  });
});

describe("DATABASE_URL and AGENT_ID (a fleet's shared records)", () => {
  test("unset: SQLite; a postgres:// or postgresql:// URL selects PostgreSQL; anything else is refused naming the variable", () => {
    expect(loadConfig({}).databaseUrl).toBeUndefined();
    expect(loadConfig({ DATABASE_URL: "postgres://va:pw@db.internal:5432/calls" }).databaseUrl).toBe("postgres://va:pw@db.internal:5432/calls");
    expect(loadConfig({ DATABASE_URL: "postgresql://127.0.0.1/calls" }).databaseUrl).toBe("postgresql://127.0.0.1/calls");
    expect(() => loadConfig({ DATABASE_URL: "mysql://db/calls" })).toThrow(/^DATABASE_URL: expected postgres:\/\/user:password@host:port\/database, got a mysql:\/\/ URL$/);
    expect(() => loadConfig({ DATABASE_URL: "calls.db" })).toThrow(/^DATABASE_URL: /);
  });
  test("AGENT_ID defaults to hostname:SIP_PORT; a bad one is refused", () => {
    expect(loadConfig({ SIP_PORT: "5071" }).agentId).toMatch(/^[^:]+:5071$/);
    expect(loadConfig({ AGENT_ID: "edge-1" }).agentId).toBe("edge-1");
    expect(() => loadConfig({ AGENT_ID: "two words" })).toThrow(/^AGENT_ID: /);
  });
});
