/**
 * Provider failures during real calls: for each cloud provider × fault (connection dropped, provider
 * killed, 401, 429, 500, slower than the agent's timeout) a SIPp call to the compiled agent checks
 * that the call survives (BYE → 200), the caller hears something after the failure (the apology in the
 * offline flite voice, or the reply through the fallback), the next turn works where the fault is
 * transient, and the agent still runs and takes the next call. A rejected key is logged as "key
 * rejected" once, however often it is rejected. At call start an unreachable provider is replaced by
 * the offline one for that call.
 *
 * Cost: one agent and one set of fakes per lane (deepgram, gemini, cartesia, call start); a lane's
 * calls run one after another, the lanes side by side. Each call: the greeting, turn A (the fault
 * hits), a pause long enough for the apology, turn B, listening. The file takes as long as its longest
 * lane (6 Dec 2026, CPU 1: 146 s when the cartesia lane held 144 s of calls and the call-start lane 58 s).
 * Bun starts at most 20 `test.concurrent` tests at once (`--max-concurrency`, default 20); the rest start
 * as the first ones end (~20 s in) and queue on their lane. So three lanes start at once and the
 * call-start lane (its tests are #23–25) ~20 s later, after the others' first greetings: the cartesia
 * "slow" cell (#21) runs there too, first. (With the deepgram "slow" cell, #6, moved there as well, four
 * agents started at once: the first greetings came 1.4 s late and were cut by the caller's phrase, and
 * the deepgram cell's injected handshake delay missed the late connect: 4 retries in one run.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DEFAULT_CONVERSATION } from "../../src/pipeline/agent-call.ts";
import { encodeFrame } from "../../src/media/g711.ts";
import { FliteTts } from "../../src/providers/flite/flite-tts.ts";
import { matchAudio } from "../support/audio-match.ts";
import { stopAllManaged } from "../support/process.ts";
import { ARTIFACT_DIR, saveArtifactWav } from "../support/wav.ts";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startAgent, type RunningAgent } from "./agent.ts";
import {
  agentTalkspurts,
  allContexts,
  arrivalOfByte,
  contextAudio,
  indexOfBytes,
  logsWith,
  phraseTimes,
  placeCall,
  repeatLine,
  startCloudFakes,
  type CloudFakes,
  type CloudProvider,
  type PlacedCall,
} from "./cloud-support.ts";

const CALLER_LINE = "a table for two please";
const PHRASE = "A table for two, please.";
/** Every answer of the Gemini fake, greeting included (turns are told apart by time). */
const REPLY = ["Hello, thanks for calling. ", "How can I help you?"];
const REPLY_TEXT = REPLY.join("").trim();
/** Failures are answered within this long (ms) of hitting the agent; "slow" ones within the agent's own timeout + this. */
const PROMPT_MS = 3000;
/**
 * "Slow" faults are answered within this long (ms): the longest watchdog they meet — Cartesia's 5 s
 * without audio (cartesia/options.ts `audioTimeoutMs`; Gemini's slow headers meet LLM_FIRST_TOKEN_MS,
 * 3 s; Deepgram's slow handshake its 5 s `connectTimeoutMs`) — plus 6 s for synthesis and a loaded
 * machine. Measured with four lanes on two cores (6 Dec 2026): the apology began 7.6 s (cartesia) and
 * 5.4 s (gemini) after the fault. (It was 16.5 s, sized for Gemini's 15 s idle timeout, which no slow
 * cell reaches: the first-token watchdog fires first.)
 */
const SLOW_DEADLINE_MS = 11_000;
/**
 * How long the slow fakes hold back: past every watchdog in play and SLOW_DEADLINE_MS, and short of the
 * caller's next phrase (the gap of a slow cell is SLOW_DEADLINE_MS + 6 s), so the late answer lands in
 * the pause, as it did when both were longer.
 */
const SLOW_MS = 14_000;

let apology: { pcm: Int16Array; ulaw: Uint8Array; ms: number };
/** What the record names for each stage while the configured (cloud) providers serve it (as tests/e2e/cloud-call.test.ts). */
const CONFIGURED = { stt: "deepgram (nova-2-phonecall)", llm: "gemini (gemini-2.0-flash)", tts: "cartesia (sonic-2)" };

/** REPLY's first sentence as the offline TTS (flite) says it, μ-law: what a TTS fallback sends. */
let fliteFirstSentence: Uint8Array;

beforeAll(async () => {
  const flite = new FliteTts();
  const pcm = await flite.synthesize8k(DEFAULT_CONVERSATION.apologyText);
  apology = { pcm, ulaw: encodeFrame(pcm, "PCMU"), ms: pcm.length / 8 };
  fliteFirstSentence = encodeFrame(await flite.synthesize8k(REPLY[0]!.trim()), "PCMU");
});

