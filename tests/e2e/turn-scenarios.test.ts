/**
 * Turn-taking and barge-in over real calls: SIPp calls the compiled agent (Gemini fake as the LLM with
 * known long replies, real flite TTS, Deepgram fake with transcripts injected per caller sound), the
 * caller's audio is generated (flite speech, sox noise, the agent's own voice as echo), and each
 * scenario's expected events are checked from the call record (GET /calls/:id) and the capture on lo.
 *
 * Scenarios (one agent per group, groups run concurrently, calls of a group one after the other):
 *   A  interruption during the greeting; backchannels over the greeting (a pause, not a barge-in); a
 *      short quiet interruption
 *   B  interruption during a long reply, then goodbye and the agent's BYE; a mid-sentence pause
 *   C  echo of the agent's audio at −20 dB with 40 ms and 200 ms delay (live echo path); a 700 ms pause
 *      after a dangling word ("I'd like to book a …")
 *   D  echo at −20 dB / 120 ms with the caller talking over it; an interruption whose words the STT
 *      reports 3 s late (no resume over the caller); 90–200 ms noise and cough-like bursts
 *   E  a silent caller: idle prompts, goodbye, BYE (IDLE_PROMPT_S=3); one who only says "Hmm." (no
 *      words); a silent caller over a line with echo
 * The table of expected and observed events is printed at the end.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { describeSipp } from "../support/sipp.ts";
import { speechPcm8k } from "../support/speech.ts";
import { encodeG711, G711_SILENCE } from "../support/g711.ts";
import {
  agentSpeech,
  agentTurns,
  analyseCall,
  buildCallerAudio,
  callerTurns,
  offsetOf,
  onsetOf,
  runTurnCall,
  startTurnRig,
  type CallAnalysis,
  type CallerItem,
  type TurnCall,
  type TurnRig,
  wireSpanMs,
} from "./turn-support.ts";

const GREETING_LONG =
  "Hello and thank you for calling the city library. I can help you renew books, find opening hours, and reserve a study room. " +
  "Our main branch is open every day from nine in the morning until eight in the evening. What can I do for you today?";
const SHORT_GREETING = "Hello, this is the city library. How can I help you?";
const LONG_REPLY =
  "Sure. Study rooms can be reserved up to two weeks in advance. Each room seats up to six people and has a whiteboard and a large screen. " +
  "You can book a room for at most three hours per day. Would you like me to reserve one for you now?";
const ANSWER = "Of course. Which day would you like?";
const GOODBYE = "You are welcome. Goodbye.";
const PAUSE_ANSWER = "Certainly. Tomorrow afternoon is free.";
const IDLE_PROMPT = "Are you still there?";
/** An interruption of ~3 s whose words the STT reports late (a recogniser slower than noWordsResumeMs, 1.5 s). */
const SLOW_WORDS = "Sorry, can I book a study room for tomorrow afternoon?";
/** How much later than the STT's endpointing its words come: 3 s after the speech ended in all. */
const SLOW_STT_EXTRA_MS = 2700;
const IDLE_GOODBYE = "I have not heard from you, so I will end the call now. Goodbye.";

/**
 * Barge-in stop latency accepted here, from the caller's onset to the agent's last frame, ms; the
 * benchmark (bench-bargein) reports p50/p95. Five calls run at once; with the whole file on one loaded
 * core (CPU 1 shared with another test file) four stops were 10–50 ms and one 550 ms (the bound was
 * 300). What a stop proves is that the caller's words cut the agent: every cut here leaves several
 * seconds of the greeting or reply unplayed, so 1 s keeps that proof.
 */
const MAX_STOP_MS = 1000;
/** One pacer tick (20 ms): how far the agent's last audio packet may precede the arrival of the caller packet that stopped it. */
const STOP_SLACK_MS = 20;
/**
 * When callers who talk after SHORT_GREETING (~3 s) first speak, ms into the call. It was 5.5 s: with the
 * file on one loaded core the greeting's first audio came 2.5 s late once, so it still played at 5.5 s and
 * the caller's words cut it — a barge-in the scenario does not expect (bargeIns 2 in "long reply", 1 in
 * "dangling pause"). Group E's 30 s calls set the file's length, so the later start costs no time.
 */
const AFTER_SHORT_GREETING_MS = 7500;
/** The mid-sentence pause (audible end of the first part → audible start of the second), ms. */
const PAUSE_MS = 700;
const IDLE_PROMPT_S = 3;
/** A short quiet interruption: peak level of the caller's "Sorry.", dBFS (the agent's own speech peaks near −8 dBFS). */
const QUIET_PEAK_DBFS = -22;

