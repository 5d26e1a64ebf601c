/**
 * bench-latency: the part of voice-to-voice latency that is ours — from the final transcript to the
 * first RTP packet of the reply — measured on the compiled agent with provider fakes that answer at
 * once (Deepgram, Gemini, Cartesia protocol fakes from tests/fakes), calls placed with SIPp.
 *
 *   bun run scripts/bench-latency.ts                  24 turns (4 calls × 6 turns)
 *   bun run scripts/bench-latency.ts --turns 40 --per-call 8
 *   END_OF_TURN_SILENCE_MS=500 bun run scripts/bench-latency.ts    (passed to the agent)
 *   --pauses N   repetitions of the pause cases (default 2; 0 skips them)
 *   --binary PATH   another compiled agent (a "before" build, for same-hour before/after pairs)
 *   --relay         reach the fakes through the test relays (tests/e2e/cloud-support.ts), as the bench did
 *                   before December 2026: each relay hop adds a pass through this process's event loop
 *   --dump FILE     the per-turn wire timestamps as JSON lines (for a closer look)
 *   --agent-env K=V more environment for the agent (repeatable), e.g. --agent-env MEDIA_WORKER=on
 *
 * Two independent views per turn:
 *  - wire: timestamps taken in this process when a fake sent the final transcript, received the LLM
 *    request, received the first TTS text, sent the first audio chunk, and when the first RTP packet of
 *    the reply reached the caller's port (dumpcap capture); the fakes add no delay of their own;
 *  - agent: the per-turn latency the agent recorded (GET /calls/:id, `turns[].latency`), all counted
 *    from the end of the caller's speech as its VAD saw it.
 * The other side of the trade (pause cases, one call each): the caller says a first part, pauses 700 ms
 * (audible end → audible start), then says the rest; one caller turn and one reply = merged, two =
 * split. Cases: a dangling word ("I'd like to book a …"), an unpunctuated fragment that could be
 * finished ("I would like to book a study room …"), and a finished sentence followed by more.
 *
 * The Deepgram fake's transcripts are written as Deepgram's smart_format (which the agent requests)
 * writes them: capitalised and punctuated.
 *
 * Prints markdown tables (p50, p99, mean, max in ms). Needs sipp, dumpcap (tshark), flite, sox.
 * Not part of `bun test`.
 */
import { appendFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { startAgent, type RunningAgent } from "../tests/e2e/agent.ts";
import {
  agentTalkspurts,
  allContexts,
  percentile,
  placeCall,
  repeatLine,
  startCloudFakes,
  type CloudFakes,
  type PlacedCall,
} from "../tests/e2e/cloud-support.ts";
import { stopAllManaged } from "../tests/support/process.ts";
import { speechPcm8k, synthesizeCallerAudio } from "../tests/support/speech.ts";
import { offsetOf, onsetOf } from "../tests/e2e/turn-support.ts";

const { values: opt } = parseArgs({
  options: {
    turns: { type: "string", default: "24" },
    "per-call": { type: "string", default: "6" },
    pauses: { type: "string", default: "2" },
    binary: { type: "string" },
    relay: { type: "boolean", default: false },
    dump: { type: "string" },
    "agent-env": { type: "string", multiple: true },
  },
});
const AGENT_OPTS = opt.binary ? { binary: opt.binary } : {};
const loadAvg = () => loadavg().map((x) => x.toFixed(1)).join(" ");
const TURNS = Math.max(1, Number(opt.turns));
const PER_CALL = Math.max(1, Number(opt["per-call"]));
const PAUSE_REPEATS = Math.max(0, Number(opt.pauses));

/** Pause cases: first part, 700 ms pause, second part; what a good end-of-turn decision does with it. */
const PAUSE_MS = 700;
const PAUSE_CASES = [
  { name: "dangling word", parts: ["I'd like to book a", "table for two tomorrow."], want: "merged" },
  { name: "unpunctuated fragment", parts: ["I would like to book a study room", "for tomorrow afternoon."], want: "merged" },
  { name: "finished sentence, then more", parts: ["I need a table.", "For two people at eight."], want: "either" },
] as const;

const PHRASE = "A table for two, please.";
const REPLY = ["Certainly. ", "What time would you like?"];
/** Silence after each phrase (ms): end of turn (~0.9 s) + the reply (~0.25 s of tone) + margin. */
const GAP_MS = 2400;

/** Wall-clock ms (epoch, sub-ms), comparable with the capture's timestamps. */
const wall = () => performance.timeOrigin + performance.now();

/** Timestamps of what the fakes sent and received, taken as it happens (array `push` hooks). */
class FakeClock {
  finals: number[] = [];
  geminiRequests: number[] = [];
  /** context id → first text received / first chunk sent. */
  ctxText = new Map<string, number>();
  ctxChunk = new Map<string, number>();
  private hooked = new WeakSet<object>();
  private timer: ReturnType<typeof setInterval>;

  constructor(private readonly f: CloudFakes) {
    this.hook(f.gemini.requests, () => this.geminiRequests.push(wall()));
    // Connections appear during calls; hook each one as soon as it exists (polled every 2 ms — long
    // before its first final or chunk, which come hundreds of ms after the handshake).
    this.timer = setInterval(() => this.scan(), 2);
  }

  private hook<T>(arr: T[], on: (x: T) => void): void {
    if (this.hooked.has(arr)) return;
    this.hooked.add(arr);
    const push = arr.push.bind(arr);
    arr.push = (...xs: T[]) => {
      for (const x of xs) on(x);
      return push(...xs);
    };
  }

  private scan(): void {
    for (const c of this.f.deepgram.connections) {
      this.hook(c.sent, (m: any) => {
        if (m.type === "Results" && m.is_final && m.channel?.alternatives?.[0]?.transcript) this.finals.push(wall());
      });
    }
    for (const c of this.f.cartesia.connections) {
      this.hook(c.received, (m: any) => {
        if (typeof m.context_id === "string" && m.transcript && !this.ctxText.has(m.context_id)) this.ctxText.set(m.context_id, wall());
      });
      this.hook(c.sent, (m: any) => {
        if (m.type === "chunk" && !this.ctxChunk.has(m.context_id)) this.ctxChunk.set(m.context_id, wall());
      });
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

interface TurnSample {
  /** Wire view, ms. */
  finalToRequest: number;
  holdMs: number;
  requestToTtsText: number;
  ttsTextToChunk: number;
  chunkToRtp: number;
  finalToRtp: number;
  /** Agent view (recorded latency), ms. */
  rec: { finalTranscriptMs: number; firstTokenMs: number; firstAudioMs: number; firstRtpMs: number };
}

async function runCall(agent: RunningAgent, f: CloudFakes, clock: FakeClock, turns: number): Promise<{ samples: TurnSample[]; problems: string[] }> {
  const m = { finals: clock.finals.length, gemini: clock.geminiRequests.length, contexts: allContexts(f.cartesia).length };
  const phrases = repeatLine(PHRASE, turns);
  const call: PlacedCall = await placeCall(agent, { phrases, leadSilenceMs: 1500, gapMs: GAP_MS, listenMs: 2500 });
  const problems: string[] = [];
  if (call.sipp.exitCode !== 0) problems.push(`SIPp failed:\n${call.describe}`);
  await Bun.sleep(50);
  const finals = clock.finals.slice(m.finals);
  const requests = clock.geminiRequests.slice(m.gemini + 1); // [0] is the greeting
  const contexts = allContexts(f.cartesia).slice(m.contexts + 1).map(({ ctx }) => ctx.contextId);
  const spurts = agentTalkspurts(call).slice(1); // [0] is the greeting
  const agentTurns = (call.record?.turns ?? []).filter((t: any) => t.speaker === "agent" && t.latency?.finalTranscriptMs !== undefined);
  const callerTurns = (call.record?.turns ?? []).filter((t: any) => t.speaker === "caller");
  const n = [finals.length, requests.length, contexts.length, spurts.length, agentTurns.length, callerTurns.length];
  if (new Set(n).size !== 1 || n[0] !== turns) {
    problems.push(`turn count mismatch (finals, LLM requests, TTS contexts, talkspurts, agent turns, caller turns) = ${n.join(", ")}; expected ${turns}`);
    return { samples: [], problems };
  }
  const samples: TurnSample[] = [];
  for (let i = 0; i < turns; i++) {
    const text = clock.ctxText.get(contexts[i]!)!;
    const chunk = clock.ctxChunk.get(contexts[i]!)!;
    const turnAt = Date.parse(callerTurns[i].at);
    const l = agentTurns[i].latency;
    samples.push({
      finalToRequest: requests[i]! - finals[i]!,
      holdMs: turnAt - finals[i]!,
      requestToTtsText: text - requests[i]!,
      ttsTextToChunk: chunk - text,
      chunkToRtp: spurts[i]!.startMs - chunk,
      finalToRtp: spurts[i]!.startMs - finals[i]!,
      rec: l,
    });
    if (opt.dump) {
      const line = { final: finals[i], request: requests[i], ttsText: text, chunk, rtp: spurts[i]!.startMs, turnAt, rec: l };
      appendFileSync(opt.dump, JSON.stringify(line) + "\n");
    }
  }
  return { samples, problems };
}

function row(name: string, xs: number[]): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return `| ${name} | ${f(percentile(xs, 50))} | ${f(percentile(xs, 99))} | ${f(mean)} | ${f(Math.max(...xs))} |`;
}

async function main(): Promise<number> {
  const phraseMs = (await synthesizeCallerAudio(PHRASE, { leadSilenceMs: 0, trailSilenceMs: 0 })).durationMs;
  const calls = Math.ceil(TURNS / PER_CALL);
  console.error(`bench-latency: ${TURNS} turns in ${calls} call(s), phrase ${phraseMs.toFixed(0)} ms, gap ${GAP_MS} ms`);
  const load0 = loadAvg();
  const fakes = startCloudFakes({ script: repeatLine(PHRASE, TURNS * 2 + 10), reply: REPLY, direct: !opt.relay });
  const clock = new FakeClock(fakes);
  const passEnv: Record<string, string> = {};
  for (const k of ["END_OF_TURN_SILENCE_MS", "END_OF_TURN_MAX_SILENCE_MS", "END_OF_TURN_COMPLETE_SILENCE_MS", "END_OF_TURN_PAUSE_MS", "BARGE_IN"]) if (process.env[k]) passEnv[k] = process.env[k]!;
  for (const kv of opt["agent-env"] ?? []) {
    const i = kv.indexOf("=");
    if (i <= 0) throw new Error(`--agent-env wants K=V, got "${kv}"`);
    passEnv[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const agent = await startAgent(fakes.env(passEnv), undefined, AGENT_OPTS);
  const all: TurnSample[] = [];
  const problems: string[] = [];
  try {
    for (let c = 0, left = TURNS; left > 0; c++, left -= PER_CALL) {
      const r = await runCall(agent, fakes, clock, Math.min(PER_CALL, left));
      all.push(...r.samples);
      problems.push(...r.problems.map((p) => `call ${c + 1}: ${p}`));
      console.error(`  call ${c + 1}/${calls}: ${r.samples.length} turns measured${r.problems.length ? " (problems)" : ""}`);
    }
  } finally {
    clock.stop();
    await agent.stop();
    await fakes.close();
    await stopAllManaged();
  }
  const col = (k: keyof Omit<TurnSample, "rec">) => all.map((s) => s[k]);
  const rec = (fn: (r: TurnSample["rec"]) => number) => all.map((s) => fn(s.rec));
  const eot = passEnv.END_OF_TURN_SILENCE_MS ?? "900 (default)";
  console.log(`\n## Our latency per turn, final transcript → first RTP packet of the reply (${all.length} turns, fakes answer at once)\n`);
  console.log(`END_OF_TURN_SILENCE_MS = ${eot}. Wire view: timestamps in the benchmark process and the capture.`);
  console.log(`Agent: ${opt.binary ?? "dist/voice-agent"}${opt["agent-env"]?.length ? ` with ${opt["agent-env"].join(" ")}` : ""}; fakes ${opt.relay ? "through the test relays" : "reached directly"}; load average (1/5/15 min) ${load0} at the start, ${loadAvg()} at the end (2-core machine).\n`);
  console.log("| part (wire view) | p50 ms | p99 ms | mean ms | max ms |\n| --- | ---: | ---: | ---: | ---: |");
  console.log(row("**final transcript → first RTP (ours, total)**", col("finalToRtp")));
  console.log(row("final → LLM request received", col("finalToRequest")));
  console.log(row("  of which end-of-turn hold (final → turn decided, agent log ms)", col("holdMs")));
  console.log(row("LLM request (≈ first token sent) → first TTS text received", col("requestToTtsText")));
  console.log(row("first TTS text → first audio chunk sent (the fake)", col("ttsTextToChunk")));
  console.log(row("first audio chunk sent → first RTP packet at the caller", col("chunkToRtp")));
  console.log("\n| part (agent's record, from VAD end of speech) | p50 ms | p99 ms | mean ms | max ms |\n| --- | ---: | ---: | ---: | ---: |");
  console.log(row("**final transcript → first RTP (firstRtpMs − finalTranscriptMs)**", rec((r) => r.firstRtpMs - r.finalTranscriptMs)));
  console.log(row("final → first token", rec((r) => r.firstTokenMs - r.finalTranscriptMs)));
  console.log(row("first token → first audio", rec((r) => r.firstAudioMs - r.firstTokenMs)));
  console.log(row("first audio → first RTP", rec((r) => r.firstRtpMs - r.firstAudioMs)));
  console.log(row("(end of speech → final transcript: the STT's part)", rec((r) => r.finalTranscriptMs)));
  console.log(row("(end of speech → first RTP: voice-to-voice seen by the agent)", rec((r) => r.firstRtpMs)));
  if (PAUSE_REPEATS > 0) await pauseCases(passEnv, problems);
  if (problems.length) {
    console.log(`\nProblems:\n${problems.map((p) => `- ${p}`).join("\n")}`);
    return 1;
  }
  return all.length >= Math.min(20, TURNS) ? 0 : 1;
}

process.exit(await main());

/**
 * Runs each pause case PAUSE_REPEATS times and prints merged/split counts. Each call gets its own fakes
 * and agent, so the Deepgram fake's script (one line per stretch of speech) cannot drift between calls.
 */
async function pauseCases(passEnv: Record<string, string>, problems: string[]): Promise<void> {
  const rows: string[] = [];
  for (const c of PAUSE_CASES) {
    let merged = 0;
    let split = 0;
    const lat: number[] = [];
    for (let i = 0; i < PAUSE_REPEATS; i++) {
      const fakes = startCloudFakes({ script: [...c.parts, ...c.parts], reply: REPLY, direct: !opt.relay });
      const agent = await startAgent(fakes.env(passEnv), undefined, AGENT_OPTS);
      try {
        const [a, b] = await Promise.all(c.parts.map((t) => speechPcm8k(t)));
        // Explicit silence so that audible end → audible start is PAUSE_MS (flite pads its output).
        const silenceMs = Math.max(0, PAUSE_MS - (a!.length / 8 - offsetOf(a!)) - onsetOf(b!));
        const call = await placeCall(agent, { phrases: [c.parts[0], { silenceMs }, c.parts[1]], leadSilenceMs: 1500, listenMs: 3000 });
        if (call.sipp.exitCode !== 0) problems.push(`pause case "${c.name}": SIPp failed`);
        const turns = call.record?.turns ?? [];
        const callerTurns = turns.filter((t: any) => t.speaker === "caller");
        const replies = turns.filter((t: any) => t.speaker === "agent").length - 1; // [0] is the greeting
        if (callerTurns.length === 1 && replies === 1) merged++;
        else split++;
        const last = turns.filter((t: any) => t.speaker === "agent" && t.latency?.firstRtpMs !== undefined).at(-1);
        if (last) lat.push(last.latency.firstRtpMs);
        console.error(`  pause case "${c.name}" ${i + 1}/${PAUSE_REPEATS}: ${callerTurns.length} caller turn(s), ${replies} repl(y/ies)`);
      } finally {
        await agent.stop();
        await fakes.close();
        await stopAllManaged();
      }
    }
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : "–");
    rows.push(`| ${c.name}: “${c.parts[0]}” · ${PAUSE_MS} ms · “${c.parts[1]}” | ${c.want} | ${merged} | ${split} | ${f(percentile(lat, 50))} |`);
  }
  console.log(`\n## Pause cases (${PAUSE_MS} ms pause inside the caller's turn; ${PAUSE_REPEATS} calls each)\n`);
  console.log("| case | wanted | merged (1 caller turn, 1 reply) | split | end of speech → first RTP of the last reply, p50 ms |\n| --- | --- | ---: | ---: | ---: |");
  console.log(rows.join("\n"));
}
