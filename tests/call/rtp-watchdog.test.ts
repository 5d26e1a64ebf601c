import { expect, test } from "bun:test";
import { RtpWatchdog } from "../../src/call/rtp-watchdog.ts";

test("no RTP for RTP_TIMEOUT_S: expires at the limit, not before; each packet restarts the count", () => {
  const w = new RtpWatchdog({ timeoutMs: 30_000, holdTimeoutMs: 600_000 }, 0);
  expect(w.check(0, false, 0)).toBeUndefined();
  expect(w.check(0, false, 29_980)).toBeUndefined();
  expect(w.check(5, false, 29_990)).toBeUndefined(); // packets came
  expect(w.check(5, false, 59_980)).toBeUndefined();
  expect(w.check(5, false, 59_990)).toBe(30_000);
});

test("on hold the longer RTP_HOLD_TIMEOUT_S applies, and hold/resume restarts the count", () => {
  const w = new RtpWatchdog({ timeoutMs: 30_000, holdTimeoutMs: 600_000 }, 0);
  w.check(1, false, 10_000);
  w.reset(20_000); // held
  expect(w.check(1, true, 60_000)).toBeUndefined(); // 40 s of silence on hold is fine
  expect(w.check(1, true, 619_999)).toBeUndefined();
  expect(w.check(1, true, 620_000)).toBe(600_000);
  w.reset(620_000); // resumed
  expect(w.check(1, false, 649_999)).toBeUndefined();
  expect(w.check(1, false, 650_000)).toBe(30_000);
});

test("0 disables", () => {
  const w = new RtpWatchdog({ timeoutMs: 0, holdTimeoutMs: 0 }, 0);
  expect(w.check(0, false, 1e9)).toBeUndefined();
  expect(w.check(0, true, 2e9)).toBeUndefined();
});