/** Gain (dB) that puts the peak of `text` spoken by `voice` at `peakDbfs`. */
async function gainToPeak(text: string, voice: "awb" | "slt" | "rms", peakDbfs: number): Promise<number> {
  let peak = 1;
  for (const v of await speechPcm8k(text, { voice })) peak = Math.max(peak, Math.abs(v));
  return peakDbfs - 20 * Math.log10(peak / 32767);
}

type Group = "A" | "B" | "C" | "D" | "E";
const rigs: Partial<Record<Group, TurnRig>> = {};
const calls: Record<string, TurnCall> = {};
const failures: Record<string, unknown> = {};
const table: string[] = [];

function row(name: string, expected: string, call: TurnCall, a: CallAnalysis, stopMs: number | null): void {
  const r = call.record;
  table.push(
    `| ${name} | ${expected} | ${r.bargeIns} | ${agentTurns(r).length} (${agentTurns(r).filter((t) => t.interrupted).length} cut) | ` +
      `${callerTurns(r).length} | ${call.llmRequests} | ${stopMs === null ? "–" : stopMs.toFixed(0)} | ${a.agentSpurts.length} | ${r.endReason} |`,
  );
}

/** The first part of a sentence, `pauseMs` of silence between the audible end and the next audible start, the rest. */
async function twoPartSentence(atMs: number, first: string, second: string, pauseMs: number): Promise<CallerItem[]> {
  const a = await speechPcm8k(first, { voice: "slt" });
  const b = await speechPcm8k(second, { voice: "slt" });
  const at2 = atMs + offsetOf(a) + pauseMs - onsetOf(b);
  return [
    { kind: "speech", atMs, text: first },
    { kind: "speech", atMs: at2, text: second },
  ];
}

async function scenario(name: string, run: () => Promise<TurnCall>): Promise<void> {
  try {
    calls[name] = await run();
  } catch (e) {
    failures[name] = e;
  }
}

function callOf(name: string): TurnCall {
  if (failures[name]) throw failures[name];
  const c = calls[name];
  if (!c) throw new Error(`scenario ${name} did not run`);
  return c;
}

