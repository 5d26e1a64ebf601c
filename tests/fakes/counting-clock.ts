/** A FakeClock (src/util/clock.ts) that counts the timers set on it: per-chunk timer churn shows as a count. */

import { FakeClock } from "../../src/util/clock";

export function countingClock(): { clock: FakeClock; timersSet: () => number } {
  const clock = new FakeClock();
  let n = 0;
  const setTimer = clock.setTimer.bind(clock);
  clock.setTimer = (ms, fn) => {
    n++;
    return setTimer(ms, fn);
  };
  return { clock, timersSet: () => n };
}
