/**
 * The short form of the load benchmark (scripts/bench-load.ts runs up to 200 calls, pinned): 20 cloud
 * calls for 20 s against the compiled agent, with the provider fakes at realistic latency. It checks the
 * gate's shape, not a machine-dependent number: every call is answered and hears replies after the
 * greeting, the wire measurements (gaps inside phrases, silence frames, OPTIONS during load, CPU, RSS,
 * the agent's pacer lateness) are all taken and coherent, and callers who interrupt the replies cut
 * them (barge-in under load). The row is printed.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { gateFailures, loadTable } from "../support/load-gate.ts";
import { runLoad } from "../support/load.ts";
import { missingTools, stopAllManaged } from "../support/process.ts";

afterAll(() => stopAllManaged());

describe.skipIf(missingTools(["sipp", "dumpcap", "taskset"]).length > 0)("load (short form)", () => {
  test(
    "20 calls for 20 s: every call hears replies, interruptions cut them; gaps, silence frames, OPTIONS, CPU and pacer measured",
    async () => {
      const r = await runLoad({ pipeline: "cloud", calls: 20, holdS: 20, bargeIn: true });
      console.log(loadTable([r]));
      console.log(`gate (machine-dependent, not asserted): ${gateFailures(r).join("; ") || "pass"}`);
      expect(r.streams).toBe(20);
      expect(r.callsWithReply).toBe(20);
      expect(r.replies).toBeGreaterThanOrEqual(20);
      expect(r.replyP50Ms).toBeGreaterThan(300); // after the STT's endpointing, not before
      expect(r.replyP90Ms).toBeGreaterThanOrEqual(r.replyP50Ms);
      expect(r.cpuPct).toBeGreaterThan(0);
      expect(r.cpuPct).toBeLessThan(250);
      expect(r.rssMiB).toBeGreaterThan(20);
      expect(r.gapP50Ms).toBeLessThanOrEqual(r.gapP90Ms);
      expect(r.gapP90Ms).toBeLessThanOrEqual(r.gapP99Ms);
      expect(r.gapP99Ms).toBeLessThanOrEqual(r.gapMaxMs);
      expect(r.optionsLost).toBe(0);
      expect(r.optionsMaxMs).toBeGreaterThan(0);
      expect(r.pacerP99Ms).toBeGreaterThanOrEqual(0);
      // Callers interrupt each reply: replies were playing when they did, and interruptions cut them.
      expect(r.bargeIn!.overlapped).toBeGreaterThanOrEqual(10);
      expect(r.bargeIn!.cut).toBeGreaterThan(r.bargeIn!.overlapped / 2);
    },
    180_000,
  );
});
