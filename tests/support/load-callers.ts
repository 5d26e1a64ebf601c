/**
 * bench:load's own callers (`--callers own`, the default): one SIPp process placing N calls at `rate`
 * a second, each `rtp_stream` looping the same flite utterance (tests/scenarios/inbound-call.xml), with
 * `bargeIn` an interruption into each reply, with `noiseDbfs` white line noise under the whole loop.
 * The outside callers are in load-outside.ts.
 */
import { freeUdpPort, freeUdpPortRange } from "./ports.ts";
import { spawnManaged, type ManagedProcess } from "./process.ts";
import { SCENARIO_DIR } from "./sipp.ts";
import { synthesizeCallerAudio, withNoise, writeG711File } from "./speech.ts";
import type { CallerTurn, LoadCallers } from "./load-turns.ts";

const CALLER_LINE = "I would like to book a table for two tonight, please.";
const CALLER_INTERRUPT = "Wait, sorry, one more thing.";
const CALLER_LEAD_MS = 3500;
const CALLER_TRAIL_MS = 5000;
/** With `bargeIn`: the interruption starts this long after the first utterance ends (the reply starts after ~1.2 s). */
export const BARGE_IN_AFTER_MS = 1900;

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
  const turns: CallerTurn[] = [];
  for (let k = 0; k * caller.durationMs < callMs + caller.durationMs; k++) {
    const shift = k * caller.durationMs;
    turns.push({ endMs: line!.endMs + shift, ...(interrupt ? { interruptMs: interrupt.startMs + shift, interruptEndMs: interrupt.endMs + shift } : {}) });
  }
  let sipp: ManagedProcess | undefined;
  return {
    rampMs,
    callMs,
    turnsOf: () => turns,
    async start(sipPort) {
      const localPort = await freeUdpPort();
      const mediaPort = await freeUdpPortRange(4 * o.calls + 8);
      sipp = spawnManaged(
        [
          "sipp", `127.0.0.1:${sipPort}`, "-sf", `${SCENARIO_DIR}/inbound-call.xml`, "-m", String(o.calls), "-l", String(o.calls),
          "-r", String(o.rate), "-rp", "1000", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", String(localPort), "-mp", String(mediaPort),
          "-key", "audio", `${audioPath},-1,0`, "-d", String(callMs), "-nostdin", "-s", "agent",
          "-timeout", `${Math.ceil(callMs / 1000) + 60}s`, "-timeout_error",
        ],
        { name: "sipp" },
      );
    },
    async finished() {
      const code = await sipp!.exited;
      return code === 0 ? [] : [`SIPp exit ${code}: ${sipp!.stderr().slice(-300)}`];
    },
  };
}
