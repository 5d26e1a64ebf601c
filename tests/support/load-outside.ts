/**
 * bench:load's outside callers (`--callers outside`): callers unlike bench:load's own looping ones, as
 * sessions 14–16 measured 200 calls with (their scripts were lost; this is that harness, kept):
 * - eight espeak-ng voices (en-us, en-gb, en-gb-scotland with the +m1…+f4 variants, 150–190 words a
 *   minute), spread over the calls, one SIPp process per voice (tests/scenarios/inbound-call.xml: the audio played once, then the BYE);
 * - each call `callMs` long (48 s: four turns) from a script rendered once per run: a sentence, then,
 *   OUTSIDE_INTERRUPT_AFTER_MS after it, a short interruption into the agent's reply (barge-in), the
 *   agent's answer to that, the next sentence; line noise (white, `noiseDbfs`, default −65 dBFS) under
 *   the whole call, silences included;
 * - 10 new calls a second up to N (the processes interleaved, one INVITE every 100 ms), each call placed once.
 *
 * The script is the same in time for every voice: each sentence ENDS at OUTSIDE_FIRST_TURN_END_MS +
 * k·OUTSIDE_TURN_MS and each interruption STARTS OUTSIDE_INTERRUPT_AFTER_MS later, whatever the voice's
 * length; only the interruption's end differs. Placed for the cloud fakes' timing (load.ts) and
 * OUTSIDE_REPLY (2.75 s of the TTS fake's speech): the reply starts ~1.1–1.5 s after a sentence (p90
 * under 2 s at 200 calls), so at +2.2 s it is playing, and its natural end (≥ 3.6 s after the sentence)
 * is more than BARGE_IN_CUT_MS after the interruption began: a reply that stops within that was cut.
 *
 * Audio: espeak-ng (22,050 Hz) → sox to 8 kHz (speech.ts, cached) → placed on the call's timeline →
 * noise → μ-law (our encoder) → a raw G.711 file that SIPp's `rtp_stream` plays once from a UDP socket
 * of each call. Not `play_pcap_audio`: SIPp 3.6.1 sends a pcap from a raw UDP socket per playing call,
 * and Linux hands every raw UDP socket a copy of each UDP datagram on the host (measured here: 200 such
 * sockets add ~9 µs to every datagram sent on lo, ~12 → ~21 µs): at 200 calls that charges ~9 % of a
 * core to the agent's own RTP sends — the harness would measure SIPp, not the agent.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeG711 } from "./g711.ts";
import { freeUdpPortRange } from "./ports.ts";
import { spawnManaged, type ManagedProcess } from "./process.ts";
import { SCENARIO_DIR } from "./sipp.ts";
import { speechPcm8k, withNoise } from "./speech.ts";
import type { CallerTurn, LoadCallers } from "./load-turns.ts";
import type { RtpStream } from "./rtp-streams.ts";

/** The voices, one SIPp process each (espeak-ng `-v VOICE+VARIANT -s WPM`). */
export const OUTSIDE_VOICES = [
  { voice: "en-us+m1", wpm: 150 },
  { voice: "en-gb+f2", wpm: 165 },
  { voice: "en-gb-scotland+m3", wpm: 180 },
  { voice: "en-us+f4", wpm: 190 },
  { voice: "en-gb+m4", wpm: 155 },
  { voice: "en-gb-scotland+f1", wpm: 170 },
  { voice: "en-us+m2", wpm: 185 },
  { voice: "en-gb+f3", wpm: 160 },
] as const;
const SENTENCES = ["I would like to book a table for two.", "Do you have anything near the window?", "Can we bring a small dog with us?", "Please put it under the name Miller."];
const INTERRUPTIONS = ["Hold on a second.", "No wait, listen.", "Sorry, wait.", "Wait, one moment."];

