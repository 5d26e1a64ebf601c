import { describe, expect, test } from "bun:test";
import { loadFliteModule, synthesize } from "../../../src/providers/flite/engine.ts";
import { createFliteTts, FliteTts, splitForSynthesis } from "../../../src/providers/flite/flite-tts.ts";
import { runWasiCommand } from "../../../src/providers/flite/wasi-memfs.ts";
import { parseWav16 } from "../../../src/providers/flite/wav.ts";
import { ProviderError } from "../../../src/providers/types.ts";

const same = (a: Int16Array, b: Int16Array) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function rms(x: Int16Array): number {
  let e = 0;
  for (const s of x) e += s * s;
  return Math.sqrt(e / Math.max(1, x.length));
}

async function collect(it: AsyncIterable<Int16Array>): Promise<Int16Array[]> {
  const out: Int16Array[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe("in-memory WASI host running flite.wasm", () => {
  test("captures stdout (flite --version) and exit code", async () => {
    const m = await loadFliteModule();
    const r = runWasiCommand(m, ["flite", "--version"]);
    expect(r.stdout).toContain("Carnegie Mellon University");
    expect(r.exitCode).toBe(1); // flite_main.c: `--version` prints and returns 1 → proc_exit(1)
  });

  test("lists the compiled-in voices", async () => {
    const r = runWasiCommand(await loadFliteModule(), ["flite", "-lv"]);
    for (const v of ["kal16", "slt", "rms", "awb", "kal"]) expect(r.stdout).toContain(v);
  });

  test("writes the WAV into the in-memory directory, nowhere else", async () => {
    const r = runWasiCommand(await loadFliteModule(), ["flite", "-voice", "kal16", "-t", " yes ", "x.wav"]);
    expect(r.exitCode).toBe(0);
    expect([...r.files.keys()]).toEqual(["x.wav"]);
    const w = parseWav16(r.files.get("x.wav")!);
    expect(w.sampleRate).toBe(16000);
    expect(w.pcm.length).toBeGreaterThan(1600);
  });
});

describe("flite engine", () => {
  test("native rates: kal16/slt 16 kHz, kal 8 kHz; empty text → empty signal", async () => {
    const m = await loadFliteModule();
    expect(synthesize(m, "ok", { voice: "kal16" }).sampleRate).toBe(16000);
    expect(synthesize(m, "ok", { voice: "slt" }).sampleRate).toBe(16000);
    expect(synthesize(m, "ok", { voice: "kal" }).sampleRate).toBe(8000);
    expect(synthesize(m, "  \n ", {}).pcm.length).toBe(0);
  });

  test("rate stretches duration; bad voice/rate throw", async () => {
    const m = await loadFliteModule();
    const normal = synthesize(m, "Please hold the line.", {}).pcm.length;
    const fast = synthesize(m, "Please hold the line.", { rate: 1.5 }).pcm.length;
    expect(fast).toBeLessThan(normal * 0.85);
    expect(() => synthesize(m, "x", { voice: "nope" as never })).toThrow("unknown voice");
    expect(() => synthesize(m, "x", { rate: 5 })).toThrow("rate");
  });

  test("text that looks like an option or has control characters is still spoken", async () => {
    const m = await loadFliteModule();
    expect(synthesize(m, "-voice", {}).pcm.length).toBeGreaterThan(3000);
    expect(synthesize(m, "a\u0000b\u0007c", {}).pcm.length).toBeGreaterThan(3000);
  });
});

describe("WAV parser", () => {
  const hdr = (fmt: number, ch: number, bits: number) => {
    const b = Buffer.alloc(44 + 4);
    b.write("RIFF", 0);
    b.writeUInt32LE(40, 4);
    b.write("WAVE", 8);
    b.write("fmt ", 12);
    b.writeUInt32LE(16, 16);
    b.writeUInt16LE(fmt, 20);
    b.writeUInt16LE(ch, 22);
    b.writeUInt32LE(16000, 24);
    b.writeUInt32LE(32000, 28);
    b.writeUInt16LE(2, 32);
    b.writeUInt16LE(bits, 34);
    b.write("data", 36);
    b.writeUInt32LE(4, 40);
    b.writeInt16LE(-2, 44);
    b.writeInt16LE(300, 46);
    return new Uint8Array(b);
  };
  test("reads a minimal file", () => {
    const w = parseWav16(hdr(1, 1, 16));
    expect(w.sampleRate).toBe(16000);
    expect(Array.from(w.pcm)).toEqual([-2, 300]);
  });
  test.each([
    ["empty", new Uint8Array(0), "not a RIFF"],
    ["stereo", hdr(1, 2, 16), "mono 16-bit"],
    ["8-bit", hdr(1, 1, 8), "mono 16-bit"],
    ["float", hdr(3, 1, 16), "format 3"],
    ["no data", hdr(1, 1, 16).slice(0, 36), "no data chunk"],
  ])("rejects %s", (_n, bytes, msg) => {
    expect(() => parseWav16(bytes as Uint8Array)).toThrow(msg as string);
  });
});

describe("splitForSynthesis", () => {
  test.each([
    ["", 10, []],
    ["  Hi.  ", 10, ["Hi."]],
    ["One two. Three four. Five.", 12, ["One two.", "Three four.", "Five."]],
    ["alpha, beta, gamma delta", 12, ["alpha, beta,", "gamma delta"]],
    ["abcdefghijkl", 5, ["abcde", "fghij", "kl"]],
  ])("%p (max %p)", (text, max, want) => {
    expect(splitForSynthesis(text as string, max as number)).toEqual(want as string[]);
  });
});

describe("FliteTts provider", () => {
  const tts = createFliteTts();

  test("synthesize8k is deterministic across calls and instances, and sounds like speech", async () => {
    const text = "Hello, thank you for calling. May I have your name, please?";
    const a = await tts.synthesize8k(text);
    const b = await tts.synthesize8k(text);
    const c = await new FliteTts().synthesize8k(text);
    expect(same(a, b)).toBe(true);
    expect(same(a, c)).toBe(true);
    // ≈ 4.6 s at 8 kHz (flite kal16), clearly not silence, and different text → different audio.
    expect(a.length).toBeGreaterThan(8000 * 3);
    expect(a.length).toBeLessThan(8000 * 7);
    expect(rms(a)).toBeGreaterThan(300);
    expect(same(a, await tts.synthesize8k("Goodbye."))).toBe(false);
  });

  test("a stream emits each pushed chunk in order, equal to synthesize8k of that chunk", async () => {
    const s = tts.open({ signal: new AbortController().signal, callId: "c1" });
    s.pushText("Hello there.");
    s.pushText("");
    s.pushText("How can I help?");
    s.end();
    const chunks = await collect(s.audio);
    expect(chunks.length).toBe(2);
    expect(same(chunks[0]!, await tts.synthesize8k("Hello there."))).toBe(true);
    expect(same(chunks[1]!, await tts.synthesize8k("How can I help?"))).toBe(true);
  });

  test("text pushed while the consumer waits is picked up; audio ends after end()", async () => {
    const s = tts.open({ signal: new AbortController().signal, callId: "c2" });
    const it = s.audio[Symbol.asyncIterator]();
    const first = it.next();
    setTimeout(() => s.pushText("Later text."), 5);
    const r = await first;
    expect(r.done).toBe(false);
    s.end();
    expect((await it.next()).done).toBe(true);
  });

  test("cancel() ends the audio at once and drops queued text", async () => {
    const s = tts.open({ signal: new AbortController().signal, callId: "c3" });
    s.pushText("First sentence.");
    s.pushText("Second sentence that must never be heard.");
    const it = s.audio[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    s.cancel();
    s.cancel(); // idempotent
    s.pushText("ignored");
    expect((await it.next()).done).toBe(true);
  });

  test("cancel() while the consumer is waiting for text resolves the wait", async () => {
    const s = tts.open({ signal: new AbortController().signal, callId: "c4" });
    const it = s.audio[Symbol.asyncIterator]();
    const pending = it.next();
    setTimeout(() => s.cancel(), 5);
    expect((await pending).done).toBe(true);
  });

  test("aborting the signal cancels; an already-aborted signal yields nothing", async () => {
    const ac = new AbortController();
    const s = tts.open({ signal: ac.signal, callId: "c5" });
    s.pushText("One.");
    s.pushText("Two.");
    const it = s.audio[Symbol.asyncIterator]();
    await it.next();
    ac.abort();
    expect((await it.next()).done).toBe(true);

    const s2 = tts.open({ signal: AbortSignal.abort(), callId: "c6" });
    s2.pushText("Nothing.");
    s2.end();
    expect(await collect(s2.audio)).toEqual([]);
  });

  test("long text is synthesised in pieces, each emitted separately", async () => {
    const long = Array.from({ length: 12 }, (_, i) => `This is sentence number ${i + 1} of a long reply.`).join(" ");
    const s = tts.open({ signal: new AbortController().signal, callId: "c7" });
    s.pushText(long);
    s.end();
    const chunks = await collect(s.audio);
    expect(chunks.length).toBe(splitForSynthesis(long).length);
    expect(chunks.length).toBeGreaterThan(1);
    const whole = await tts.synthesize8k(long);
    expect(whole.length).toBe(chunks.reduce((n, c) => n + c.length, 0));
  });

  test("errors are ProviderError", async () => {
    const bad = new FliteTts({ rate: 9 });
    const e = await bad.synthesize8k("x").catch((err) => err);
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.code).toBe("bad_request");
  });
});
