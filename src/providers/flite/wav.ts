/**
 * Reads the 16-bit PCM WAV that flite writes (RIFF/WAVE, `fmt ` format 1, mono).
 * Layout: "RIFF" size "WAVE", then chunks [4-byte id][u32 LE size][data, padded to even length]
 * (Microsoft RIFF spec; Library of Congress fdd000001). Only what flite produces is accepted.
 */

export interface Pcm16 {
  /** Samples, mono. */
  pcm: Int16Array;
  /** Sample rate in Hz. */
  sampleRate: number;
}

/** @throws Error naming the defect when the bytes are not a mono 16-bit PCM WAV. */
export function parseWav16(bytes: Uint8Array): Pcm16 {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (o: number) => String.fromCharCode(bytes[o]!, bytes[o + 1]!, bytes[o + 2]!, bytes[o + 3]!);
  if (bytes.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("WAV: not a RIFF/WAVE file");
  let sampleRate = 0;
  let off = 12;
  while (off + 8 <= bytes.length) {
    const id = tag(off);
    const size = dv.getUint32(off + 4, true);
    const body = off + 8;
    if (id === "fmt ") {
      if (size < 16) throw new Error("WAV: fmt chunk too short");
      const format = dv.getUint16(body, true);
      const channels = dv.getUint16(body + 2, true);
      const bits = dv.getUint16(body + 14, true);
      if (format !== 1 || channels !== 1 || bits !== 16) {
        throw new Error(`WAV: need PCM mono 16-bit, got format ${format}, ${channels} channels, ${bits} bits`);
      }
      sampleRate = dv.getUint32(body + 4, true);
    } else if (id === "data") {
      if (!sampleRate) throw new Error("WAV: data chunk before fmt chunk");
      const len = Math.min(size, bytes.length - body) >> 1;
      const pcm = new Int16Array(len);
      for (let i = 0; i < len; i++) pcm[i] = dv.getInt16(body + 2 * i, true);
      return { pcm, sampleRate };
    }
    off = body + size + (size & 1);
  }
  throw new Error("WAV: no data chunk");
}