beforeAll(async () => {
  const groups: Group[] = ["A", "B", "C", "D", "E"];
  const started = await Promise.all(
    groups.map((g) =>
      startTurnRig({ env: g === "E" ? { IDLE_PROMPT_S: String(IDLE_PROMPT_S), IDLE_PROMPTS: "2" } : { IDLE_PROMPT_S: "60" } }),
    ),
  );
  groups.forEach((g, i) => (rigs[g] = started[i]));
  // One short call per agent first: the first call of a process pays one-time costs (flite WASM
  // compile, first inference), which delayed its greeting by up to 1.6 s with five agents starting.
  const warm = await buildCallerAudio([], 1500);
  await Promise.all(started.map((r) => runTurnCall(r, warm, { replies: [SHORT_GREETING], listenMs: 0 })));

  const A = async () => {
    await scenario("greeting", async () =>
      runTurnCall(rigs.A!, await buildCallerAudio([{ kind: "speech", atMs: 5000, text: "Sorry, can I book a study room?" }], 9000), {
        replies: [GREETING_LONG, ANSWER],
        listenMs: 4000,
      }),
    );
    await scenario("quiet interruption", async () =>
      runTurnCall(
        rigs.A!,
        await buildCallerAudio([{ kind: "speech", atMs: 5000, text: "Sorry.", voice: "awb", gainDb: await gainToPeak("Sorry.", "awb", QUIET_PEAK_DBFS) }], 8000),
        { replies: [GREETING_LONG, ANSWER], listenMs: 4000 },
      ),
    );
    await scenario("backchannel", async () =>
      runTurnCall(
        rigs.A!,
        await buildCallerAudio(
          [
            // A "mhm" the STT hears but the VAD does not (here: 60 dB down, at the line's noise floor).
            { kind: "speech", atMs: 4000, text: "Mhm.", words: "mhm", gainDb: -60 },
            { kind: "speech", atMs: 9000, text: "Okay.", words: "okay" },
          ],
          21000,
        ),
        { replies: [GREETING_LONG], listenMs: 500 },
      ),
    );
  };
  const B = async () => {
    await scenario("long reply", async () =>
      runTurnCall(
        rigs.B!,
        await buildCallerAudio(
          [
            { kind: "speech", atMs: AFTER_SHORT_GREETING_MS, text: "Can I book a study room?" },
            { kind: "speech", atMs: AFTER_SHORT_GREETING_MS + 7000, text: "Thanks, that is all I needed." },
          ],
          AFTER_SHORT_GREETING_MS + 9500,
        ),
        { replies: [SHORT_GREETING, LONG_REPLY, { text: GOODBYE, endCall: true }], hangup: "agent", timeoutMs: 40_000 },
      ),
    );
    await scenario("pause", async () =>
      runTurnCall(
        rigs.B!,
        await buildCallerAudio(
          await twoPartSentence(AFTER_SHORT_GREETING_MS, "I would like to book a study room", "for tomorrow afternoon.", PAUSE_MS),
          AFTER_SHORT_GREETING_MS + 6000,
        ),
        { replies: [SHORT_GREETING, PAUSE_ANSWER], listenMs: 3000 },
      ),
    );
  };
  const C = async () => {
    await scenario("dangling pause", async () =>
      runTurnCall(rigs.C!, await buildCallerAudio(await twoPartSentence(AFTER_SHORT_GREETING_MS, "I'd like to book a", "study room for tomorrow.", PAUSE_MS), AFTER_SHORT_GREETING_MS + 6000), {
        replies: [SHORT_GREETING, PAUSE_ANSWER],
        listenMs: 3000,
      }),
    );
    for (const d of [40, 200]) {
      await scenario(`echo ${d}`, async () =>
        runTurnCall(rigs.C!, await buildCallerAudio([], 17000), {
          replies: [GREETING_LONG],
          listenMs: 500,
          echo: { delayMs: d, gainDb: -20 },
        }),
      );
    }
  };
  const D = async () => {
    await scenario("echo + talk", async () =>
      runTurnCall(rigs.D!, await buildCallerAudio([{ kind: "speech", atMs: 6000, text: "Sorry, can I book a study room?" }], 10000), {
        replies: [GREETING_LONG, ANSWER],
        listenMs: 4000,
        echo: { delayMs: 120, gainDb: -20 },
      }),
    );
    // pocketsphinx on a loaded machine reported a 5 s sentence 2–6 s after it ended; the agent resumed
    // the cut greeting after 1.5 s and talked over the caller (talkover brief, session 3).
    const slow = await buildCallerAudio([{ kind: "speech", atMs: 5000, text: SLOW_WORDS }], 12000);
    await scenario("slow recogniser", async () =>
      runTurnCall(rigs.D!, { ...slow, stt: slow.stt.map((c) => ({ ...c, atMs: c.atMs + SLOW_STT_EXTRA_MS })) }, {
        replies: [GREETING_LONG, ANSWER],
        listenMs: 3000,
      }),
    );
    const items: CallerItem[] = [];
    let t = 2000;
    for (const shape of ["flat", "cough"] as const) {
      for (const [i, color] of (["white", "pink", "brown"] as const).entries()) {
        for (const d of [90, 200, i === 1 ? 120 : 150]) {
          items.push({ kind: "noise", atMs: t, durMs: d, color, shape, gainDb: -3 });
          t += 700;
        }
      }
    }
    // Two more after the greeting has ended (checked below): noise in a silence is no turn either.
    items.push(
      { kind: "noise", atMs: 17500, durMs: 200, color: "white", gainDb: -3 },
      { kind: "noise", atMs: 18200, durMs: 150, color: "pink", shape: "cough", gainDb: -3 },
    );
    await scenario("noise", async () =>
      runTurnCall(rigs.D!, await buildCallerAudio(items, 19500), { replies: [GREETING_LONG], listenMs: 500 }),
    );
  };
  const E = async () => {
    await scenario("silent", async () =>
      runTurnCall(rigs.E!, await buildCallerAudio([], 30000), { replies: [SHORT_GREETING], hangup: "agent", timeoutMs: 60_000 }),
    );
    await scenario("hesitation", async () =>
      runTurnCall(rigs.E!, await buildCallerAudio([{ kind: "speech", atMs: 5000, text: "Hmm.", words: null }], 30000), {
        replies: [SHORT_GREETING],
        hangup: "agent",
        timeoutMs: 60_000,
      }),
    );
    await scenario("silent + echo", async () =>
      runTurnCall(rigs.E!, await buildCallerAudio([], 30000), {
        replies: [SHORT_GREETING],
        hangup: "agent",
        timeoutMs: 60_000,
        echo: { delayMs: 200, gainDb: -20 },
      }),
    );
  };
  await Promise.all([A(), B(), C(), D(), E()]);
  // What the tests compare talkspurts with, rendered now (agentSpeech caches): on a loaded core the long
  // greeting alone took > 5 s to render, a test's whole default time.
  await Promise.all([agentSpeech(GREETING_LONG), agentSpeech(GOODBYE), agentSpeech(IDLE_GOODBYE, { fixed: true })]);
}, 150_000);

