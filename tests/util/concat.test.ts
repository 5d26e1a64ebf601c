import { describe, expect, test } from "bun:test";
import { concatBytes, concatInt16 } from "../../src/util/concat";

describe("concat", () => {
  test("PCM16 chunks join in order, empty ones included; the result is a new array", () => {
    const a = Int16Array.of(1, -2);
    const out = concatInt16([a, new Int16Array(0), Int16Array.of(32767, -32768)]);
    expect(out).toEqual(Int16Array.of(1, -2, 32767, -32768));
    out[0] = 9;
    expect(a[0]).toBe(1);
    expect(concatInt16([])).toEqual(new Int16Array(0));
  });

  test("byte chunks join in order, views at an offset included", () => {
    const buf = Uint8Array.of(0, 1, 2, 3, 4, 5);
    expect(concatBytes([buf.subarray(4), Uint8Array.of(0xff), buf.subarray(1, 3)])).toEqual(Uint8Array.of(4, 5, 0xff, 1, 2));
    expect(concatBytes([])).toEqual(new Uint8Array(0));
  });
});
