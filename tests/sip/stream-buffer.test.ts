/**
 * The TCP/TLS receive buffer (src/sip/transport/stream-buffer.ts): chunks appended once, consumed from
 * the front, the backlog never re-copied per chunk; checked against plain concatenation.
 */
import { expect, test } from "bun:test";
import { KEEP_BYTES, StreamBuffer } from "../../src/sip/transport/stream-buffer.ts";

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

test("append, view, consume: what is held is the chunks in order, minus what was consumed", () => {
  const b = new StreamBuffer();
  expect(b.length).toBe(0);
  expect(b.view()).toEqual(new Uint8Array(0));
  b.append(new TextEncoder().encode("OPTIONS sip:a SIP/2.0\r\n"));
  b.append(new TextEncoder().encode("CSeq: 1 OPTIONS\r\n\r\n"));
  expect(new TextDecoder().decode(b.view())).toBe("OPTIONS sip:a SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n");
  b.consume(8);
  expect(new TextDecoder().decode(b.view())).toBe("sip:a SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n");
  b.consume(b.length);
  expect(b.length).toBe(0);
  expect(() => b.consume(1)).toThrow(RangeError);
  expect(() => b.consume(-1)).toThrow(RangeError);
});

test("a long backlog is not re-copied per chunk: 1,000 chunks of 1 KB onto 512 KB held move it at most twice", () => {
  // Counting copies through the capacity changes: a copy happens only when the buffer grows or compacts.
  const b = new StreamBuffer();
  b.append(bytes(512 * 1024, 1));
  let grows = 0;
  let cap = b.capacity;
  for (let i = 0; i < 1000; i++) {
    b.append(bytes(1024, i));
    if (b.capacity !== cap) [grows, cap] = [grows + 1, b.capacity];
  }
  expect(b.length).toBe(512 * 1024 + 1000 * 1024);
  // Doubling: 1 MB → 2 MB → (4 MB not needed): at most two moves of the backlog, not 1,000.
  expect(grows).toBeLessThanOrEqual(2);
  expect(b.capacity).toBeLessThanOrEqual(2 * (b.length + 1024));
});

test("emptied, a buffer grown past KEEP_BYTES is let go; a small one is kept", () => {
  const b = new StreamBuffer();
  b.append(bytes(KEEP_BYTES * 2, 3));
  expect(b.capacity).toBeGreaterThan(KEEP_BYTES);
  b.consume(b.length);
  expect(b.capacity).toBe(0);
  b.append(bytes(100, 4));
  const small = b.capacity;
  b.consume(100);
  expect(b.capacity).toBe(small);
  b.append(bytes(10, 5));
  b.clear();
  expect([b.length, b.capacity]).toEqual([0, 0]);
});

test("seeded fuzz: random appends and consumes match plain concatenation; capacity stays within twice the most held plus a chunk", () => {
  let seed = 0x5eed;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const b = new StreamBuffer();
  let model = new Uint8Array(0);
  let mostHeld = 0;
  for (let step = 0; step < 3000; step++) {
    if (rnd(3) > 0) {
      const c = bytes(rnd(rnd(10) === 0 ? 200_000 : 3000) + 1, step);
      b.append(c);
      const m = new Uint8Array(model.length + c.length);
      m.set(model);
      m.set(c, model.length);
      model = m;
    } else {
      const n = rnd(model.length + 1);
      b.consume(n);
      model = model.slice(n);
    }
    mostHeld = Math.max(mostHeld, model.length);
    expect(b.length).toBe(model.length);
    if (step % 50 === 0) expect(b.view()).toEqual(model);
    expect(b.capacity).toBeLessThanOrEqual(Math.max(4096, 2 * (mostHeld + 200_001)));
  }
  expect(b.view()).toEqual(model);
});