// ---------------------------------------------------------------- lanes: one agent each, calls in series

interface Lane {
  name: string;
  fakes: CloudFakes;
  agent: RunningAgent;
  /** Requests the lane's 401 cell saw rejected (for "key rejected" once, however many). */
  rejected401: number;
}

const lanes = new Map<string, Promise<Lane>>();
const queues = new Map<string, Promise<unknown>>();

/** Runs `fn` on lane `name` after the lane's earlier cells (the lane's agent is started on first use). */
function onLane<T>(name: string, fn: (lane: Lane) => Promise<T>, env: Record<string, string> = {}): Promise<T> {
  if (!lanes.has(name)) {
    lanes.set(
      name,
      (async () => {
        const fakes = startCloudFakes({ script: repeatLine(CALLER_LINE, 200), reply: REPLY });
        const agent = await startAgent(fakes.env(env));
        return { name, fakes, agent, rejected401: 0 };
      })(),
    );
  }
  const prev = queues.get(name) ?? Promise.resolve();
  const run = prev.then(async () => fn(await lanes.get(name)!));
  queues.set(name, run.catch(() => undefined));
  return run;
}

afterAll(async () => {
  for (const l of lanes.values()) {
    const lane = await l.catch(() => null);
    if (!lane) continue;
    await lane.agent.stop();
    await lane.fakes.close();
  }
  await stopAllManaged();
});

// ---------------------------------------------------------------- fault timeline helpers

const waitUntil = async (what: string, pred: () => boolean, timeoutMs = 20_000): Promise<void> => {
  const end = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > end) throw new Error(`fault script: timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
};

/** Counts at the start of a call, so waits can say "the n-th request of this call". */
interface Mark {
  gemini: number;
  contexts: number;
  dg: number;
  dg401: number;
  ct401: number;
}
function mark(f: CloudFakes): Mark {
  return {
    gemini: f.gemini.requests.length,
    contexts: allContexts(f.cartesia).length,
    dg: f.deepgram.connections.length,
    dg401: f.deepgram.refused.filter((x) => x === 401).length,
    ct401: f.cartesia.refused.filter((x) => x === 401).length,
  };
}

/** The greeting's Gemini request has been answered in full and its audio context is done. */
async function greetingDone(f: CloudFakes, m: Mark): Promise<void> {
  await waitUntil("greeting request", () => f.gemini.requests.length > m.gemini && f.gemini.requests[m.gemini]!.finished);
  await waitUntil("greeting audio", () => allContexts(f.cartesia).slice(m.contexts).some((c) => c.ctx.done));
}

/**
 * The agent itself has ended the greeting: its record of the live call holds the greeting's agent turn
 * (written once the reply played out, or was cut). A fault that drops the TTS socket waits for this, not
 * only for the fake's `done` (greetingDone): the fake marks its context done as it sends `done`, and a
 * relay kill (connections reset) in the next few ms loses that message on its way. The agent then sees its
 * greeting fail before any reply completed, which is the call-start rule (provider-failures.ts
 * `replyRecovery`): flite serves the rest of the call, the greeting restarts in flite, and no Cartesia
 * handshake ever comes — the 30 s wait "for a refused handshake" of the "cartesia 401" and "cartesia 500"
 * cells in ~1 of 4 full runs. Killing right after the fake's `done` reproduced it in 6 of 6 calls; after
 * this wait, 0 of 6.
 */
async function greetingEnded(agent: RunningAgent, timeoutMs = 20_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const list = await agent.get("/calls");
    // This call is up (`during` runs once its RTP flows): the newest live one on the lane's agent.
    const live = (list.active ?? []).filter((c: any) => c.state !== "ended").sort((a: any, b: any) => (a.startedAt < b.startedAt ? -1 : 1));
    if ((live.at(-1)?.turns ?? []).some((t: any) => t.speaker === "agent")) return;
    if (performance.now() > end) throw new Error(`fault script: timed out waiting for the agent's greeting turn (live calls: ${JSON.stringify(live.map((c: any) => c.turns))})`);
    await Bun.sleep(20);
  }
}

/** Gemini's n-th request of this call (1 = greeting) has arrived. */
const geminiRequest = (f: CloudFakes, m: Mark, n: number) =>
  waitUntil(`gemini request ${n}`, () => f.gemini.requests.length >= m.gemini + n, 30_000);

