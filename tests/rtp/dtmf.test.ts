import { describe, expect, test } from "bun:test";
import { type DtmfEvent, DtmfReceiver, QUIET_CLOSE_MS } from "../../src/rtp/dtmf-receiver.ts";
import { dtmfEventCode, dtmfKey, parseTelephoneEvent, serializeTelephoneEvent } from "../../src/rtp/dtmf.ts";
import { RtpParseError } from "../../src/rtp/errors.ts";
import { parseRtp } from "../../src/rtp/packet.ts";
import { FakeClock, type TimerHandle } from "../../src/util/clock.ts";
import { DTMF_5, DTMF_POUND, toHex } from "./fixtures.ts";

describe("RFC 4733 telephone-event payload", () => {
  test("SIPp dtmf_2833_5.pcap: event 5, volume 10, duration +320 per packet, E on the last three", () => {
    const events = DTMF_5.map((b) => parseTelephoneEvent(parseRtp(b).payload));
    expect(events[0]).toEqual({ event: 5, end: false, volume: 10, duration: 0 });
    expect(events.map((e) => e.duration)).toEqual([0, 320, 640, 960, 1280, 1600, 1920, 2240, 2240, 2240]);
    expect(events.map((e) => e.end)).toEqual([false, false, false, false, false, false, false, true, true, true]);
    expect(dtmfKey(events[0].event)).toBe("5");
  });

  test("SIPp dtmf_2833_pound.pcap is event 11 = '#'", () => {
    const e = parseTelephoneEvent(parseRtp(DTMF_POUND[9]).payload);
    expect(e).toEqual({ event: 11, end: true, volume: 10, duration: 2240 });
    expect(dtmfKey(e.event)).toBe("#");
  });

  test("serialize is the inverse of parse (R bit dropped)", () => {
    const raw = parseRtp(DTMF_5[7]).payload;
    expect(toHex(serializeTelephoneEvent(parseTelephoneEvent(raw)))).toBe(toHex(raw));
    const withR = new Uint8Array([1, 0xc5, 0xff, 0xff]);
    expect(parseTelephoneEvent(withR)).toEqual({ event: 1, end: true, volume: 5, duration: 65535 });
  });

  test("too short payloads throw RtpParseError too_short", () => {
    for (const n of [0, 1, 3]) {
      let err: unknown;
      try {
        parseTelephoneEvent(new Uint8Array(n));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RtpParseError);
      expect((err as RtpParseError).code).toBe("too_short");
    }
  });

  test("key mapping RFC 4733 §3.2", () => {
    expect(Array.from({ length: 17 }, (_, i) => dtmfKey(i))).toEqual([
      "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D", "flash",
    ]);
    expect(dtmfKey(17)).toBeUndefined();
    expect(dtmfEventCode("#")).toBe(11);
    expect(dtmfEventCode("d")).toBe(15);
    expect(dtmfEventCode("flash")).toBe(16);
    expect(dtmfEventCode("x")).toBeUndefined();
    expect(dtmfEventCode("12")).toBeUndefined();
  });
});

describe("DtmfReceiver quiet close", () => {
  /** A FakeClock that counts the timers set on it. */
  class CountingClock extends FakeClock {
    set = 0;
    override setTimer(ms: number, fn: () => void): TimerHandle {
      this.set++;
      return super.setTimer(ms, fn);
    }
  }
  const ev = (duration: number) => serializeTelephoneEvent({ event: 7, end: false, volume: 10, duration });

  test("audio every 20 ms during a held key moves the deadline without a timer per packet; closes 500 ms after the last", () => {
    const clock = new CountingClock();
    const keys: DtmfEvent[] = [];
    const rx = new DtmfReceiver((e) => keys.push(e), clock);
    rx.push(4000, ev(400)); // the key's first update (50 ms in)
    // 3 s of the caller's audio at the event's start timestamp region (its updates lost): 150 packets
    for (let i = 0; i < 150; i++) {
      clock.advance(20);
      rx.audio(4000 + 400 + (i % 10) * 80); // within 100 ms of the event's known end: keeps it open
    }
    expect(keys).toEqual([]);
    expect(clock.set).toBeLessThanOrEqual(8); // one timer, re-armed each time it fires early (every 500 ms)
    clock.advance(QUIET_CLOSE_MS - 1);
    expect(keys).toEqual([]);
    clock.advance(2);
    expect(keys.map((k) => [k.key, k.endSeen])).toEqual([["7", false]]);
    expect(clock.pending).toBe(0);
  });

  test("a deadline moved earlier (the update interval shrank) re-arms the timer sooner", () => {
    const clock = new CountingClock();
    const keys: DtmfEvent[] = [];
    const rx = new DtmfReceiver((e) => keys.push(e), clock);
    rx.push(4000, ev(4000)); // first packet 500 ms into the key: 3 intervals = 1.5 s
    clock.advance(50);
    rx.push(4000, ev(4400)); // then updates every 50 ms: QUIET_CLOSE_MS
    clock.advance(QUIET_CLOSE_MS - 1);
    expect(keys).toEqual([]);
    clock.advance(2);
    expect(keys.map((k) => k.key)).toEqual(["7"]);
  });
});
