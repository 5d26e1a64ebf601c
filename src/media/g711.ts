/**
 * G.711 μ-law (PCMU) and A-law (PCMA) companding, ITU-T Recommendation G.711 (11/88), as used by RTP
 * payload types 0 and 8 (RFC 3551 §4.5.14: 8000 Hz, 8 bits per sample, 1 byte = 1 sample).
 *
 * Linear values are 16-bit signed PCM. G.711 itself is defined on 14-bit (μ-law) and 13-bit (A-law)
 * linear values; like the classic Sun Microsystems reference implementation (g711.c, public domain) we
 * scale them to 16 bits (μ-law ×4, A-law ×8), so the decoded extremes are ±32124 (μ-law) and ±32256
 * (A-law).
 *
 * Decode is a lookup in a 256-entry Int16Array per law. Encode is a lookup in a table indexed by the
 * truncated linear value (16384 entries for μ-law: `pcm >> 2`; 8192 for A-law: `pcm >> 3`), built once
 * at module load from the reference algorithm below, so both directions cost one array read per sample.
 *
 * Code layout (both laws): `S EEE MMMM` = sign, 3-bit segment (exponent), 4-bit mantissa; μ-law codes
 * are transmitted with all bits inverted, A-law codes with the even bits inverted (XOR 0x55) (G.711
 * Tables 1a/2a).
 */

/** The two G.711 laws by their RTP encoding names (RFC 3551 Table 4). */
export type G711Codec = "PCMU" | "PCMA";

/** μ-law byte for linear 0 ("positive zero"): what silence looks like on the wire. */
export const PCMU_SILENCE = 0xff;
/** A-law byte for the smallest positive level (+8): what silence looks like on the wire. */
export const PCMA_SILENCE = 0xd5;

/** Bytes (= samples) in one 20 ms G.711 frame at 8000 Hz (RFC 3551 §4.5.14; 20 ms is the default packetization, §4.2). */
export const G711_FRAME_BYTES = 160;

/** The silence byte of a law (0xFF μ-law, 0xD5 A-law). */
export function silenceByte(codec: G711Codec): number {
  return codec === "PCMU" ? PCMU_SILENCE : PCMA_SILENCE;
}

// ---------------------------------------------------------------- reference algorithm (per sample)

const SIGN_BIT = 0x80;
const QUANT_MASK = 0x0f;
const SEG_SHIFT = 4;
const SEG_MASK = 0x70;
/** μ-law bias (0x84 = 132 in 16-bit scale, 33 in 14-bit scale). */
const ULAW_BIAS = 0x84;
/** μ-law clip in 14-bit scale: 8159 = 8191 - 33 + 1 (G.711 Table 2a, max decision value 8158). */
const ULAW_CLIP = 8159;
/** Segment upper ends, μ-law, 14-bit scale after adding the bias. */
const SEG_UEND = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
/** Segment upper ends, A-law, 13-bit scale. */
const SEG_AEND = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

function segmentOf(v: number, ends: number[]): number {
  for (let i = 0; i < ends.length; i++) if (v <= ends[i]) return i;
  return ends.length;
}

/** μ-law code → linear (16-bit scale). Reference: G.711 Table 2a, Sun g711.c `ulaw2linear`. */
export function ulawToLinear(code: number): number {
  const u = ~code & 0xff;
  let t = ((u & QUANT_MASK) << 3) + ULAW_BIAS;
  t <<= (u & SEG_MASK) >> SEG_SHIFT;
  return u & SIGN_BIT ? ULAW_BIAS - t : t - ULAW_BIAS;
}

/** A-law code → linear (16-bit scale). Reference: G.711 Table 1a, Sun g711.c `alaw2linear`. */
export function alawToLinear(code: number): number {
  const a = (code ^ 0x55) & 0xff;
  let t = (a & QUANT_MASK) << 4;
  const seg = (a & SEG_MASK) >> SEG_SHIFT;
  if (seg === 0) t += 8;
  else t = (t + 0x108) << (seg - 1);
  return a & SIGN_BIT ? t : -t;
}

/** Linear 16-bit sample → μ-law code (reference algorithm; use the tables for speed). */
export function linearToUlawRef(pcm: number): number {
  let v = pcm >> 2; // 16 → 14 bits
  let mask: number;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  } else {
    mask = 0xff;
  }
  if (v > ULAW_CLIP) v = ULAW_CLIP;
  v += ULAW_BIAS >> 2;
  const seg = segmentOf(v, SEG_UEND);
  if (seg >= 8) return 0x7f ^ mask;
  return ((seg << 4) | ((v >> (seg + 1)) & 0x0f)) ^ mask;
}