/** The Deepgram connection of this call has carried `ms` of audio. */
const deepgramAudio = (f: CloudFakes, m: Mark, ms: number) =>
  waitUntil(`${ms} ms of audio at deepgram`, () => (f.deepgram.connections[m.dg]?.binary.reduce((n, b) => n + b.length, 0) ?? 0) >= ms * 8);

interface Heard {
  /** Capture time of each occurrence of the apology in what the caller heard. */
  apologies: number[];
  /** Capture time of each reply (a Cartesia context with REPLY's text) heard in full. */
  replies: number[];
  /**
   * Capture time of speech from an offline fallback: REPLY's first sentence in flite's voice (TTS
   * fallback), or Cartesia audio of a text other than REPLY's (LLM fallback, the offline dialogue).
   */
  fallback: number[];
}

/** Capture times of every occurrence of `needle` in what the caller received. */
function occurrences(call: PlacedCall, needle: Uint8Array): number[] {
  const out: number[] = [];
  if (needle.length === 0) return out;
  for (let at = indexOfBytes(call.fromAgent, needle); at >= 0; at = indexOfBytes(call.fromAgent, needle, at + needle.length)) {
    out.push(arrivalOfByte(call, at));
  }
  return out;
}

/**
 * Where the apology and the reply occur in what the caller received. Every answer of the fakes is the
 * same text, so the same bytes: a reply is any complete occurrence of the audio of a finished context
 * with REPLY's text (taken from the fake's own record of what it sent).
 */
function heard(call: PlacedCall, f: CloudFakes): Heard {
  const done = allContexts(f.cartesia).find(({ ctx }) => ctx.done && ctx.transcripts.join("").trim() === REPLY_TEXT);
  const replyBytes = done ? contextAudio(done.conn, done.ctx) : new Uint8Array(0);
  const fallback = occurrences(call, fliteFirstSentence);
  for (const { conn, ctx } of allContexts(f.cartesia)) {
    if (!ctx.done || ctx.transcripts.join("").trim() === REPLY_TEXT) continue;
    fallback.push(...occurrences(call, contextAudio(conn, ctx)));
  }
  return { apologies: occurrences(call, apology.ulaw), replies: occurrences(call, replyBytes), fallback: fallback.sort((a, b) => a - b) };
}

// ---------------------------------------------------------------- the table

type Fault = "drop" | "drop-mid-reply" | "kill" | "401" | "429" | "500" | "slow";

interface Cell {
  provider: CloudProvider;
  fault: Fault;
  /** The next turn works again with the same provider. */
  transient: boolean;
  /** What the caller hears after the failure: the apology (LLM, TTS) or a reply through the fallback STT. */
  hears: "apology" | "reply";
  /** Pause between turn A and turn B (ms): room for the apology, or for the timeout and the apology. */
  gapMs?: number;
  leadMs?: number;
  /**
   * The lane it runs on when not its provider's (see "Cost" above): any cell but a 401 one (the lane's "key
   * rejected once" check counts those) can run on any lane, each lane being an agent with a full set of fakes.
   */
  lane?: string;
  /** Runs during the call; resolves with the capture time (epoch ms) the failure hit the agent. */
  inject(f: CloudFakes, m: Mark, agent: RunningAgent): Promise<number>;
  /** Undoes the fault after the call. */
  heal(f: CloudFakes): void;
  /** 401 cells: how many requests were rejected during the call. */
  count401?: (f: CloudFakes, m: Mark) => number;
  /** Proof that the fault really reached the agent (when the caller's side cannot show it). */
  proof?: (f: CloudFakes, m: Mark) => boolean;
}

const now = () => Date.now();

/**
 * Each cell is tried once more when it fails (Bun's `retry`), except the 401 cells. Why: the fault is
 * injected by waiting for events of the call (greeting done, so much audio at the fake, a refused
 * handshake) while the caller's phrases come at fixed times; with four lanes of calls on two cores the
 * two drift apart now and then (in full CI runs one cell in ~4 runs, a different one each time: e.g.
 * "cartesia 500" waited 30 s for a handshake the agent never made; alone 25 of 25 runs pass). A broken
 * agent fails both attempts; a retry is printed (`noteAttempt`), so a cell that needs it is visible.
 * (That "cartesia 500" wait, and the same on "cartesia 401", had a cause of its own, now closed: see
 * greetingEnded.)
 */
const CELL_RETRIES = 1;
const attempts = new Map<string, number>();
function noteAttempt(label: string): void {
  const n = (attempts.get(label) ?? 0) + 1;
  attempts.set(label, n);
  if (n > 1) console.warn(`cloud-faults: "${label}" failed its first attempt; retrying (attempt ${n})`);
}