/** The first sentence ends this long after the call's audio starts (the greeting has played), ms. */
export const OUTSIDE_FIRST_TURN_END_MS = 7500;
/** One turn: sentence, reply, interruption, the reply to it; ms. */
export const OUTSIDE_TURN_MS = 10_800;
/** The interruption starts this long after the sentence ends (into the reply), ms. */
export const OUTSIDE_INTERRUPT_AFTER_MS = 2200;
/** The longest sentence and interruption the timeline has room for, ms (a voice's longer one is an error). */
const MAX_SENTENCE_MS = 2800;
const MAX_INTERRUPT_MS = 1800;
/** A turn is in the call only if the call goes on this long after its interruption could end, ms. */
const TURN_TAIL_MS = 2000;
/** Below this a sample is quiet (about −44 dBFS): espeak-ng's own lead and trail silence is cut. */
const QUIET = 200;
const RATE = 8000;

/**
 * The agent's replies for outside callers (greeting and every turn; one LLM chunk per string): 560
 * characters, 2.75 s of the TTS fake's speech (5 ms a character).
 */
export const OUTSIDE_REPLY = [
  "Of course, I can help you with that, and thank you for calling us today. ",
  "Let me have a quick look at what we still have free this evening for you. ",
  "There is a quiet table by the window at half past seven, which is lovely, ",
  "and another one on the terrace at eight, if you would rather sit outside. ",
  "Both come with our seasonal menu and a glass of something to start with. ",
  "Shall I hold one of them for you while you decide which suits you best? ",
  "Just tell me which one and the name for the booking, please, thank you.",
  " We look forward to seeing you tonight.",
];

/** The sentence ends and interruption starts of a call of `callMs` (the turns that fit), ms. */
export function outsideTurnTimes(callMs: number): { endMs: number; interruptMs: number }[] {
  const out: { endMs: number; interruptMs: number }[] = [];
  for (let k = 0; ; k++) {
    const endMs = OUTSIDE_FIRST_TURN_END_MS + k * OUTSIDE_TURN_MS;
    const interruptMs = endMs + OUTSIDE_INTERRUPT_AFTER_MS;
    if (interruptMs + MAX_INTERRUPT_MS + TURN_TAIL_MS > callMs) return out;
    out.push({ endMs, interruptMs });
  }
}

/** `pcm` without the quiet samples before its first and after its last loud one. */
function trimQuiet(pcm: Int16Array): Int16Array {
  let a = 0;
  let b = pcm.length;
  while (a < b && Math.abs(pcm[a]!) < QUIET) a++;
  while (b > a && Math.abs(pcm[b - 1]!) < QUIET) b--;
  return pcm.subarray(a, b);
}

/**
 * One voice's call: `callMs` of μ-law with its sentences and interruptions where outsideTurnTimes puts
 * them, and white noise of `noiseDbfs` under all of it; written to `path`.
 * @returns the caller's turns (with the interruptions' ends, which depend on the voice).
 * @throws Error when espeak-ng or sox fails, or a phrase is longer than the timeline has room for.
 */
export async function renderOutsideCall(voice: { voice: string; wpm: number }, callMs: number, noiseDbfs: number, seed: number, path: string): Promise<CallerTurn[]> {
  const pcm = new Int16Array(Math.round((callMs * RATE) / 1000));
  const place = async (text: string, maxMs: number, at: (lenMs: number) => number) => {
    const speech = trimQuiet(await speechPcm8k(text, { engine: "espeak-ng", voice: voice.voice, wpm: voice.wpm }));
    const lenMs = (speech.length * 1000) / RATE;
    if (lenMs > maxMs) throw new Error(`outside caller ${voice.voice} at ${voice.wpm} wpm: "${text}" lasts ${lenMs.toFixed(0)} ms, more than the ${maxMs} ms the script has for it`);
    const startMs = at(lenMs);
    pcm.set(speech, Math.round((startMs * RATE) / 1000));
    return startMs + lenMs;
  };
  const turns: CallerTurn[] = [];
  for (const [k, t] of outsideTurnTimes(callMs).entries()) {
    await place(SENTENCES[k % SENTENCES.length]!, MAX_SENTENCE_MS, (len) => t.endMs - len);
    const interruptEndMs = await place(INTERRUPTIONS[k % INTERRUPTIONS.length]!, MAX_INTERRUPT_MS, () => t.interruptMs);
    turns.push({ endMs: t.endMs, interruptMs: t.interruptMs, interruptEndMs });
  }
  writeFileSync(path, encodeG711(withNoise(pcm, noiseDbfs, seed), "mulaw"));
  return turns;
}

