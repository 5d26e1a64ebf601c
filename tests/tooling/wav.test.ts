/**
 * WAV writer/reader: round trip, files written by flite and sox, odd chunks, errors.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeWav, decodeWav, readWavFile, writeWavFile, saveArtifactWav, WavFormatError } from "../support/wav.ts";

describe("wav", () => {
  test("encode → decode round trip keeps every sample and the rate", () => {
    const pcm = Int16Array.from({ length: 1001 }, (_, i) => (i * 977) % 65536 - 32768);
    const wav = encodeWav(pcm, 8000);
    expect(wav.length).toBe(44 + 2002);
    expect(new TextDecoder().decode(wav.subarray(0, 4))).toBe("RIFF");
    const back = decodeWav(wav);
    expect(back).toMatchObject({ sampleRate: 8000, channels: 1, format: 1 });
    expect(back.pcm).toEqual(pcm);
  });

  test("reads flite's 16 kHz output and sox's μ-law, stereo and odd-chunk files", () => {
    const dir = mkdtempSync(join(tmpdir(), "wav-"));
    try {
      const f = join(dir, "f.wav");
      expect(Bun.spawnSync(["flite", "-voice", "slt", "-t", "Testing one two three.", "-o", f]).exitCode).toBe(0);
      const w = readWavFile(f);
      expect(w.sampleRate).toBe(16000);
      expect(w.pcm.length).toBeGreaterThan(16000);
      const u = join(dir, "u.wav");
      expect(Bun.spawnSync(["sox", "-D", f, "-r", "8000", "-e", "mu-law", u]).exitCode).toBe(0);
      const uw = readWavFile(u);
      expect(uw).toMatchObject({ sampleRate: 8000, format: 7 });
      const s = join(dir, "s.wav");
      expect(Bun.spawnSync(["sox", "-D", f, "-c", "2", s]).exitCode).toBe(0);
      const sw = readWavFile(s);
      expect(sw.channels).toBe(2);
      expect(sw.pcm).toEqual(w.pcm); // both channels equal → mix is the original
      // An odd-sized LIST chunk before fmt must be skipped with its pad byte.
      const plain = encodeWav(new Int16Array([1, 2, 3]), 8000);
      const list = Uint8Array.from([0x4c, 0x49, 0x53, 0x54, 3, 0, 0, 0, 0x61, 0x62, 0x63, 0]);
      const odd = Uint8Array.from([...plain.subarray(0, 12), ...list, ...plain.subarray(12)]);
      expect(Array.from(decodeWav(odd).pcm)).toEqual([1, 2, 3]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("writeWavFile and saveArtifactWav create folders; sox agrees on the header", () => {
    const dir = mkdtempSync(join(tmpdir(), "wav-"));
    try {
      const p = join(dir, "a/b/c.wav");
      writeWavFile(p, new Int16Array(8000), 8000);
      expect(Bun.spawnSync(["soxi", "-D", p]).stdout.toString().trim()).toBe("1.000000");
      const art = saveArtifactWav("tooling wav/test", new Int16Array(80));
      expect(art).toBe(".test-artifacts/tooling_wav_test.wav");
      expect(existsSync(art)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const bad: Array<[string, Uint8Array]> = [
    ["not RIFF", new TextEncoder().encode("RIFX....WAVEfmt ")],
    ["no fmt", Uint8Array.from([...new TextEncoder().encode("RIFF"), 4, 0, 0, 0, ...new TextEncoder().encode("WAVE")])],
    ["data before fmt", Uint8Array.from([...new TextEncoder().encode("RIFF\x10\x00\x00\x00WAVEdata"), 2, 0, 0, 0, 1, 2])],
  ];
  for (const [name, bytes] of bad) test(`rejects ${name}`, () => expect(() => decodeWav(bytes)).toThrow(WavFormatError));

  test("rejects an unsupported format (ADPCM, format 2)", () => {
    const w = encodeWav(new Int16Array(4), 8000);
    new DataView(w.buffer).setUint16(20, 2, true);
    expect(() => decodeWav(w)).toThrow("unsupported WAV format 2");
  });
});