/**
 * How long the caller listens after its last phrase when the offline recogniser (pocketsphinx) must hear
 * it: its final came 1–2 s after the phrase alone, but in CI runs beside the other lanes no reply came
 * within 3.5–5 s (2 of 25 runs of this file alone, 3 cells in 2 of 2 full runs).
 */
const FALLBACK_LISTEN_MS = 9000;

const CELLS: Cell[] = [
  // Deepgram: the stream is dropped while the caller speaks turn A (after 600 ms of the phrase).
  {
    provider: "deepgram", fault: "drop", transient: true, hears: "reply",
    inject: async (f, m) => {
      await deepgramAudio(f, m, 1500 + 600);
      f.deepgram.drop(f.deepgram.connections[m.dg]);
      return now();
    },
    heal: () => {},
    proof: (f, m) => f.deepgram.connections[m.dg]!.dropped && f.deepgram.connections.length - m.dg === 2,
  },
  {
    provider: "deepgram", fault: "kill", transient: false, hears: "reply",
    inject: async (f, m) => {
      await deepgramAudio(f, m, 1500 + 600);
      f.relays.deepgram.kill();
      return now();
    },
    heal: (f) => f.relays.deepgram.revive(),
  },
  {
    provider: "deepgram", fault: "401", transient: false, hears: "reply",
    count401: (f, m) => f.deepgram.refused.filter((x) => x === 401).length - m.dg401,
    inject: async (f, m) => {
      await deepgramAudio(f, m, 1500 + 600);
      f.deepgram.setMode({ rejectWith: 401 });
      f.deepgram.drop(f.deepgram.connections[m.dg]);
      return now();
    },
    heal: (f) => f.deepgram.setMode({ rejectWith: null }),
  },
  ...(["429", "500"] as const).map(
    (fault): Cell => ({
      provider: "deepgram", fault, transient: true, hears: "reply",
      inject: async (f, m) => {
        await deepgramAudio(f, m, 1500 + 600);
        f.deepgram.setMode({ rejectNext: [Number(fault)] });
        f.deepgram.drop(f.deepgram.connections[m.dg]);
        return now();
      },
      heal: (f) => f.deepgram.setMode({ rejectNext: [] }),
      // Dropped, one handshake refused with the status, then one reconnect that carried the call on.
      proof: (f, m) => f.deepgram.connections[m.dg]!.dropped && f.deepgram.connections.length - m.dg === 2 && f.deepgram.refused.includes(Number(fault)),
    }),
  ),
  {
    // The handshake takes longer than the agent's connect timeout (5 s): the call starts on the fallback.
    provider: "deepgram", fault: "slow", transient: false, hears: "reply", leadMs: 7000,
    inject: async (f) => {
      f.deepgram.setMode({ handshakeDelayMs: 6000 });
      const at = now();
      await Bun.sleep(2000);
      f.deepgram.setMode({ handshakeDelayMs: 0 });
      return at;
    },
    heal: (f) => f.deepgram.setMode({ handshakeDelayMs: 0 }),
  },

  // Gemini: turn A's request fails; turn B's works (except for a rejected key).
  {
    provider: "gemini", fault: "drop", transient: true, hears: "apology",
    inject: async (f, m) => {
      await greetingDone(f, m);
      f.gemini.setMode({ dropAfter: 1 });
      await geminiRequest(f, m, 2);
      const at = now();
      await waitUntil("the dropped stream", () => f.gemini.requests[m.gemini + 1]!.chunksSent >= 1);
      await Bun.sleep(300);
      f.gemini.setMode({ dropAfter: null });
      return at;
    },
    heal: (f) => f.gemini.setMode({ dropAfter: null }),
  },
  {
    // Killed in the middle of streaming the reply (after its first sentence).
    provider: "gemini", fault: "kill", transient: true, hears: "apology",
    inject: async (f, m) => {
      await greetingDone(f, m);
      f.gemini.setMode({ chunkDelayMs: 700 });
      await geminiRequest(f, m, 2);
      await waitUntil("the first chunk", () => f.gemini.requests[m.gemini + 1]!.chunksSent >= 1);
      f.relays.gemini.kill();
      const at = now();
      f.gemini.setMode({ chunkDelayMs: 0 });
      await Bun.sleep(1500);
      f.relays.gemini.revive();
      return at;
    },
    heal: (f) => (f.relays.gemini.revive(), f.gemini.setMode({ chunkDelayMs: 0 })),
  },
  {
    provider: "gemini", fault: "401", transient: false, hears: "apology",
    count401: (f, m) => f.gemini.requests.length - m.gemini - 1, // all but the greeting
    inject: async (f, m) => {
      await greetingDone(f, m);
      f.gemini.setMode({ status: 401 });
      await geminiRequest(f, m, 2);
      return now();
    },
    heal: (f) => f.gemini.setMode({ status: null }),
  },
  ...(["429", "500"] as const).map(
    (fault): Cell => ({
      provider: "gemini", fault, transient: true, hears: "apology",
      inject: async (f, m) => {
        await greetingDone(f, m);
        f.gemini.setMode({ status: Number(fault) });
        await geminiRequest(f, m, 2);
        const at = now();
        await Bun.sleep(300);
        f.gemini.setMode({ status: null });
        return at;
      },
      heal: (f) => f.gemini.setMode({ status: null }),
    }),
  ),
  {
    provider: "gemini", fault: "slow", transient: true, hears: "apology", gapMs: SLOW_DEADLINE_MS + 6000,
    inject: async (f, m) => {
      await greetingDone(f, m);
      f.gemini.setMode({ headersDelayMs: SLOW_MS });
      await geminiRequest(f, m, 2);
      const at = now();
      f.gemini.setMode({ headersDelayMs: 0 });
      return at;
    },
    heal: (f) => f.gemini.setMode({ headersDelayMs: 0 }),
  },

  // Cartesia: turn A's audio fails; turn B's works (except for a rejected key).
  {
    provider: "cartesia", fault: "drop", transient: true, hears: "apology",
    inject: async (f, m) => {
      await greetingDone(f, m);
      const conn = f.cartesia.connections[f.cartesia.connections.length - 1]!;
      f.cartesia.setMode({ dropAfterChunks: conn.sent.filter((x) => x.type === "chunk").length + 2 });
      await waitUntil("the dropped socket", () => conn.closed !== null, 30_000);
      return now();
    },
    heal: (f) => f.cartesia.setMode({ dropAfterChunks: null }),
  },
  {
    // Issue 10: the TTS fails while the LLM is still streaming turn A's reply (a Gemini event every 2 s):
    // the agent stops the LLM at once — the fake sees the client go before its last event — and the
    // caller hears the apology within the usual deadline instead of after the whole generation.
    provider: "cartesia", fault: "drop-mid-reply", transient: true, hears: "apology",
    inject: async (f, m) => {
      await greetingDone(f, m);
      f.gemini.setMode({ chunkDelayMs: 2000 });
      const conn = f.cartesia.connections[f.cartesia.connections.length - 1]!;
      f.cartesia.setMode({ dropAfterChunks: conn.sent.filter((x) => x.type === "chunk").length + 1 });
      await waitUntil("the dropped socket", () => conn.closed !== null, 30_000);
      const at = now();
      f.gemini.setMode({ chunkDelayMs: 0 });
      return at;
    },
    proof: (f, m) => {
      const turnA = f.gemini.requests[m.gemini + 1];
      return !!turnA && turnA.clientGone && !turnA.finished;
    },
    heal: (f) => (f.cartesia.setMode({ dropAfterChunks: null }), f.gemini.setMode({ chunkDelayMs: 0 })),
  },
  {
    provider: "cartesia", fault: "kill", transient: true, hears: "apology",
    inject: async (f, m) => {
      await greetingDone(f, m);
      f.cartesia.setMode({ chunkDelayMs: 40 });
      await waitUntil("turn A's audio", () => allContexts(f.cartesia).slice(m.contexts + 1).some((c) => c.ctx.chunksSent >= 2), 30_000);
      f.relays.cartesia.kill();
      const at = now();
      f.cartesia.setMode({ chunkDelayMs: 0 });
      await Bun.sleep(1500);
      f.relays.cartesia.revive();
      return at;
    },
    heal: (f) => (f.relays.cartesia.revive(), f.cartesia.setMode({ chunkDelayMs: 0 })),
  },
  {
    // The key is revoked mid-call: the call's socket goes (idle after the greeting), every new handshake
    // gets 401 (turn A, turn B). (A 401 at call start is the call-start fallback case, below.)
    provider: "cartesia", fault: "401", transient: false, hears: "apology",
    count401: (f, m) => f.cartesia.refused.filter((x) => x === 401).length - m.ct401,
    inject: async (f, m, agent) => {
      await greetingDone(f, m);
      await greetingEnded(agent);
      f.cartesia.setMode({ rejectWith: 401 });
      f.relays.cartesia.kill();
      f.relays.cartesia.revive();
      const before = f.cartesia.refused.length;
      await waitUntil("a refused handshake", () => f.cartesia.refused.length > before, 30_000);
      return now();
    },
    heal: (f) => f.cartesia.setMode({ rejectWith: null }),
  },
  {
    // In-band: the first text of turn A is answered with an error reply (status_code 429).
    provider: "cartesia", fault: "429", transient: true, hears: "apology",
    inject: async (f, m) => {
      await greetingDone(f, m);
      f.cartesia.setMode({ errorNext: { status: 429, message: "Too many concurrent requests", withContext: true } });
      await waitUntil("the error reply", () => f.cartesia.connections.some((c) => c.sent.some((x) => x.type === "error" && x.status_code === 429)), 30_000);
      return now();
    },
    heal: (f) => f.cartesia.setMode({ errorNext: null }),
  },
  {
    // At the handshake: after the greeting the call's socket goes, turn A's new one is refused with 500,
    // turn B connects again.
    provider: "cartesia", fault: "500", transient: true, hears: "apology",
    inject: async (f, m, agent) => {
      await greetingDone(f, m);
      await greetingEnded(agent);
      f.cartesia.setMode({ rejectWith: 500 });
      f.relays.cartesia.kill();
      f.relays.cartesia.revive();
      const before = f.cartesia.refused.length;
      await waitUntil("a refused handshake", () => f.cartesia.refused.length > before, 30_000);
      const at = now();
      f.cartesia.setMode({ rejectWith: null });
      return at;
    },
    heal: (f) => f.cartesia.setMode({ rejectWith: null }),
  },
  {
    provider: "cartesia", fault: "slow", transient: true, hears: "apology", gapMs: SLOW_DEADLINE_MS + 6000, lane: "call-start",
    inject: async (f, m) => {
      await greetingDone(f, m);
      f.cartesia.setMode({ firstChunkDelayMs: SLOW_MS });
      await waitUntil("turn A's context", () => allContexts(f.cartesia).length > m.contexts + 1, 30_000);
      const at = now();
      await Bun.sleep(50);
      f.cartesia.setMode({ firstChunkDelayMs: 0 });
      return at;
    },
    heal: (f) => f.cartesia.setMode({ firstChunkDelayMs: 0 }),
  },
];

