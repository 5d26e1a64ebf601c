/**
 * bench:load's own callers (`--callers own`, the default): one SIPp process placing N calls at `rate`
 * a second, each `rtp_stream` looping the same flite utterance (tests/scenarios/inbound-call.xml), with
 * `bargeIn` an interruption into each reply, with `noiseDbfs` white line noise under the whole loop.
 * With `wave`, a second SIPp places `wave.calls` of the N calls (interleaved in the same ramp) whose BYEs
 * all go out together at the end of the full-load window (tests/scenarios/inbound-call-wave.xml: a hang-up
 * wave), while the other calls go on WAVE_OTHERS_MS longer, so what the wave costs them can be read. With
 * `wave.by` "rtp" that SIPp is killed there instead (a trunk failing: no BYE, the RTP stops) and the agent's
 * RTP_TIMEOUT_S (`wave.rtpTimeoutMs`) ends those calls, in its pacer's ticks.
 * The outside callers are in load-outside.ts.
 */
import { freeUdpPort, freeUdpPortRange } from "./ports.ts";
import { spawnManaged, type ManagedProcess } from "./process.ts";
import { SCENARIO_DIR } from "./sipp.ts";
import { synthesizeCallerAudio, withNoise, writeG711File } from "./speech.ts";
import type { CallerTurn, HangupWave, LoadCallers } from "./load-turns.ts";

const CALLER_LINE = "I would like to book a table for two tonight, please.";
const CALLER_INTERRUPT = "Wait, sorry, one more thing.";
const CALLER_LEAD_MS = 3500;
const CALLER_TRAIL_MS = 5000;
/** With `bargeIn`: the interruption starts this long after the first utterance ends (the reply starts after ~1.2 s). */
export const BARGE_IN_AFTER_MS = 1900;
/** With a hang-up wave: the calls not in it last this much longer than `callMs`, so they are up for the wave and after it, ms. */
export const WAVE_OTHERS_MS = 6000;

export interface OwnCallerOptions {
  calls: number;
  /** New calls a second. */
  rate: number;
  /** Time all calls are up together, s (each call lasts the ramp plus this). */
  holdS: number;
  /** Each loop adds "Wait, sorry, one more thing." `bargeInAfterMs` (default BARGE_IN_AFTER_MS) after the utterance. */
  bargeIn?: boolean;
  bargeInAfterMs?: number;
  /** White noise of this level (dBFS RMS) under the whole loop; default none (digital silence). */
  noiseDbfs?: number;
  /**
   * A hang-up wave, `callMs` after the first call's start: this many of the calls send their BYEs within
   * `spreadMs` of each other (0: at once), or with `by` "rtp" their RTP stops then (and the agent's RTP
   * timeout, `rtpTimeoutMs`, ends them).
   */
  wave?: { calls: number; spreadMs: number; by?: "bye" | "rtp"; rtpTimeoutMs?: number };
}

/** Synthesizes the loop (cached) and returns the callers, not started yet. @throws Error when flite or sox fails. */
export async function prepareOwnCallers(o: OwnCallerOptions): Promise<LoadCallers> {
  const caller = await synthesizeCallerAudio(
    o.bargeIn ? [CALLER_LINE, { silenceMs: o.bargeInAfterMs ?? BARGE_IN_AFTER_MS }, CALLER_INTERRUPT] : [CALLER_LINE],
    { leadSilenceMs: CALLER_LEAD_MS, trailSilenceMs: CALLER_TRAIL_MS },
  );
  const audioPath = o.noiseDbfs === undefined ? caller.path : writeG711File(withNoise(caller.pcm, o.noiseDbfs));
  const rampMs = Math.ceil((o.calls / o.rate) * 1000);
  const callMs = rampMs + o.holdS * 1000;
  // The loop repeats every durationMs: utterance k ends at end + k·period (and its interruption likewise).
  const [line, interrupt] = caller.phrases;
  const w = o.wave;
  const byRtp = w?.by === "rtp";
  const wave = w && w.calls > 0 ? { calls: Math.min(w.calls, o.calls), spreadMs: byRtp ? 0 : Math.max(0, w.spreadMs) } : undefined;
  let killer: ReturnType<typeof setTimeout> | undefined;
  const othersMs = wave ? callMs + WAVE_OTHERS_MS : callMs;
  const turns: CallerTurn[] = [];
  for (let k = 0; k * caller.durationMs < othersMs + caller.durationMs; k++) {
    const shift = k * caller.durationMs;
    turns.push({ endMs: line!.endMs + shift, ...(interrupt ? { interruptMs: interrupt.startMs + shift, interruptEndMs: interrupt.endMs + shift } : {}) });
  }
  const sipps: ManagedProcess[] = [];
  const callers: LoadCallers = {
    rampMs,
    callMs,
    turnsOf: () => turns,
    async start(sipPort) {
      // One SIPp per kind of call, each spreading its calls over the ramp: together o.calls at o.rate, interleaved.
      const at = Date.now() + callMs;
      // The ends are expected at `at` (BYEs), or one RTP timeout after it (the wave's SIPp killed at `at`).
      if (wave) callers.wave = { ...wave, atMs: byRtp ? at + (w!.rtpTimeoutMs ?? 0) : at };
      const groups = [
        { calls: o.calls - (wave?.calls ?? 0), scenario: "inbound-call", args: ["-d", String(othersMs)] },
        ...(wave ? [byRtp ? { calls: wave.calls, scenario: "inbound-call", args: ["-d", String(2 * othersMs)], killAt: at } : { calls: wave.calls, scenario: "inbound-call-wave", args: waveArgs({ ...wave, atMs: at }) }] : []),
      ].filter((g) => g.calls > 0);
      for (const g of groups as Array<{ calls: number; scenario: string; args: string[]; killAt?: number }>) {
        const localPort = await freeUdpPort();
        const mediaPort = await freeUdpPortRange(4 * g.calls + 8);
        const sipp = spawnManaged(
          [
            "sipp", `127.0.0.1:${sipPort}`, "-sf", `${SCENARIO_DIR}/${g.scenario}.xml`, "-m", String(g.calls), "-l", String(g.calls),
            "-r", String(g.calls), "-rp", String(rampMs), "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", String(localPort), "-mp", String(mediaPort),
            "-key", "audio", `${audioPath},-1,0`, ...g.args, "-nostdin", "-s", "agent",
            "-timeout", `${Math.ceil(othersMs / 1000) + 60}s`, "-timeout_error",
          ],
          { name: "sipp" },
        );
        if (g.killAt === undefined) sipps.push(sipp);
        else killer = setTimeout(() => void sipp.stop({ signal: "SIGKILL", graceMs: 0 }), g.killAt - Date.now()); // its calls' RTP stops, no BYE
      }
    },
    async finished() {
      const lines: string[] = [];
      for (const sipp of sipps) {
        const code = await sipp.exited;
        if (code !== 0) lines.push(`SIPp exit ${code}: ${sipp.stderr().slice(-300)}`);
      }
      clearTimeout(killer);
      return lines;
    },
  };
  return callers;
}

/** inbound-call-wave.xml's globals: call k's BYE at `atMs` (epoch) + (k − 1) · spreadMs / (calls − 1). */
function waveArgs(wave: HangupWave): string[] {
  return ["-set", "hangup_at", String(Math.round(wave.atMs)), "-set", "step_ms", (wave.calls > 1 ? wave.spreadMs / (wave.calls - 1) : 0).toFixed(3)];
}
