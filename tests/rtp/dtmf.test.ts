import { describe, expect, test } from "bun:test";
import { dtmfEventCode, dtmfKey, parseTelephoneEvent, serializeTelephoneEvent } from "../../src/rtp/dtmf.ts";
import { RtpParseError } from "../../src/rtp/errors.ts";
import { parseRtp } from "../../src/rtp/packet.ts";
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