/** Linear 16-bit sample → A-law code (reference algorithm; use the tables for speed). */
export function linearToAlawRef(pcm: number): number {
  let v = pcm >> 3; // 16 → 13 bits
  let mask: number;
  if (v >= 0) {
    mask = 0xd5; // sign bit = 1, then even-bit inversion
  } else {
    mask = 0x55;
    v = -v - 1;
  }
  const seg = segmentOf(v, SEG_AEND);
  if (seg >= 8) return 0x7f ^ mask;
  let aval = seg << SEG_SHIFT;
  aval |= seg < 2 ? (v >> 1) & QUANT_MASK : (v >> seg) & QUANT_MASK;
  return aval ^ mask;
}

// ---------------------------------------------------------------- tables

/** Decode tables: code (0..255) → linear sample. */
export const ULAW_DECODE: Int16Array = new Int16Array(256);
export const ALAW_DECODE: Int16Array = new Int16Array(256);
for (let i = 0; i < 256; i++) {
  ULAW_DECODE[i] = ulawToLinear(i);
  ALAW_DECODE[i] = alawToLinear(i);
}

/** Encode tables indexed by the truncated sample: μ-law `(pcm >> 2) & 0x3fff`, A-law `(pcm >> 3) & 0x1fff`. */
const ULAW_ENCODE = new Uint8Array(1 << 14);
const ALAW_ENCODE = new Uint8Array(1 << 13);
for (let i = 0; i < 1 << 14; i++) {
  const pcm = (i << 18) >> 16; // sign-extend the 14-bit index back to a 16-bit sample
  ULAW_ENCODE[i] = linearToUlawRef(pcm);
}
for (let i = 0; i < 1 << 13; i++) {
  const pcm = (i << 19) >> 16;
  ALAW_ENCODE[i] = linearToAlawRef(pcm);
}

/** One sample → μ-law code (table lookup). Input is clamped to the 16-bit range by truncation of bits. */
export function linearToUlaw(pcm: number): number {
  return ULAW_ENCODE[(pcm >> 2) & 0x3fff];
}

/** One sample → A-law code (table lookup). */
export function linearToAlaw(pcm: number): number {
  return ALAW_ENCODE[(pcm >> 3) & 0x1fff];
}

// ---------------------------------------------------------------- frames

/**
 * Encodes PCM16 samples (any count; normally 160 = 20 ms at 8000 Hz) into G.711 bytes, one byte per sample.
 * @param pcm 16-bit signed linear samples, 8000 Hz mono.
 * @param out optional destination (length ≥ pcm.length) to avoid an allocation.
 * @returns the payload (`out` itself when its length is the frame's, else a view of it).
 */
export function encodeFrame(pcm: Int16Array, codec: G711Codec, out?: Uint8Array): Uint8Array {
  // `out` of the frame's own length is returned as it is: no view per 20 ms frame (issue 13).
  const dst = out ? (out.length === pcm.length ? out : out.subarray(0, pcm.length)) : new Uint8Array(pcm.length);
  if (codec === "PCMU") {
    for (let i = 0; i < pcm.length; i++) dst[i] = ULAW_ENCODE[(pcm[i] >> 2) & 0x3fff];
  } else {
    for (let i = 0; i < pcm.length; i++) dst[i] = ALAW_ENCODE[(pcm[i] >> 3) & 0x1fff];
  }
  return dst;
}

/**
 * Decodes G.711 bytes to PCM16 samples (one sample per byte).
 * @param payload the RTP payload (any length; 160 bytes = 20 ms).
 * @param out optional destination of exactly `payload.length` samples, to avoid an allocation.
 * @returns 16-bit signed linear samples, 8000 Hz mono (`out` when given).
 * @throws RangeError when `out` is not `payload.length` long.
 */
export function decodeFrame(payload: Uint8Array, codec: G711Codec, out?: Int16Array): Int16Array {
  const table = codec === "PCMU" ? ULAW_DECODE : ALAW_DECODE;
  if (out && out.length !== payload.length) throw new RangeError(`decodeFrame: out has ${out.length} samples for ${payload.length} bytes`);
  const dst = out ?? new Int16Array(payload.length);
  for (let i = 0; i < payload.length; i++) dst[i] = table[payload[i]];
  return dst;
}

/** A frame of `samples` silence bytes for `codec` (default 160 = 20 ms). */
export function silenceFrame(codec: G711Codec, samples = G711_FRAME_BYTES): Uint8Array {
  return new Uint8Array(samples).fill(silenceByte(codec));
}
