/**
 * bench:load's outside callers' audio (tests/support/load-outside.ts) on the real bytes SIPp will play:
 * espeak-ng speech rendered to μ-law, each sentence ending and each interruption starting where the
 * script says whatever the voice, −65 dBFS line noise in the silences, two voices not the same audio.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeG711 } from "../support/g711.ts";
import { OUTSIDE_FIRST_TURN_END_MS, OUTSIDE_INTERRUPT_AFTER_MS, OUTSIDE_TURN_MS, OUTSIDE_VOICES, outsideTurnTimes, renderOutsideCall } from "../support/load-outside.ts";
import { missingTools } from "../support/process.ts";

const dir = mkdtempSync(join(tmpdir(), "load-outside-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** RMS of `pcm` from `fromMs` to `toMs` (8 kHz), dBFS. */
function dbfs(pcm: Int16Array, fromMs: number, toMs: number): number {
  let sum = 0;
  const a = fromMs * 8;
  const b = toMs * 8;
  for (let i = a; i < b; i++) sum += pcm[i]! * pcm[i]!;
  return 20 * Math.log10(Math.sqrt(sum / (b - a)) / 32768);
}

describe("outside callers' script", () => {
  test("48 s calls have four turns; 25 s calls two", () => {
    expect(outsideTurnTimes(48_000).map((t) => t.endMs)).toEqual([0, 1, 2, 3].map((k) => OUTSIDE_FIRST_TURN_END_MS + k * OUTSIDE_TURN_MS));
    expect(outsideTurnTimes(48_000).every((t) => t.interruptMs === t.endMs + OUTSIDE_INTERRUPT_AFTER_MS)).toBe(true);
    expect(outsideTurnTimes(25_000).length).toBe(2);
    expect(outsideTurnTimes(9_000).length).toBe(0);
  });

  test.skipIf(missingTools(["espeak-ng", "sox"]).length > 0)(
    "every voice fits the script; speech ends and starts where placed, line noise at −65 dBFS between",
    async () => {
      const pcms: Int16Array[] = [];
      const interruptionEnds = new Set<number>();
      for (const [i, v] of OUTSIDE_VOICES.entries()) {
        const path = join(dir, `v${i}.ulaw`);
        const turns = await renderOutsideCall(v, 48_000, -65, 1 + i, path);
        const pcm = decodeG711(new Uint8Array(readFileSync(path)), "mulaw");
        expect(pcm.length).toBe(48_000 * 8);
        expect(turns.length).toBe(4);
        for (const t of turns) {
          expect(dbfs(pcm, t.endMs - 300, t.endMs)).toBeGreaterThan(-40); // speech just before the sentence's end
          expect(dbfs(pcm, t.endMs + 100, t.interruptMs! - 100)).toBeLessThan(-60); // the reply's time: line noise only
          expect(dbfs(pcm, t.endMs + 100, t.interruptMs! - 100)).toBeGreaterThan(-70);
          expect(dbfs(pcm, t.interruptMs!, t.interruptMs! + 300)).toBeGreaterThan(-40); // the interruption starts on time
          expect(t.interruptEndMs! - t.interruptMs!).toBeGreaterThan(500);
        }
        pcms.push(pcm);
        interruptionEnds.add(Math.round(turns[0]!.interruptEndMs!));
      }
      // Different voices and speeds: the same sentence does not give the same samples or length.
      expect(interruptionEnds.size).toBeGreaterThanOrEqual(OUTSIDE_VOICES.length - 2);
      expect(Buffer.from(pcms[0]!.buffer).equals(Buffer.from(pcms[1]!.buffer))).toBe(false);
    },
    60_000,
  );
});
