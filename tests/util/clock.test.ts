import { describe, expect, test } from "bun:test";
import { SystemClock } from "../../src/util/clock.ts";

describe("SystemClock", () => {
  test("a timer never fires before its delay, fractional ms included (Bun's setTimeout truncates: 4.9 fired after ~4.1 ms)", async () => {
    const clock = new SystemClock();
    for (const ms of [1.5, 2.9, 3.7, 4.9, 4.9, 4.9]) {
      const t0 = clock.now();
      const firedAt = await new Promise<number>((resolve) => clock.setTimer(ms, () => resolve(clock.now())));
      expect(firedAt - t0).toBeGreaterThanOrEqual(ms);
    }
  });

  test("a cleared timer does not fire", async () => {
    const clock = new SystemClock();
    let fired = false;
    clock.clearTimer(clock.setTimer(1.2, () => (fired = true)));
    await Bun.sleep(10);
    expect(fired).toBe(false);
  });
});