afterAll(async () => {
  await Promise.all(Object.values(rigs).map((r) => r?.stop()));
  console.log(
    "\n| scenario | expected | barge-ins | agent turns | caller turns | LLM requests | stop ms | agent talkspurts | end |\n|---|---|---|---|---|---|---|---|---|\n" +
      table.join("\n"),
  );
}, 30_000);

/** Text of an agent turn must be a word-prefix of `full`. */
function expectPrefix(heard: string, full: string): void {
  expect(full.startsWith(heard)).toBe(true);
  if (heard.length < full.length) expect(full[heard.length]).toMatch(/[\s.,?!]/);
}

/** The model turns (Gemini `contents` with role "model") of an LLM request, text joined. */
function modelTurns(body: any): string[] {
  return (body.contents ?? [])
    .filter((c: any) => c.role === "model")
    .map((c: any) => (c.parts ?? []).map((p: any) => p.text ?? "").join(""));
}

function userTurns(body: any): string[] {
  return (body.contents ?? [])
    .filter((c: any) => c.role === "user")
    .map((c: any) => (c.parts ?? []).map((p: any) => p.text ?? "").join(""));
}

describe("turn-taking over real calls", () => {
  test("interruption during the greeting: the agent stops, keeps only what was heard, answers", async () => {
    const call = callOf("greeting");
    const a = analyseCall(call);
    const said = call.caller.items[0]!;
    expect(call.sipp.exitCode, describeSipp(call.sipp)).toBe(0);
    // Premise: the greeting was playing when the caller began.
    expect(a.spurtAt(a.arrivalOfFileMs(said.onsetMs))).toBeDefined();
    const stop = a.stopAfter(said.onsetMs)!;
    // The agent's last audio packet may precede the onset packet's arrival by up to one tick: an agent that
    // pauses on the very tick after that packet (the fast barge-in) sent its last audio just before it
    // arrived (CI 7 Dec 2026: −0.17 ms). Earlier than a tick would be a stop the caller did not cause.
    expect(stop).toBeGreaterThan(-STOP_SLACK_MS);
    expect(stop).toBeLessThan(MAX_STOP_MS);
    const r = call.record;
    expect(r.bargeIns, JSON.stringify(r.turns)).toBe(1);
    expect(r.turns.map((t: any) => [t.speaker, !!t.interrupted])).toEqual([
      ["agent", true],
      ["caller", false],
      ["agent", false],
    ]);
    const [cut, , reply] = r.turns;
    expect(cut.generatedText).toBe(GREETING_LONG);
    expect(cut.text.length).toBeGreaterThan(10);
    expectPrefix(cut.text, GREETING_LONG);
    // What was heard matches what was played: played share of the greeting audio ≈ heard share of its text.
    const playedShare = a.agentSpurts[0]!.spanMs / wireSpanMs(await agentSpeech(GREETING_LONG));
    expect(Math.abs(cut.text.length / GREETING_LONG.length - playedShare)).toBeLessThan(0.12);
    expect(r.turns[1].text).toBe("Sorry, can I book a study room?");
    expect(reply.text).toBe(ANSWER);
    // The LLM saw only the heard part of the greeting.
    expect(call.llmRequests).toBe(2);
    expect(modelTurns(call.llmBodies[1])).toEqual([cut.text]);
    // Capture: the greeting cut, then the answer after the caller finished.
    expect(a.agentSpurts).toHaveLength(2);
    expect(a.agentSpurts[1]!.startMs).toBeGreaterThan(a.arrivalOfFileMs(said.offsetMs));
    row("interruption during the greeting", `cut < ${MAX_STOP_MS} ms, 1 barge-in, heard part kept, 1 answer`, call, a, stop);
  });

  test("a short quiet interruption (“Sorry.” peaking at −22 dBFS) stops the agent too", () => {
    const call = callOf("quiet interruption");
    const a = analyseCall(call);
    const said = call.caller.items[0]!;
    expect(call.sipp.exitCode, describeSipp(call.sipp)).toBe(0);
    expect(a.spurtAt(a.arrivalOfFileMs(said.onsetMs))).toBeDefined();
    const stop = a.stopAfter(said.onsetMs)!;
    // The agent's last audio packet may precede the onset packet's arrival by up to one tick: an agent that
    // pauses on the very tick after that packet (the fast barge-in) sent its last audio just before it
    // arrived (CI 7 Dec 2026: −0.17 ms). Earlier than a tick would be a stop the caller did not cause.
    expect(stop).toBeGreaterThan(-STOP_SLACK_MS);
    expect(stop).toBeLessThan(MAX_STOP_MS);
    const r = call.record;
    expect(r.bargeIns, JSON.stringify(r.turns)).toBe(1);
    expect(r.turns.map((t: any) => [t.speaker, !!t.interrupted])).toEqual([
      ["agent", true],
      ["caller", false],
      ["agent", false],
    ]);
    expectPrefix(r.turns[0].text, GREETING_LONG);
    expect(r.turns[1].text).toBe("Sorry.");
    expect(r.turns[2].text).toBe(ANSWER);
    expect(a.agentSpurts).toHaveLength(2);
    row(`short quiet interruption (peak ${QUIET_PEAK_DBFS} dBFS)`, `cut < ${MAX_STOP_MS} ms, 1 barge-in, 1 answer`, call, a, stop);
  });

  test("interruption during a long reply, then the goodbye and the agent's BYE after its last packet", async () => {
    const call = callOf("long reply");
    const a = analyseCall(call);
    const [q1, q2] = call.caller.items;
    expect(call.sipp.exitCode, describeSipp(call.sipp)).toBe(0);
    const playing = a.spurtAt(a.arrivalOfFileMs(q2!.onsetMs));
    expect(playing).toBeDefined();
    expect(playing!.startMs).toBeGreaterThan(a.arrivalOfFileMs(q1!.offsetMs)); // it is the reply, not the greeting
    const stop = a.stopAfter(q2!.onsetMs)!;
    expect(stop).toBeGreaterThan(-STOP_SLACK_MS); // at most one tick before the onset packet (the first scenario says why)
    expect(stop).toBeLessThan(MAX_STOP_MS);
    const r = call.record;
    expect(r.bargeIns, JSON.stringify(r.turns)).toBe(1);
    expect(r.turns.map((t: any) => [t.speaker, !!t.interrupted])).toEqual([
      ["agent", false],
      ["caller", false],
      ["agent", true],
      ["caller", false],
      ["agent", false],
    ]);
    expect(r.turns[0].text).toBe(SHORT_GREETING);
    expect(r.turns[2].generatedText).toBe(LONG_REPLY);
    expectPrefix(r.turns[2].text, LONG_REPLY);
    expect(r.turns[2].text.length).toBeGreaterThan(10);
    expect(r.turns[4].text).toBe(GOODBYE);
    expect(modelTurns(call.llmBodies[2])).toEqual([SHORT_GREETING, r.turns[2].text]);
    expect(r.endReason).toBe("end_call");
    // The goodbye played whole, and the BYE came after its last packet.
    const last = a.agentSpurts[a.agentSpurts.length - 1]!;
    expect(last.spanMs).toBe(wireSpanMs(await agentSpeech(GOODBYE)));
    expect(a.agentByeMs).toBeDefined();
    expect(a.agentByeMs!).toBeGreaterThan(last.endMs);
    expect(a.agentByeMs! - last.endMs).toBeLessThan(1000);
    row("interruption during a long reply + goodbye", `cut < ${MAX_STOP_MS} ms, 1 barge-in, goodbye whole, then BYE`, call, a, stop);
  });

  test("a mid-sentence pause does not end the caller's turn", () => {
    const call = callOf("pause");
    const a = analyseCall(call);
    const [p1, p2] = call.caller.items;
    expect(call.sipp.exitCode, describeSipp(call.sipp)).toBe(0);
    expect(p2!.onsetMs - p1!.offsetMs).toBe(PAUSE_MS);
    const r = call.record;
    expect(r.bargeIns, JSON.stringify(r.turns)).toBe(0);
    expect(callerTurns(r).map((t) => t.text)).toEqual(["I would like to book a study room for tomorrow afternoon."]);
    expect(agentTurns(r).map((t) => [t.text, !!t.interrupted])).toEqual([
      [SHORT_GREETING, false],
      [PAUSE_ANSWER, false],
    ]);
    expect(call.llmRequests).toBe(2);
    expect(userTurns(call.llmBodies[1]).at(-1)).toBe("I would like to book a study room for tomorrow afternoon.");
    // No agent audio during the pause; the answer starts after the second part.
    const pauseFrom = a.arrivalOfFileMs(p1!.offsetMs);
    const pauseTo = a.arrivalOfFileMs(p2!.offsetMs);
    expect(a.agentSpurts.filter((s) => s.endMs > pauseFrom && s.startMs < pauseTo)).toEqual([]);
    expect(a.agentSpurts).toHaveLength(2);
    row(`mid-sentence pause (${PAUSE_MS} ms)`, "1 caller turn (merged), no agent audio in the pause, 1 answer", call, a, null);
  });

  test("a 700 ms pause after a dangling word (“I'd like to book a …”) does not end the turn", () => {
    const call = callOf("dangling pause");
    const a = analyseCall(call);
    const [p1, p2] = call.caller.items;
    expect(call.sipp.exitCode, describeSipp(call.sipp)).toBe(0);
    expect(p2!.onsetMs - p1!.offsetMs).toBe(PAUSE_MS);
    const r = call.record;
    expect(r.bargeIns, JSON.stringify(r.turns)).toBe(0);
    expect(callerTurns(r).map((t) => t.text)).toEqual(["I'd like to book a study room for tomorrow."]);
    expect(agentTurns(r).map((t) => [t.text, !!t.interrupted])).toEqual([
      [SHORT_GREETING, false],
      [PAUSE_ANSWER, false],
    ]);
    expect(call.llmRequests).toBe(2);
    const pauseFrom = a.arrivalOfFileMs(p1!.offsetMs);
    const pauseTo = a.arrivalOfFileMs(p2!.offsetMs);
    expect(a.agentSpurts.filter((s) => s.endMs > pauseFrom && s.startMs < pauseTo)).toEqual([]);
    expect(a.agentSpurts).toHaveLength(2);
    row(`${PAUSE_MS} ms pause after a dangling word`, "1 caller turn (merged), no agent audio in the pause, 1 answer", call, a, null);
  });

  for (const d of [40, 200]) {
    test(`echo of the agent's own audio at −20 dB, ${d} ms late, never interrupts it`, async () => {
      const call = callOf(`echo ${d}`);
      const a = analyseCall(call);
      expect(call.sipp.exitCode, describeSipp(call.sipp)).toBe(0);
      // Premise: the echo came back d ms late: the agent's frame k (its RTP timestamp − the first one, / 160;
      // under RTP_SILENCE_SUPPRESSION the agent skips idle frames) against the echo peer's packet k on lo.
      const ag = [...call.fromAgent.audioPackets].sort((x, y) => x.extSeq - y.extSeq);
      const ca = [...call.fromCaller.audioPackets].sort((x, y) => x.extSeq - y.extSeq);
      const ts0 = ag[0]!.extTimestamp;
      const delays = ag
        .map((p) => ({ p, k: Math.round((p.extTimestamp - ts0) / 160) }))
        .filter(({ k }) => k < ca.length)
        .map(({ p, k }) => ca[k]!.arrivalMs - p.arrivalMs)
        .sort((x, y) => x - y);
      // The echo is made in this test's process: on a starved machine its timer fires late, so the echo comes
      // later than asked (CI under the whole suite, 7 Dec 2026: 40 ms asked, median 63 ms; two busy loops here
      // the same). Never earlier than a frame's jitter; at most 60 ms later, which keeps 40 and 200 apart and
      // 200 + 60 inside the agent's echo window (DEFAULT_CORRELATION_ECHO.maxDelayMs 300).
      const medianDelay = delays[delays.length >> 1]!;
      expect(medianDelay - d, `median echo delay ${medianDelay.toFixed(1)} ms for ${d} ms asked`).toBeGreaterThan(-20);
      expect(medianDelay - d, `median echo delay ${medianDelay.toFixed(1)} ms for ${d} ms asked`).toBeLessThan(60);
      const r = call.record;
      expect(r.bargeIns, JSON.stringify(r.turns)).toBe(0);
      expect(r.turns.map((t: any) => [t.speaker, t.text, !!t.interrupted])).toEqual([["agent", GREETING_LONG, false]]);
      expect(call.llmRequests).toBe(1);
      // One unbroken talkspurt: the whole greeting.
      expect(a.agentSpurts).toHaveLength(1);
      expect(a.agentSpurts[0]!.spanMs).toBe(wireSpanMs(await agentSpeech(GREETING_LONG)));
      row(`echo −20 dB, ${d} ms`, "no barge-in, greeting whole, no caller turn", call, a, null);
    });
  }

  test("the caller talking over the echo still interrupts", () => {
    const call = callOf("echo + talk");
    const a = analyseCall(call);
    const said = call.caller.items[0]!;
    expect(call.sipp.exitCode, describeSipp(call.sipp)).toBe(0);
    expect(a.spurtAt(a.arrivalOfFileMs(said.onsetMs))).toBeDefined();
    const stop = a.stopAfter(said.onsetMs)!;
    // The agent's last audio packet may precede the onset packet's arrival by up to one tick: an agent that
    // pauses on the very tick after that packet (the fast barge-in) sent its last audio just before it
    // arrived (CI 7 Dec 2026: −0.17 ms). Earlier than a tick would be a stop the caller did not cause.
    expect(stop).toBeGreaterThan(-STOP_SLACK_MS);
    expect(stop).toBeLessThan(MAX_STOP_MS);
    const r = call.record;
    expect(r.bargeIns, JSON.stringify(r.turns)).toBe(1);
    expect(r.turns.map((t: any) => [t.speaker, !!t.interrupted])).toEqual([
      ["agent", true],
      ["caller", false],
      ["agent", false],
    ]);
    expect(r.turns[2].text).toBe(ANSWER);
    row("echo −20 dB, 120 ms + caller speech", `cut < ${MAX_STOP_MS} ms, 1 barge-in, 1 answer`, call, a, stop);
  });

  test("a recogniser slower than noWordsResumeMs: the agent does not resume over the caller; the late words are the turn", () => {
    const call = callOf("slow recogniser");
    const a = analyseCall(call);
    expect(call.sipp.exitCode, describeSipp(call.sipp)).toBe(0);
    const r = call.record;
    expect(r.bargeIns, JSON.stringify(r.turns)).toBe(1);
    // Before: "resuming interrupted reply" (why no_words) 1.5 s after the speech, then the words cut the rest.
    expect(call.logs.filter((l) => l.msg === "resuming interrupted reply")).toEqual([]);
    expect(call.logs.filter((l) => l.msg === "no words yet: waiting for the recogniser before resuming")).toHaveLength(1);
    expect(r.turns.map((t: any) => [t.speaker, !!t.interrupted])).toEqual([
      ["agent", true],
      ["caller", false],
      ["agent", false],
    ]);
    expect(r.turns[1].text).toBe(SLOW_WORDS);
    expect(r.turns[2].text).toBe(ANSWER);
    expect(call.llmRequests).toBe(2);
    // Capture: the greeting stopped, and nothing went out until the answer.
    expect(a.agentSpurts).toHaveLength(2);
    const stop = a.stopAfter(call.caller.items[0]!.onsetMs)!;
    row("interruption whose words come 3 s late (slow STT)", "cut, no resume before the words, 1 answer", call, a, stop);
  });

  test("90–200 ms noise and cough-like bursts neither interrupt the agent nor make a turn", async () => {
    const call = callOf("noise");
    const a = analyseCall(call);
    expect(call.sipp.exitCode, describeSipp(call.sipp)).toBe(0);
    const bursts = call.caller.items;
    // Premise: all but the last two bursts came while the greeting played, the last two after it.
    for (const b of bursts.slice(0, -2)) expect(a.spurtAt(a.arrivalOfFileMs(b.onsetMs)), b.label).toBeDefined();
    for (const b of bursts.slice(-2)) expect(a.spurtAt(a.arrivalOfFileMs(b.onsetMs)), b.label).toBeUndefined();
    const r = call.record;
    expect(r.bargeIns, JSON.stringify(r.turns)).toBe(0);
    expect(r.turns.map((t: any) => [t.speaker, t.text, !!t.interrupted])).toEqual([["agent", GREETING_LONG, false]]);
    expect(call.llmRequests).toBe(1);
    expect(a.agentSpurts).toHaveLength(1);
    expect(a.agentSpurts[0]!.spanMs).toBe(wireSpanMs(await agentSpeech(GREETING_LONG)));
    row(`${bursts.length} noise/cough bursts 90–200 ms, −3 dBFS`, "no barge-in, greeting whole, no turn", call, a, null);
  });

  test("backchannels: one the VAD misses is ignored; one the VAD hears pauses the agent, which goes on from the same sample", async () => {
    const call = callOf("backchannel");
    const a = analyseCall(call);
    const [mhm, okay] = call.caller.items;
    expect(call.sipp.exitCode, describeSipp(call.sipp)).toBe(0);
    expect(a.spurtAt(a.arrivalOfFileMs(mhm!.onsetMs))).toBeDefined();
    expect(a.spurtAt(a.arrivalOfFileMs(okay!.onsetMs))).toBeDefined();
    const r = call.record;
    // The soft "mhm" does not stop the agent, and its transcript does not start a new reply.
    expect(a.stopAfter(mhm!.onsetMs)!).toBeGreaterThan(1000);
    // The "okay" stops the agent's audio as fast as a barge-in did (src/pipeline/barge-in-pause.ts)…
    const stop = a.stopAfter(okay!.onsetMs)!;
    expect(stop).toBeLessThan(MAX_STOP_MS);
    // …but it is no barge-in: no cut, no resumed rest, no new reply (session 9: cut, then the rest re-synthesised).
    expect(r.bargeIns, JSON.stringify(r.turns)).toBe(0);
    expect(callerTurns(r).map((t) => t.text)).toEqual(["mhm", "okay"]);
    const ag = agentTurns(r);
    expect(ag.map((t) => [t.text, !!t.interrupted])).toEqual([[GREETING_LONG, false]]);
    expect(call.llmRequests).toBe(1);
    // Its words, or (the scripted final comes 520 ms after slt's last sound) the words wait without them.
    expect(call.logs.filter((l) => l.msg === "barge-in: reply goes on")).toHaveLength(1);
    expect(call.logs.filter((l) => l.msg === "resuming interrupted reply")).toEqual([]);
    expect(call.logs.filter((l) => l.msg === "backchannel while the agent speaks")).toHaveLength(2);
    // Capture: the greeting paused, then went on within 3 s (timing slack for a loaded core; the
    // benchmark reports the gap), every audio frame of it once and in order — the same sample on. (The
    // talkspurt count is not asserted: on a loaded core a late sentence from TTS splits one more, 3
    // instead of 2 once with bench:load running beside it.)
    const paused = a.agentSpurts.indexOf(a.spurtAt(a.arrivalOfFileMs(okay!.onsetMs))!);
    const story = JSON.stringify({ spurts: a.agentSpurts, pauses: call.logs.filter((l) => l.msg.startsWith("barge-in")).map((l) => [l.msg, l.time]) });
    expect(a.agentSpurts[paused + 1]!.startMs - a.agentSpurts[paused]!.endMs, story).toBeLessThan(3000);
    const silence = G711_SILENCE.mulaw;
    const ref = encodeG711(await agentSpeech(GREETING_LONG), "mulaw");
    const want: string[] = [];
    for (let f = 0; f * 160 < ref.length; f++) {
      const fr = new Uint8Array(160).fill(silence);
      fr.set(ref.subarray(f * 160, f * 160 + 160));
      if (fr.some((b) => b !== silence)) want.push(fr.join(","));
    }
    const sent = [...call.fromAgent.audioPackets].sort((x, y) => x.extSeq - y.extSeq).filter((p) => p.payload.some((b) => b !== silence));
    expect(sent.map((p) => p.payload.join(",")).findIndex((k, i) => k !== want[i]), story).toBe(-1);
    expect(sent).toHaveLength(want.length);
    row("backchannels “mhm” (STT only), “okay”", `1st ignored; 2nd paused < ${MAX_STOP_MS} ms, then on from the same sample, no barge-in`, call, a, stop);
  });

  const SILENT: Record<string, string> = {
    silent: "a silent caller",
    hesitation: "a caller who only says “Hmm.” (no words) after the greeting",
    "silent + echo": "a silent caller on a line that echoes the agent (−20 dB, 200 ms)",
  };
  for (const [name, title] of Object.entries(SILENT)) {
    test(`${title}: prompts after the idle time, then the goodbye and BYE`, async () => {
      const call = callOf(name);
      const a = analyseCall(call);
      expect(call.sipp.exitCode, describeSipp(call.sipp)).toBe(0);
      const r = call.record;
      expect(agentTurns(r).map((t) => t.text)).toEqual([SHORT_GREETING, IDLE_PROMPT, IDLE_PROMPT, IDLE_GOODBYE]);
      expect(callerTurns(r)).toEqual([]);
      expect(r.bargeIns, JSON.stringify(r.turns)).toBe(0);
      expect(r.endReason).toBe("agent_goodbye");
      expect(call.llmRequests).toBe(1);
      expect(a.agentSpurts).toHaveLength(4);
      for (let i = 1; i < 4; i++) {
        let gap = a.agentSpurts[i]!.startMs - a.agentSpurts[i - 1]!.endMs;
        if (name === "hesitation" && i === 1) {
          // The idle time restarts when the VAD reports the end of the "Hmm." (its 500 ms of silence).
          const hmm = call.caller.items[0]!;
          expect(a.spurtAt(a.arrivalOfFileMs(hmm.onsetMs))).toBeUndefined();
          gap = a.agentSpurts[1]!.startMs - a.arrivalOfFileMs(hmm.offsetMs) - 500;
        }
        expect(gap).toBeGreaterThan(IDLE_PROMPT_S * 1000 - 100);
        expect(gap).toBeLessThan(IDLE_PROMPT_S * 1000 + 400);
      }
      const last = a.agentSpurts[3]!;
      expect(last.spanMs).toBe(wireSpanMs(await agentSpeech(IDLE_GOODBYE, { fixed: true })));
      expect(a.agentByeMs!).toBeGreaterThan(last.endMs);
      expect(a.agentByeMs! - last.endMs).toBeLessThan(1000);
      row(`${title} (IDLE_PROMPT_S=${IDLE_PROMPT_S})`, "2 prompts 3 s apart, goodbye, BYE after it", call, a, null);
    });
  }
});
