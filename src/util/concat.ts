/**
 * Joins typed-array chunks into one new array (PCM16 samples, or G.711/other bytes), in order.
 *
 *   concatInt16([a, b])   // Int16Array of a.length + b.length samples
 *   concatBytes([x, y])   // Uint8Array of x.length + y.length bytes
 */

/** Concatenates PCM16 chunks (samples). */
export function concatInt16(parts: readonly Int16Array[]): Int16Array {
  return fill(new Int16Array(total(parts)), parts);
}

/** Concatenates byte chunks. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return fill(new Uint8Array(total(parts)), parts);
}

function total(parts: readonly { length: number }[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

function fill<T extends Int16Array | Uint8Array>(out: T, parts: readonly T[]): T {
  let k = 0;
  for (const p of parts) {
    out.set(p as ArrayLike<number>, k);
    k += p.length;
  }
  return out;
}