export interface OutsideCallerOptions {
  calls: number;
  /** New calls a second, all processes together (default of bench:load --callers outside: 10). */
  rate: number;
  /** Each call's length, ACK to BYE, ms (48,000: four turns). */
  callMs: number;
  /** Line noise under the callers' audio, dBFS RMS. */
  noiseDbfs: number;
  /** A folder for the rendered calls (the row's temp dir). */
  dir: string;
}

/**
 * Renders each voice's call and returns the callers, not started yet.
 * @throws Error when the call is too short for one turn, or rendering fails.
 */
export async function prepareOutsideCallers(o: OutsideCallerOptions): Promise<LoadCallers> {
  if (outsideTurnTimes(o.callMs).length === 0) throw new Error(`outside calls of ${o.callMs} ms have no room for a turn`);
  const voices = OUTSIDE_VOICES.slice(0, Math.min(OUTSIDE_VOICES.length, o.calls));
  const groups = await Promise.all(
    voices.map(async (v, i) => {
      const file = join(o.dir, `outside-${i}.ulaw`);
      const turns = await renderOutsideCall(v, o.callMs, o.noiseDbfs, 0x2545f491 + i, file);
      // Calls spread evenly: the first N mod K voices take one more.
      const calls = Math.floor(o.calls / voices.length) + (i < o.calls % voices.length ? 1 : 0);
      return { file, turns, calls, sipPort: 0, mediaPort: 0, span: 4 * calls + 8, sipp: undefined as ManagedProcess | undefined };
    }),
  );
  return {
    rampMs: Math.ceil((o.calls / o.rate) * 1000),
    callMs: o.callMs,
    // SIPp's rtp_stream ports of a process lie in [-mp, -mp + span): the agent's stream goes to one of them.
    turnsOf: (s: RtpStream) => groups.find((g) => s.dst.port >= g.mediaPort && s.dst.port < g.mediaPort + g.span)?.turns ?? [],
    async start(sipPort) {
      // One free range for all: each process's SIP port, then its media ports.
      let port = await freeUdpPortRange(groups.reduce((n, g) => n + 2 + g.span, 0));
      for (const g of groups) {
        g.sipPort = port;
        g.mediaPort = port + 2;
        port += 2 + g.span;
      }
      // Interleaved, one call every 1/rate s in all: process i starts i/rate s in and places a call every
      // K/rate s (K processes), so no two INVITEs leave at once (the agent holds a source to
      // SIP_MAX_PENDING_PER_SOURCE unconfirmed calls, at most MAX_CALLS/2).
      const everyMs = 1000 / o.rate;
      for (const [i, g] of groups.entries()) {
        if (i > 0) await Bun.sleep(everyMs);
        g.sipp = spawnManaged(
          [
            "sipp", `127.0.0.1:${sipPort}`, "-sf", `${SCENARIO_DIR}/inbound-call.xml`, "-m", String(g.calls), "-l", String(g.calls),
            "-r", "1", "-rp", String(Math.round(groups.length * everyMs)), "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", String(g.sipPort),
            "-mp", String(g.mediaPort), "-key", "audio", `${g.file},1,0`, "-d", String(o.callMs), "-nostdin", "-s", "agent",
            "-timeout", `${Math.ceil((groups.length * everyMs * g.calls + o.callMs) / 1000) + 60}s`, "-timeout_error",
          ],
          { name: "sipp-outside" },
        );
      }
    },
    async finished() {
      const fails: string[] = [];
      for (const [i, g] of groups.entries()) {
        const code = await g.sipp!.exited;
        if (code !== 0) fails.push(`SIPp (${voices[i]!.voice}) exit ${code}: ${g.sipp!.stderr().slice(-300)}`);
      }
      return fails;
    },
  };
}