interface CellRun {
  call: PlacedCall;
  m: Mark;
  faultAt: number;
  heard: Heard;
  /** Turn A ended / turn B started and ended, capture time. */
  aEnd: number;
  bStart: number;
  bEnd: number;
}

async function runCell(lane: Lane, cell: Cell): Promise<CellRun> {
  const f = lane.fakes;
  const m = mark(f);
  let faultAt = Number.NaN;
  const gap = cell.gapMs ?? 1500 + apology.ms + 800;
  try {
    const call = await placeCall(lane.agent, {
      phrases: [PHRASE, PHRASE],
      leadSilenceMs: cell.leadMs ?? 1500,
      gapMs: gap,
      // Turn B of a lasting fault gets the apology again: listen until it has played. A lasting STT fault
      // is answered through pocketsphinx (a process per call, slower to its final than the fake Deepgram,
      // and slower still beside three other lanes on two cores): listen longer for its reply.
      listenMs: !cell.transient && cell.hears === "apology" ? gap : !cell.transient ? FALLBACK_LISTEN_MS : 3500,
      during: async () => {
        faultAt = await cell.inject(f, m, lane.agent);
      },
    });
    const name = `cloud-faults-${cell.provider}-${cell.fault}`;
    saveArtifactWav(name, call.heard);
    mkdirSync(ARTIFACT_DIR, { recursive: true });
    writeFileSync(join(ARTIFACT_DIR, `${name}.json`), JSON.stringify({ faultAt, phrases: [phraseTimes(call, 0), phraseTimes(call, 1)], record: call.record }, null, 1));
    if (cell.count401) lane.rejected401 += cell.count401(f, m);
    return { call, m, faultAt, heard: heard(call, f), aEnd: phraseTimes(call, 0).endMs, bStart: phraseTimes(call, 1).startMs, bEnd: phraseTimes(call, 1).endMs };
  } finally {
    cell.heal(f);
  }
}

