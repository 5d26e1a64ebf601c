/**
 * Joins typed-array chunks into one new array (PCM16 samples, or G.711/other bytes), in order.
 *
 *   concatInt16([a, b])   // Int16Array of a.length + b.length samples
 *   concatBytes([x, y])   // Uint8Array of x.length + y.length bytes
 */

/** Concatenates PCM16 chunks (samples). */
export function concatInt16(parts: readonly Int16Array[]): Int16Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int16Array(n);
  let k = 0;
  for (const p of parts) {
    out.set(p, k);
    k += p.length;
  }
  return out;
}

/** Concatenates byte chunks. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let k = 0;
  for (const p of parts) {
    out.set(p, k);
    k += p.length;
  }
  return out;
}
