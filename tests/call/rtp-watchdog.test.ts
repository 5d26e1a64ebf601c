import { expect, test } from "bun:test";
import { RtpWatchdog } from "../../src/call/rtp-watchdog.ts";

test("no RTP for RTP_TIMEOUT_S: expires at the limit, not before; each packet restarts the count", () => {
  const w = new RtpWatchdog({ timeoutMs: 30_000, holdTimeoutMs: 600_000 }, 0);
  expect(w.check(0, false, 0)).toBeUndefined();
  expect(w.check(0, false, 29_980)).toBeUndefined();
  expect(w.check(5, false, 29_990)).toBeUndefined(); // packets came
  expect(w.check(5, false, 59_980)).toBeUndefined();
  expect(w.check(5, false, 59_990)).toEqual({ silentMs: 30_000, rule: "silence" });
});

test("on hold the longer RTP_HOLD_TIMEOUT_S applies, and hold/resume restarts the count", () => {
  const w = new RtpWatchdog({ timeoutMs: 30_000, holdTimeoutMs: 600_000 }, 0);
  w.check(1, false, 10_000);
  w.reset(20_000); // held
  expect(w.check(1, true, 60_000)).toBeUndefined(); // 40 s of silence on hold is fine
  expect(w.check(1, true, 619_999)).toBeUndefined();
  expect(w.check(1, true, 620_000)).toEqual({ silentMs: 600_000, rule: "hold" });
  w.reset(620_000); // resumed
  expect(w.check(1, false, 649_999)).toBeUndefined();
  expect(w.check(1, false, 650_000)).toEqual({ silentMs: 30_000, rule: "silence" });
});

test("0 disables", () => {
  const w = new RtpWatchdog({ timeoutMs: 0, holdTimeoutMs: 0 }, 0);
  expect(w.check(0, false, 1e9)).toBeUndefined();
  expect(w.check(0, true, 2e9)).toBeUndefined();
});

test("RTP_START_TIMEOUT_S: nothing ever received ends the call at the start limit; one packet and the usual limit applies", () => {
  const w = new RtpWatchdog({ timeoutMs: 30_000, holdTimeoutMs: 600_000, startTimeoutMs: 5_000 }, 0);
  expect(w.check(0, false, 20)).toBeUndefined(); // the first look is not a packet: the count runs from the start
  expect(w.check(0, false, 4_999)).toBeUndefined();
  expect(w.check(0, false, 5_000)).toEqual({ silentMs: 5_000, rule: "start" });
  const heard = new RtpWatchdog({ timeoutMs: 30_000, holdTimeoutMs: 600_000, startTimeoutMs: 5_000 }, 0);
  expect(heard.check(1, false, 1_000)).toBeUndefined();
  expect(heard.check(1, false, 30_999)).toBeUndefined(); // a packet came: RTP_TIMEOUT_S from it
  expect(heard.check(1, false, 31_000)).toEqual({ silentMs: 30_000, rule: "silence" });
});

test("RTP_START_TIMEOUT_S does not apply on hold (a held call may send nothing) and never exceeds RTP_TIMEOUT_S", () => {
  const held = new RtpWatchdog({ timeoutMs: 30_000, holdTimeoutMs: 600_000, startTimeoutMs: 5_000 }, 0);
  held.reset(100);
  expect(held.check(0, true, 60_000)).toBeUndefined();
  expect(held.check(0, true, 600_100)).toEqual({ silentMs: 600_000, rule: "hold" });
  const shorter = new RtpWatchdog({ timeoutMs: 3_000, holdTimeoutMs: 0, startTimeoutMs: 5_000 }, 0);
  expect(shorter.check(0, false, 20)).toBeUndefined();
  expect(shorter.check(0, false, 3_000)).toEqual({ silentMs: 3_000, rule: "start" });
  const off = new RtpWatchdog({ timeoutMs: 30_000, holdTimeoutMs: 0, startTimeoutMs: 0 }, 0);
  expect(off.check(0, false, 29_999)).toBeUndefined();
  expect(off.check(0, false, 30_000)).toEqual({ silentMs: 30_000, rule: "silence" });
});

test("a re-INVITE moving RTP to an unproven address re-arms the start rule from the move; a move back disarms it (s17)", () => {
  const w = new RtpWatchdog({ timeoutMs: 30_000, holdTimeoutMs: 600_000 }, 0); // started on the signalling address
  expect(w.check(40, false, 9_000)).toBeUndefined(); // the caller sent 40 packets
  w.rearmStart(5_000, 40, 10_000); // moved to a third party: nothing more came
  expect(w.check(40, false, 14_999)).toBeUndefined();
  expect(w.check(40, false, 15_000)).toEqual({ silentMs: 5_000, rule: "start" });
  const heard = new RtpWatchdog({ timeoutMs: 30_000, holdTimeoutMs: 600_000 }, 0);
  heard.rearmStart(5_000, 40, 10_000);
  expect(heard.check(41, false, 11_000)).toBeUndefined(); // one packet after the move: proven
  expect(heard.check(41, false, 40_999)).toBeUndefined();
  expect(heard.check(41, false, 41_000)).toEqual({ silentMs: 30_000, rule: "silence" });
  const back = new RtpWatchdog({ timeoutMs: 30_000, holdTimeoutMs: 600_000 }, 0);
  back.rearmStart(5_000, 40, 10_000);
  back.rearmStart(0, 40, 12_000); // moved back to the signalling address
  expect(back.check(40, false, 41_999)).toBeUndefined();
  expect(back.check(40, false, 42_000)).toEqual({ silentMs: 30_000, rule: "silence" });
});