function expectCallSurvived(lane: Lane, run: CellRun): void {
  const { call } = run;
  expect(call.sipp.exitCode, call.describe).toBe(0);
  const flow = call.sipp.messages.map((x) => `${x.direction} ${x.method ?? x.status}`);
  expect(flow.slice(-2), call.describe).toEqual(["sent BYE", "received 200"]);
  expect(call.record?.endReason, JSON.stringify(call.record)).toBe("remote_bye");
  expect(lane.agent.proc.running).toBe(true);
}

for (const provider of ["deepgram", "gemini", "cartesia"] as const) {
  describe(`${provider} fails during a call`, () => {
    for (const cell of CELLS.filter((c) => c.provider === provider)) {
      const label = `${provider} ${cell.fault}: the call survives, the caller hears ${cell.hears === "apology" ? "the apology" : "the reply through the fallback"}${cell.transient ? ", the next turn works" : ""}`;
      test.concurrent(
        label,
        () =>
          onLane(cell.lane ?? provider, async (lane) => {
            noteAttempt(label);
            const run = await runCell(lane, cell);
            const { heard: h, faultAt } = run;
            const summary = `fault at ${faultAt}; apologies at ${h.apologies.map((t) => t - faultAt)} ms, replies at ${h.replies.map((t) => t - faultAt)} ms, offline speech at ${h.fallback.map((t) => t - faultAt)} ms after it; turn A ended ${run.aEnd - faultAt}, B ${run.bStart - faultAt}…${run.bEnd - faultAt}\n${JSON.stringify(run.call.record?.turns)}`;
            expectCallSurvived(lane, run);
            expect(Number.isFinite(faultAt), "the fault was injected").toBe(true);
            if (cell.proof) expect(cell.proof(lane.fakes, run.m), `the fault reached the agent: ${summary}`).toBe(true);
            const deadline = faultAt + (cell.fault === "slow" ? SLOW_DEADLINE_MS : PROMPT_MS);
            if (cell.hears === "apology") {
              // The apology (or, where the agent switches to an offline provider instead, its speech).
              const answer = [...h.apologies, ...h.fallback];
              expect(answer.some((t) => t >= faultAt - 50 && t <= deadline), `apology within the deadline: ${summary}`).toBe(true);
            } else if (cell.fault === "slow") {
              expect(logsWith(lane.agent, "stt fallback in use").filter((l) => l.callId === run.call.record?.id), summary).toHaveLength(1);
              expect(run.call.record.providers, "the record names the STT that served the rest of the call").toEqual({ ...CONFIGURED, stt: "pocketsphinx (fallback)" });
            } else {
              // Turn A was being spoken when the STT failed: it is answered (replayed), or — on the
              // fallback — at least turn B is.
              if (cell.transient) expect(h.replies.some((t) => t > run.aEnd && t < run.bStart), `turn A answered: ${summary}`).toBe(true);
              else {
                expect(logsWith(lane.agent, "stt fallback in use").filter((l) => l.callId === run.call.record?.id), summary).toHaveLength(1);
                expect(run.call.record.providers, "the record names the STT that served the rest of the call").toEqual({ ...CONFIGURED, stt: "pocketsphinx (fallback)" });
              }
            }
            if (cell.transient || cell.hears === "reply") {
              expect(h.replies.some((t) => t > run.bEnd), `turn B answered: ${summary}`).toBe(true);
              const last = run.call.record.turns.filter((t: any) => t.speaker === "agent").at(-1);
              expect(last?.error, summary).toBeUndefined();
            } else {
              // A lasting fault: turn B is not answered by the failed provider, but the caller is not
              // left in silence (the apology again, or the offline provider's speech).
              expect(agentTalkspurts(run.call, { minGapMs: 400 }).some((s) => s.startMs > run.bEnd), `turn B gets an answer: ${summary}`).toBe(true);
            }
          }),
        // A 401 cell is not retried: its rejections count towards the lane's "key rejected once".
        { timeout: 240_000, retry: cell.count401 ? 0 : CELL_RETRIES },
      );
    }

    test.concurrent(
      `${provider}: afterwards the agent takes a clean call; "key rejected" was logged exactly once`,
      () =>
        onLane(provider, async (lane) => {
          const f = lane.fakes;
          const m = mark(f);
          const call = await placeCall(lane.agent, { phrases: [PHRASE], leadSilenceMs: 1500, listenMs: 3500, during: () => greetingDone(f, m) });
          expectCallSurvived(lane, { call } as CellRun);
          const h = heard(call, f);
          expect(h.replies.length, `greeting and reply: ${JSON.stringify(call.record?.turns)}`).toBe(2);
          expect(h.apologies).toHaveLength(0);
          expect(call.record.turns.every((t: any) => !t.error), JSON.stringify(call.record.turns)).toBe(true);
          const rejected = logsWith(lane.agent, "key rejected");
          expect(rejected.map((l) => l.provider)).toEqual([provider]);
          expect(lane.rejected401, "requests rejected with 401 in the 401 call").toBeGreaterThanOrEqual(2);
          expect(lane.agent.proc.stderr()).not.toMatch(/uncaught|unhandled|panic/i);
        }),
      240_000,
    );
  });
}

