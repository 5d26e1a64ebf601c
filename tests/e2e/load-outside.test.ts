/**
 * bench:load's outside callers end to end (the short form of `bun run bench:load --callers outside`,
 * tests/support/load-outside.ts): 4 calls of 25 s, each from a different espeak-ng voice with −65 dBFS
 * line noise, two turns with a barge-in each, against the compiled agent and the cloud fakes. It proves
 * the harness, not a machine-dependent number: every call is answered and hears replies to its
 * sentences (so the voices' audio reached the agent as speech), the interruptions the script places
 * 2.2 s after each sentence land inside the agent's replies and the agent cuts them (so the barge-in
 * timing holds), and the row's wire measurements are taken.
 *
 * Slack for a busy machine: a reply that starts more than 2.2 s after its sentence (quiet: ~1.1–1.5 s)
 * is not playing when the caller interrupts; at least half of the eight interruptions must land in one,
 * and every reply they land in must be cut except at most one.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { gateFailures, loadTable } from "../support/load-gate.ts";
import { runLoad } from "../support/load.ts";
import { missingTools, stopAllManaged } from "../support/process.ts";

afterAll(() => stopAllManaged());

describe.skipIf(missingTools(["sipp", "dumpcap", "espeak-ng", "sox"]).length > 0)("load, outside callers (short form)", () => {
  test(
    "4 calls of 25 s, four voices: answered, replies heard, interruptions land in replies and cut them",
    async () => {
      const r = await runLoad({ pipeline: "cloud", callers: "outside", calls: 4, holdS: 25 });
      console.log(loadTable([r]));
      console.log(`gate (machine-dependent, not asserted): ${gateFailures(r).join("; ") || "pass"}`);
      expect(r.callers).toBe("outside");
      expect(r.streams).toBe(4);
      expect(r.callsWithReply).toBe(4);
      // Per call: the reply to each of two sentences and to each interruption (the last may meet the BYE).
      expect(r.replies).toBeGreaterThanOrEqual(12);
      expect(r.replyP50Ms).toBeGreaterThan(300); // after the STT's endpointing, not before
      expect(r.bargeIn!.interruptions).toBe(8);
      expect(r.bargeIn!.overlapped).toBeGreaterThanOrEqual(4);
      expect(r.bargeIn!.cut).toBeGreaterThanOrEqual(r.bargeIn!.overlapped - 1);
      expect(r.bargeIn!.p90Ms).toBeLessThan(1000);
      expect(r.optionsLost).toBe(0);
      expect(r.optionsMaxMs).toBeGreaterThan(0);
      expect(r.cpuPct).toBeGreaterThan(0);
      expect(r.gapP90Ms).toBeLessThanOrEqual(r.gapP99Ms);
      expect(r.pacerP99Ms).toBeGreaterThanOrEqual(0);
    },
    90_000, // ~30 s: a 25 s call, the agent's start, 4 voices rendered once (cached afterwards)
  );
});
