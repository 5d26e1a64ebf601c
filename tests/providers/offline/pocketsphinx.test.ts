import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFliteTts } from "../../../src/providers/flite/flite-tts.ts";
import { BandFill } from "../../../src/providers/pocketsphinx/band-fill.ts";
import { hmmWithCmnInit, PHONE_CMNINIT } from "../../../src/providers/pocketsphinx/model-dir.ts";
import { PocketsphinxOutputParser, type Utterance } from "../../../src/providers/pocketsphinx/output-parser.ts";
import { createPocketsphinxStt } from "../../../src/providers/pocketsphinx/pocketsphinx-stt.ts";
import { ProviderError, type SttEvent, type SttStream } from "../../../src/providers/types.ts";

const HAVE_PS = Bun.which("pocketsphinx_continuous") !== null && existsSync("/usr/share/pocketsphinx/model/en-us/en-us/mdef");
const tmp = mkdtempSync(join(tmpdir(), "ps-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * A child's command line, once it has exec'd `exe`: Bun.spawn can return before the child's execve, and until
 * then /proc/PID/cmdline shows bun's own (CI read it so once in ~2,000 runs). Waits up to 2 s, with slack.
 */
async function cmdlineOf(pid: number, exe: string): Promise<string[]> {
  let args: string[] = [];
  for (let i = 0; i < 200; i++) {
    args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (args[0]?.endsWith(exe)) break;
    await Bun.sleep(10);
  }
  return args;
}

function parse(text: string, pieces = 1): Utterance[] {
  const out: Utterance[] = [];
  const p = new PocketsphinxOutputParser((u) => out.push(u));
  const step = Math.ceil(text.length / pieces);
  for (let i = 0; i < text.length; i += step) p.push(text.slice(i, i + step));
  p.end();
  return out;
}

describe("pocketsphinx output parser", () => {
  const sample = [
    "i am calling",
    "<s> 3.250 3.350 1.000200",
    "i 3.360 3.520 0.800000",
    "am(2) 3.530 3.730 0.500000",
    "<sil> 3.730 3.800 0.100000",
    "calling 3.740 4.100 0.900000",
    "</s> 5.890 6.350 1.000000",
    "yes",
    "<s> 7.130 7.210 1.000000",
    "yes 7.220 7.480 0.25",
    "</s> 8.140 8.570 1.000000",
    "",
  ].join("\n");

  test("hypothesis + word lines → utterances with mean word confidence and times", () => {
    const u = parse(sample);
    expect(u).toHaveLength(2);
    expect(u[0]!.text).toBe("i am calling");
    expect(u[0]!.confidence).toBeCloseTo((0.8 + 0.5 + 0.9) / 3, 6); // fillers <s> <sil> </s> excluded
    expect(u[0]!.startS).toBe(3.25);
    expect(u[0]!.endS).toBe(6.35);
    expect(u[1]).toEqual({ text: "yes", confidence: 0.25, startS: 7.13, endS: 8.57 });
  });

  test("a JSGF grammar search (-jsgf: no <s>/</s>, (NULL) transitions): times from its first and last segments, (NULL) not a word", () => {
    const jsgf = ["i bill it", "<sil> 4.000 4.200 1.000000", "i 4.210 4.430 0.5", "(NULL) 4.430 4.430 1.000000", "bill 5.890 6.050 0.7", "(NULL) 6.050 6.050 1.000000", "it 6.060 6.140 0.9", "no", "<sil> 9.000 9.100 1.0", "no 9.110 9.300 0.6", ""].join("\n");
    const u = parse(jsgf);
    expect(u.map((x) => [x.text, x.startS, x.endS])).toEqual([["i bill it", 4, 6.14], ["no", 9, 9.3]]);
    expect(u[0]!.confidence).toBeCloseTo((0.5 + 0.7 + 0.9) / 3, 6);
  });

  test("a JSGF block is reported when its input piece ends (no </s> will come); an n-gram block waits for </s>", () => {
    const out: Utterance[] = [];
    const p = new PocketsphinxOutputParser((u) => out.push(u));
    p.push("i bill it\n<sil> 4.000 4.200 1.000000\nbill 4.210 4.500 0.7\n");
    expect(out.map((u) => u.text)).toEqual(["i bill it"]);
    p.push("<sil> 4.600 4.700 1.0\n"); // a straggler of that block is ignored, not a hypothesis
    p.push("yes\n<s> 7.130 7.210 1.000000\nyes 7.220 7.480 0.25\n");
    expect(out.map((u) => u.text)).toEqual(["i bill it"]);
    p.push("</s> 8.140 8.570 1.000000\n");
    expect(out.map((u) => u.text)).toEqual(["i bill it", "yes"]);
  });

  test("same result when stdout arrives in ragged pieces", () => {
    expect(parse(sample, 37)).toEqual(parse(sample));
  });

  test.each([
    ["hypothesis without word lines (no -time)", "hello there\ngood bye\n", [{ text: "hello there" }, { text: "good bye" }]],
    ["empty hypothesis line", "\n<s> 0.1 0.2 1.0\n</s> 0.2 0.3 1.0\n", [{ text: "", startS: 0.1, endS: 0.3 }]],
    ["alternate pronunciation marks removed", "read(2) it(3)\n", [{ text: "read it" }]],
    ["last line without newline", "final words", [{ text: "final words" }]],
    ["CRLF and extra spaces", "  a   b \r\n", [{ text: "a b" }]],
  ])("%s", (_n, text, want) => {
    expect(parse(text as string)).toEqual(want as Utterance[]);
  });
});

describe("band fill", () => {
  test("deterministic, seamless across chunks, energy above 4 kHz only", () => {
    const n = 16000;
    const whole = new BandFill(400).apply(new Int16Array(n));
    const f = new BandFill(400);
    const parts = [f.apply(new Int16Array(333)), f.apply(new Int16Array(n - 333))];
    expect(Array.from([...parts[0]!, ...parts[1]!])).toEqual(Array.from(whole));
    let e = 0;
    for (const s of whole) e += s * s;
    expect(Math.sqrt(e / n)).toBeGreaterThan(250);
    expect(Math.sqrt(e / n)).toBeLessThan(450);
    // Goertzel power at 1 kHz vs 6 kHz: the low band stays > 30 dB quieter.
    const power = (hz: number) => {
      const k = (2 * Math.cos((2 * Math.PI * hz) / 16000));
      let s1 = 0, s2 = 0;
      for (const x of whole) {
        const s0 = x + k * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      return s1 * s1 + s2 * s2 - k * s1 * s2;
    };
    let lo = 0, hi = 0;
    for (const hz of [500, 1000, 1500, 2000, 3000]) lo += power(hz);
    for (const hz of [5000, 5500, 6000, 6500, 7000]) hi += power(hz);
    expect(10 * Math.log10(hi / lo)).toBeGreaterThan(30);
    expect(Array.from(new BandFill(0).apply(new Int16Array([1, 2, 3])))).toEqual([1, 2, 3]);
  });
});

describe("model dir with CMN start vector", () => {
  test.skipIf(!HAVE_PS)("feat.params carries our -cmninit, other files are links to the model", () => {
    const d = hmmWithCmnInit("/usr/share/pocketsphinx/model/en-us/en-us", PHONE_CMNINIT);
    const params = readFileSync(join(d, "feat.params"), "utf8");
    expect(params).toContain(`-cmninit ${PHONE_CMNINIT}`);
    expect(params.match(/-cmninit/g)).toHaveLength(1);
    expect(params).toContain("-upperf 6800");
    expect(readdirSync(d).sort()).toEqual(readdirSync("/usr/share/pocketsphinx/model/en-us/en-us").sort());
    expect(hmmWithCmnInit("/usr/share/pocketsphinx/model/en-us/en-us", PHONE_CMNINIT)).toBe(d);
    expect(() => hmmWithCmnInit("/usr/share/pocketsphinx/model/en-us/en-us", "1;rm -rf")).toThrow("comma-separated");
  });
});

describe("PocketsphinxStt", () => {
  test("missing binary → ProviderError naming the apt packages", async () => {
    const stt = createPocketsphinxStt({ binary: "pocketsphinx_continuous_nope" });
    const e = await stt.open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" }).catch((x) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.code).toBe("unavailable");
    expect(e.retryable).toBe(false);
    expect(e.message).toBe("pocketsphinx_continuous_nope not found: apt-get install pocketsphinx pocketsphinx-en-us");
  });

  test.skipIf(!HAVE_PS)("missing model → ProviderError bad_request", async () => {
    const stt = createPocketsphinxStt({ modelDir: join(tmp, "nothing-here") });
    const e = await stt.open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" }).catch((x) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.code).toBe("bad_request");
    expect(e.message).toContain("model file missing");
  });

  test.skipIf(!HAVE_PS)("a recogniser that dies reports an error event and the stream ends", async () => {
    const fake = join(tmp, "dies.sh");
    writeFileSync(fake, "#!/bin/sh\necho 'ERROR: model broken' >&2\nexit 3\n");
    chmodSync(fake, 0o755);
    const s = await createPocketsphinxStt({ binary: fake }).open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" });
    const evs = await collect(s);
    expect(evs).toHaveLength(1);
    expect(evs[0]!.type).toBe("error");
    const err = (evs[0] as { error: ProviderError }).error;
    expect(err.message).toContain("exited (code 3)");
    expect(err.message).toContain("model broken");
  });

  test.skipIf(!HAVE_PS)("a recogniser that logs a lot before dying: only the tail of stderr is kept, and it names the cause", async () => {
    const fake = join(tmp, "chatty-dies.sh");
    // ~40 KB of INFO lines (as pocketsphinx logs per utterance), then the fatal line.
    writeFileSync(fake, "#!/bin/sh\nfor i in $(seq 1 800); do echo \"INFO: ngram_search.c(123): line $i of the usual chatter\" >&2; done\necho 'FATAL: out of memory' >&2\nexit 4\n");
    chmodSync(fake, 0o755);
    const s = await createPocketsphinxStt({ binary: fake }).open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" });
    const evs = await collect(s);
    const err = (evs[0] as { error: ProviderError }).error;
    expect(err.message).toContain("exited (code 4)");
    expect(err.message).toContain("FATAL: out of memory");
    expect(err.message).toContain("line 800 of");
    expect(err.message).not.toContain("line 1 of");
  });

  test.skipIf(!HAVE_PS)("a recogniser that stops reading: audio beyond maxBufferedMs is dropped and counted; end() is bounded", async () => {
    const stuck = join(tmp, "stuck.sh");
    writeFileSync(stuck, "#!/bin/sh\nexec sleep 30\n");
    chmodSync(stuck, 0o755);
    const s = (await createPocketsphinxStt({ binary: stuck, maxBufferedMs: 200, endTimeoutMs: 300 }).open({
      callId: "c",
      signal: new AbortController().signal,
      codec: "PCMU",
    })) as SttStream & { droppedSamples: number; pids: { recogniser: number } };
    // 60 s of audio at once: far more than the FIFO, cat and the 200 ms allowance can hold.
    pushPcm(s, new Int16Array(8000 * 60).fill(1000));
    expect(s.droppedSamples).toBeGreaterThan(16000 * 30);
    const t0 = performance.now();
    await s.end();
    expect(performance.now() - t0).toBeLessThan(2000);
    for (let i = 0; i < 100 && existsSync(`/proc/${s.pids.recogniser}`); i++) await Bun.sleep(20);
    expect(existsSync(`/proc/${s.pids.recogniser}`)).toBe(false);
  }, 20_000); // resampling 60 s of audio takes seconds on a loaded machine

  test.skipIf(!HAVE_PS)("args: VAD options and phone CMN model dir are passed", () => {
    const a = createPocketsphinxStt({ vad: { postSpeechFrames: 40 } }).args();
    expect(a.slice(0, 2)).toEqual(["-infile", "/dev/stdin"]);
    expect(a[a.indexOf("-vad_postspeech") + 1]).toBe("40");
    expect(a[a.indexOf("-vad_threshold") + 1]).toBe("2");
    expect(a[a.indexOf("-remove_noise") + 1]).toBe("no");
    expect(a[a.indexOf("-time") + 1]).toBe("yes");
    expect(a[a.indexOf("-hmm") + 1]).not.toBe("/usr/share/pocketsphinx/model/en-us/en-us");
    const over = createPocketsphinxStt({ extraArgs: ["-remove_noise", "yes", "-beam", "1e-40"] }).args();
    expect(over.filter((x) => x === "-remove_noise")).toHaveLength(1);
    expect(over.slice(-4)).toEqual(["-remove_noise", "yes", "-beam", "1e-40"]);
    const own = createPocketsphinxStt({ cmninit: null }).args();
    expect(own[own.indexOf("-hmm") + 1]).toBe("/usr/share/pocketsphinx/model/en-us/en-us");
  });
});

/** The nice value of /proc/<which> (a pid or "thread-self"): field 19 of its stat line (proc(5)). */
function niceOf(which: string): number {
  const stat = readFileSync(`/proc/${which}/stat`, "latin1");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

async function collect(s: SttStream): Promise<SttEvent[]> {
  const out: SttEvent[] = [];
  for await (const e of s.events) out.push(e);
  return out;
}

function pushPcm(s: SttStream, pcm: Int16Array): void {
  for (let k = 0; k < pcm.length; k += 160) {
    const f = new Int16Array(160);
    f.set(pcm.subarray(k, k + 160));
    s.push({ pcm: f, payload: new Uint8Array(160), codec: "PCMU" });
  }
}

describe.skipIf(!HAVE_PS)("PocketsphinxStt with the real recogniser", () => {
  const tts = createFliteTts({ voice: "kal16" });

  test("recognises synthetic speech: one final per utterance, speechFinal, confidence; end() drains", async () => {
    // Generous end timeout: on a loaded 2-core machine decoding can run close to real time.
    const s = await createPocketsphinxStt({ endTimeoutMs: 40_000 }).open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" });
    const silence = new Int16Array(4000);
    pushPcm(s, silence);
    pushPcm(s, await tts.synthesize8k("My name is John Smith."));
    pushPcm(s, new Int16Array(8000));
    pushPcm(s, await tts.synthesize8k("I am calling about my appointment."));
    const done = collect(s);
    await s.end();
    const evs = await done;
    expect(evs.every((e) => e.type === "final" && e.speechFinal && typeof e.confidence === "number")).toBe(true);
    const texts = evs.map((e) => (e as { text: string }).text);
    expect(texts).toHaveLength(2);
    expect(texts[0]).toContain("john smith");
    expect(texts[1]).toContain("appointment");
  }, 60_000);

  test("flush() finalises the utterance in progress without waiting for more audio", async () => {
    const s = await createPocketsphinxStt().open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" });
    const it = s.events[Symbol.asyncIterator]();
    pushPcm(s, new Int16Array(2000));
    pushPcm(s, await tts.synthesize8k("Yes, that is right."));
    s.flush();
    const t0 = performance.now();
    const r = await it.next();
    expect(r.done).toBe(false);
    expect((r.value as { text: string }).text).toContain("right");
    expect(performance.now() - t0).toBeLessThan(60_000); // no more audio was pushed: flush() alone produced it (34 s seen at load 20)
    s.close();
    expect((await it.next()).done).toBe(true);
  }, 90_000);

  test("expect(): a category step swaps to a process with its JSGF grammar, which hears the answer; an open step swaps back to the LM; retired processes exit", async () => {
    const s = (await createPocketsphinxStt().open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" })) as SttStream & {
      pids: { recogniser: number };
      grammarSwaps: number;
    };
    const first = s.pids.recogniser;
    expect(await cmdlineOf(first, "pocketsphinx_continuous")).toContain("-lm");
    s.expect!({ kind: "yes_no", words: ["yes", "no"] }); // not a grammar kind by default: no swap
    expect(s.pids.recogniser).toBe(first);
    s.expect!({ kind: "category", words: ["appointment", "bill", "invoice"] });
    const grammar = s.pids.recogniser;
    expect(grammar).not.toBe(first);
    const args = await cmdlineOf(grammar, "pocketsphinx_continuous");
    expect(args[args.indexOf("-jsgf") + 1]).toMatch(/voice-agent-jsgf-.*\/step1\.jsgf$/);
    expect(args[args.indexOf("-wip") + 1]).toBe("1e-3");
    s.expect!({ kind: "category", words: ["appointment", "bill", "invoice"] }); // same grammar: no new process
    expect([s.pids.recogniser, s.grammarSwaps]).toEqual([grammar, 1]);
    const it = s.events[Symbol.asyncIterator]();
    pushPcm(s, new Int16Array(4000));
    pushPcm(s, await tts.synthesize8k("I have a question about my bill."));
    pushPcm(s, new Int16Array(12000));
    const r = await it.next(); // reported as soon as the grammar search prints it (no </s> in its output)
    expect((r.value as { text: string }).text).toContain("bill");
    // The retired LM process exits (it was retired while loading: killed after the grace period); reaped, no zombie.
    for (let i = 0; i < 300 && existsSync(`/proc/${first}`); i++) await Bun.sleep(50);
    expect(existsSync(`/proc/${first}`) ? readFileSync(`/proc/${first}/stat`, "utf8") : "gone").toBe("gone");
    s.expect!(undefined);
    expect(await cmdlineOf(s.pids.recogniser, "pocketsphinx_continuous")).toContain("-lm");
    s.close();
  }, 90_000);

  // At nice 19 already (the cap) no increment could show.
  test.skipIf(niceOf("thread-self") === 19)("the recogniser and its feeder run `recogniserNice` nicer than the thread that started them (STT_RECOGNISER_NICE); 0 leaves them as it", async () => {
    const own = niceOf("thread-self");
    for (const by of [Math.min(7, 19 - own), 0]) {
      const s = (await createPocketsphinxStt({ recogniserNice: by }).open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" })) as SttStream & {
        pids: { recogniser: number; feeder: number };
      };
      const { recogniser, feeder } = s.pids;
      await cmdlineOf(recogniser, "pocketsphinx_continuous");
      await cmdlineOf(feeder, "cat");
      expect([niceOf(String(recogniser)), niceOf(String(feeder))]).toEqual([own + by, own + by]);
      s.close();
    }
  }, 20_000);

  test("close() kills the recogniser and its feeder; both are reaped (no zombie); abort does the same", async () => {
    for (const how of ["close", "abort"] as const) {
      const ac = new AbortController();
      const s = (await createPocketsphinxStt().open({ callId: "c", signal: ac.signal, codec: "PCMU" })) as SttStream & {
        pids: { recogniser: number; feeder: number };
      };
      pushPcm(s, await tts.synthesize8k("Hello."));
      const { recogniser, feeder } = s.pids;
      expect((await cmdlineOf(recogniser, "pocketsphinx_continuous"))[0]).toEndWith("pocketsphinx_continuous");
      expect((await cmdlineOf(feeder, "cat"))[0]).toEndWith("cat");
      if (how === "close") s.close();
      else ac.abort();
      s.close(); // idempotent
      for (let i = 0; i < 150 && [recogniser, feeder].some((p) => existsSync(`/proc/${p}`)); i++) await Bun.sleep(20);
      // Gone from /proc entirely: killed AND reaped (a zombie would still have a /proc entry).
      for (const p of [recogniser, feeder]) expect(existsSync(`/proc/${p}`)).toBe(false);
      expect(await collect(s)).toEqual([]);
    }
  }, 20_000);
});
