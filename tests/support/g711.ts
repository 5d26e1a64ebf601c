/**
 * Reference G.711 codec for test oracles (ITU-T G.711, the classic Sun/CCITT `g711.c` formulation),
 * kept independent of `src/media` so tests do not grade the code under test with itself.
 *
 * Units: PCM is signed 16-bit linear (Int16Array), 8000 Hz; G.711 is one byte per sample.
 * μ-law: 14-bit magnitude with bias 0x84 (132), bytes are stored inverted; silence (0) is 0xFF.
 * A-law: 13-bit, even bits inverted (XOR 0x55); silence (0) encodes as 0xD5.
 */

export type G711Law = "mulaw" | "alaw";

/** The byte that encodes linear 0 (digital silence). */
export const G711_SILENCE: Record<G711Law, number> = { mulaw: 0xff, alaw: 0xd5 };

/** RTP static payload types (RFC 3551 §6, table 4). */
export const PT_PCMU = 0;
export const PT_PCMA = 8;

const ULAW_BIAS = 0x84;
/** Segment end points (Sun g711.c `seg_uend`, 14-bit magnitude + bias 33). */
const SEG_UEND = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
/** Segment end points (Sun g711.c `seg_aend`, 13-bit magnitude). */
const SEG_AEND = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

function segmentOf(v: number, ends: number[]): number {
  for (let i = 0; i < ends.length; i++) if (v <= ends[i]!) return i;
  return ends.length;
}

function clamp16(sample: number): number {
  return Math.max(-32768, Math.min(32767, Math.round(sample)));
}

/** Encodes one linear sample (rounded, clamped to int16) to a μ-law byte (Sun `linear2ulaw`). */
export function linearToUlaw(sample: number): number {
  let v = clamp16(sample) >> 2; // 14-bit
  let mask: number;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  } else {
    mask = 0xff;
  }
  if (v > 8159) v = 8159; // CLIP
  v += ULAW_BIAS >> 2;
  const seg = segmentOf(v, SEG_UEND);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((v >> (seg + 1)) & 0x0f)) ^ mask;
}

/** Decodes a μ-law byte to linear int16 (Sun `ulaw2linear`). */
export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  let t = ((u & 0x0f) << 3) + ULAW_BIAS;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? ULAW_BIAS - t : t - ULAW_BIAS;
}

/** Encodes one linear sample (rounded, clamped to int16) to an A-law byte (Sun `linear2alaw`). */
export function linearToAlaw(sample: number): number {
  let v = clamp16(sample) >> 3; // 13-bit
  let mask: number;
  if (v >= 0) {
    mask = 0xd5; // sign bit = 1 for positive, even bits inverted
  } else {
    mask = 0x55;
    v = -v - 1;
  }
  const seg = segmentOf(v, SEG_AEND);
  if (seg >= 8) return 0x7f ^ mask;
  const aval = (seg << 4) | ((seg < 2 ? v >> 1 : v >> seg) & 0x0f);
  return aval ^ mask;
}

/** Decodes an A-law byte to linear int16 (Sun `alaw2linear`). */
export function alawToLinear(byte: number): number {
  const a = byte ^ 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else {
    t += 0x108;
    t <<= seg - 1;
  }
  return a & 0x80 ? t : -t;
}

const ULAW_TABLE = new Int16Array(256);
const ALAW_TABLE = new Int16Array(256);
for (let i = 0; i < 256; i++) {
  ULAW_TABLE[i] = ulawToLinear(i);
  ALAW_TABLE[i] = alawToLinear(i);
}

/** Decodes a G.711 byte array to PCM16 (one sample per byte). */
export function decodeG711(bytes: Uint8Array, law: G711Law): Int16Array {
  const table = law === "mulaw" ? ULAW_TABLE : ALAW_TABLE;
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = table[bytes[i]!]!;
  return out;
}

/** Encodes PCM16 (or float samples in int16 scale) to G.711 bytes. */
export function encodeG711(pcm: ArrayLike<number>, law: G711Law): Uint8Array {
  const enc = law === "mulaw" ? linearToUlaw : linearToAlaw;
  const out = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = enc(pcm[i]!);
  return out;
}

/** PCM → G.711 → PCM: what a signal looks like after one pass over a G.711 leg. */
export function g711RoundTrip(pcm: ArrayLike<number>, law: G711Law = "mulaw"): Int16Array {
  return decodeG711(encodeG711(pcm, law), law);
}

/** The G.711 law of a static RTP payload type, or undefined for any other type. */
export function lawOfPayloadType(pt: number): G711Law | undefined {
  return pt === PT_PCMU ? "mulaw" : pt === PT_PCMA ? "alaw" : undefined;
}
