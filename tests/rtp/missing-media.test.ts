import { describe, expect, test } from "bun:test";
import { MISSING_MEDIA_MS, MissingMedia, missingMediaTotals } from "../../src/rtp/missing-media.ts";
import { AfterIoPoll } from "../../src/util/after-io-poll.ts";
import { FakeClock } from "../../src/util/clock.ts";

/** A MissingMedia on a fake clock whose "socket poll" is stepped by hand (`poll()`). */
function rig(opts: { active?: () => boolean; heardElsewhere?: (ms: number) => boolean } = {}) {
  const clock = new FakeClock(1000);
  let turn: (() => void)[] = [];
  const gate = new AfterIoPoll((fn) => void turn.push(fn));
  const poll = () => {
    for (let i = 0; i < 2; i++) {
      const now = turn;
      turn = [];
      for (const f of now) f();
    }
  };
  let fills = 0;
  const m = new MissingMedia({ clock, gate, fill: () => fills++, ...opts });
  return { clock, m, poll, fills: () => fills };
}

describe("MissingMedia", () => {
  test("a caller silent for MISSING_MEDIA_MS gets one silence frame per tick, each after the next socket poll", () => {
    const { clock, m, poll, fills } = rig();
    m.heard(clock.now());
    for (let t = 20; t < MISSING_MEDIA_MS; t += 20) {
      clock.advance(20);
      m.tick(clock.now());
      poll();
    }
    expect(fills()).toBe(0);
    clock.advance(20); // 60 ms without a frame
    m.tick(clock.now());
    expect(fills()).toBe(0); // decided, not yet taken: the sockets have not been read since
    const before = { ...missingMediaTotals };
    poll();
    expect(fills()).toBe(1);
    for (let k = 0; k < 5; k++) {
      clock.advance(20);
      m.tick(clock.now());
      m.tick(clock.now()); // a second tick before the poll (catch-up) does not queue twice
      poll();
    }
    expect(fills()).toBe(6);
    expect(missingMediaTotals.filled - before.filled).toBe(6);
    expect(missingMediaTotals.withdrawn - before.withdrawn).toBe(0);
  });

  test("frames that were only waiting in the socket withdraw the fill: the conversation never gets silence inside the caller's speech", () => {
    const { clock, m, poll, fills } = rig();
    m.heard(clock.now());
    clock.advance(80); // the thread was busy 80 ms: its tick finds no frame since
    m.tick(clock.now());
    const before = missingMediaTotals.withdrawn;
    m.heard(clock.now()); // the poll delivers the 4 frames that waited
    poll();
    expect(fills()).toBe(0);
    expect(missingMediaTotals.withdrawn - before).toBe(1);
    clock.advance(20);
    m.tick(clock.now());
    poll();
    expect(fills()).toBe(0);
  });

  test("no fill while the media worker heard the caller, or once the call is closed, held or bridged", () => {
    let elsewhere = true;
    let active = true;
    const { clock, m, poll, fills } = rig({ heardElsewhere: () => elsewhere, active: () => active });
    m.heard(clock.now());
    clock.advance(100);
    m.tick(clock.now());
    poll();
    expect(fills()).toBe(0);
    elsewhere = false;
    m.tick(clock.now());
    active = false; // closed between the tick and the poll
    poll();
    expect(fills()).toBe(0);
    active = true;
    m.tick(clock.now());
    poll();
    expect(fills()).toBe(1);
  });
});