// ---------------------------------------------------------------- at call start

describe("a provider unreachable at call start is replaced by the offline one for that call", () => {
  /** Kills one relay before the call, revives it after. */
  const startCall = (provider: CloudProvider, check: (lane: Lane, call: PlacedCall, m: Mark) => void | Promise<void>) =>
    onLane("call-start", async (lane) => {
      noteAttempt(`${provider} unreachable`);
      const m = mark(lane.fakes);
      lane.fakes.relays[provider].kill();
      let call: PlacedCall;
      try {
        // 6 s before the caller speaks: the greeting restarted on the offline provider ends first even on a
        // loaded machine (flite's first audio came 2.6 s after the answer beside three other lanes in one CI
        // run, and a phrase at 4 s then cut it); the offline STT's reply gets FALLBACK_LISTEN_MS.
        call = await placeCall(lane.agent, { phrases: [PHRASE], leadSilenceMs: 6000, listenMs: FALLBACK_LISTEN_MS });
      } finally {
        lane.fakes.relays[provider].revive();
      }
      saveArtifactWav(`cloud-faults-call-start-${provider}`, call.heard);
      expectCallSurvived(lane, { call } as CellRun);
      await check(lane, call, m);
    });

  test.concurrent(
    "deepgram unreachable: the call uses the offline STT and still answers the caller",
    () =>
      startCall("deepgram", (lane, call, m) => {
        expect(logsWith(lane.agent, "stt fallback in use").filter((l) => l.callId === call.record.id)).toHaveLength(1);
        // The record names the provider that actually served each stage: the offline one for STT only.
        expect(call.record.providers).toEqual({ ...CONFIGURED, stt: "pocketsphinx (fallback)" });
        const h = heard(call, lane.fakes);
        expect(h.replies.some((t) => t > phraseTimes(call, 0).endMs), JSON.stringify(call.record.turns)).toBe(true);
      }),
    { timeout: 240_000, retry: CELL_RETRIES },
  );

  test.concurrent(
    "cartesia unreachable: the greeting and the reply are spoken by flite, not replaced by the apology",
    () =>
      startCall("cartesia", async (lane, call) => {
        expect(call.record.providers).toEqual({ ...CONFIGURED, tts: "flite (fallback)" });
        const greeting = await new FliteTts().synthesize8k(REPLY[0]!.trim());
        const h = heard(call, lane.fakes);
        expect(h.apologies, JSON.stringify(call.record.turns)).toHaveLength(0);
        expect(matchAudio(call.heard, greeting).score, "the greeting's first sentence in flite's voice").toBeGreaterThan(0.9);
        // Byte for byte: flite's first sentence of the greeting, and again of the reply to the caller.
        const spokenEnd = phraseTimes(call, 0).endMs;
        expect(h.fallback.filter((t) => t < spokenEnd), JSON.stringify(call.record.turns)).toHaveLength(1);
        expect(h.fallback.filter((t) => t > spokenEnd), JSON.stringify(call.record.turns)).toHaveLength(1);
        expect(call.record.turns.filter((t: any) => t.speaker === "agent" && t.error), JSON.stringify(call.record.turns)).toHaveLength(0);
      }),
    { timeout: 240_000, retry: CELL_RETRIES },
  );

  test.concurrent(
    "gemini unreachable: the offline dialogue speaks instead of an apology",
    () =>
      startCall("gemini", (lane, call, m) => {
        expect(call.record.providers).toEqual({ ...CONFIGURED, llm: "scripted (fallback)" });
        const h = heard(call, lane.fakes);
        expect(h.apologies, JSON.stringify(call.record.turns)).toHaveLength(0);
        const agentTurns = call.record.turns.filter((t: any) => t.speaker === "agent");
        expect(agentTurns.length).toBeGreaterThan(0);
        expect(agentTurns.filter((t: any) => t.error), JSON.stringify(call.record.turns)).toHaveLength(0);
        // What the offline dialogue said went through Cartesia and reached the caller: the greeting, and
        // an answer after the caller spoke.
        const said = allContexts(lane.fakes.cartesia)
          .slice(m.contexts)
          .filter((c) => c.ctx.done && c.ctx.bytesSent > 0)
          .map(({ conn, ctx }) => indexOfBytes(call.fromAgent, contextAudio(conn, ctx)))
          .filter((at) => at >= 0)
          .map((at) => arrivalOfByte(call, at));
        const spokenEnd = phraseTimes(call, 0).endMs;
        expect(said.filter((t) => t < spokenEnd).length, JSON.stringify(call.record.turns)).toBeGreaterThanOrEqual(1);
        expect(said.filter((t) => t > spokenEnd).length, JSON.stringify(call.record.turns)).toBeGreaterThanOrEqual(1);
      }),
    { timeout: 240_000, retry: CELL_RETRIES },
  );
});
