/**
 * SttProvider "pocketsphinx": offline recognition with Debian's `pocketsphinx_continuous`
 * (pocketsphinx 0.8+5prealpha, packages pocketsphinx + pocketsphinx-en-us, 16 kHz US-English model).
 *
 * One long-lived process per call. Caller audio (8 kHz PCM16, 20 ms frames) is upsampled to 16 kHz with
 * the band-limited resampler (state per stream) and written raw to the process's stdin, a whole read block
 * of the recogniser at a time (feed-batch.ts: ~8 writes a second, not 50). Its own VAD
 * (`-vad_*` options) cuts utterances; at each utterance end it prints the hypothesis, which becomes one
 * `{ type: "final", speechFinal: true, confidence }` event. There are no interim results.
 *
 * Process plumbing: Bun gives a child a socket as stdin, and `-infile /dev/stdin` cannot open a socket
 * (ENXIO). So the recogniser's stdin is the read end of a FIFO (fifo.ts) whose write end is the stdout
 * of a `cat` that we feed. Both are direct children of this process, so Bun reaps them (no zombie); if
 * either exits the other is killed; close() kills both.
 *
 * Per-step grammar (`expect()`, src/providers/types.ts TurnExpectation): when a scripted step expects
 * answers of a kind listed in `grammarFor` (default: categories), the stream starts a second process
 * with that step's JSGF grammar (grammar.ts: the expected words plus a loop of common words), sends
 * the audio to it from then on and retires the previous one (which still reports what it heard); an
 * open step swaps back to the n-gram LM. Measured: `bun tests/providers/offline/bench/stt-grammar.ts`.
 *
 * `flush()`: pocketsphinx has no "finalize now" command; we feed it enough digital silence to trip its
 * end-of-speech detector (post-speech frames + one 2048-sample read block + margin). If no utterance is in
 * progress nothing is reported.
 */
import { Resampler } from "../../media/resample.ts";
import { AsyncQueue } from "../../util/async-queue.ts";
import { ProviderError, type AudioFrame, type SttEvent, type SttOpenOptions, type SttProvider, type SttStream, type TurnExpectation } from "../types.ts";
import { BandFill } from "./band-fill.ts";
import { FeedBatch } from "./feed-batch.ts";
import { loadDictionaryWords, stepGrammar } from "./grammar.ts";
import { hmmWithCmnInit, PHONE_CMNINIT } from "./model-dir.ts";
import type { Utterance } from "./output-parser.ts";
import { POCKETSPHINX_DEFAULTS, STEP_GRAMMAR_ARGS, type PocketsphinxSttOptions, type PocketsphinxVad } from "./options.ts";
import { RecogniserProcess } from "./recogniser-process.ts";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export { POCKETSPHINX_DEFAULTS, STEP_GRAMMAR_ARGS, type PocketsphinxSttOptions, type PocketsphinxVad } from "./options.ts";

/** Input rate the en-us model expects (Hz). */
const MODEL_HZ = 16000;
/** How long a retired recogniser may take to report its last utterance before it is killed (ms). */
const RETIRE_GRACE_MS = 5000;
/** continuous.c reads its input in blocks of 2048 samples; a flush must fill at least one. */
const READ_BLOCK = 2048;

const NAME = "pocketsphinx";

export class PocketsphinxStt implements SttProvider {
  readonly name = NAME;
  private readonly o: PocketsphinxSttOptions;

  constructor(opts: PocketsphinxSttOptions = {}) {
    this.o = opts;
  }

  /**
   * Builds the 8 kHz → 16 kHz converters of `calls` streams ahead of time (src/media/resample.ts pool),
   * so no call's start holds the event loop building one (60–300 ms each). Resolves with the pool size.
   */
  prewarm(calls: number): Promise<number> {
    return Resampler.prewarm(8000, MODEL_HZ, calls);
  }

  /** Resolved VAD settings. */
  get vad(): PocketsphinxVad {
    return { ...POCKETSPHINX_DEFAULTS.vad, ...this.o.vad };
  }

  /** The pronunciation dictionary in use. */
  get dict(): string {
    return this.o.dict ?? join(this.o.modelDir ?? POCKETSPHINX_DEFAULTS.modelDir, "cmudict-en-us.dict");
  }

  /**
   * The recogniser's argv (without the binary), for logs and tests; `stepJsgf`: a step grammar file
   * instead of the configured LM/grammar (with `grammarArgs`).
   * @throws ProviderError "bad_request" when a model file is missing.
   */
  args(stepJsgf?: string): string[] {
    const modelDir = this.o.modelDir ?? POCKETSPHINX_DEFAULTS.modelDir;
    const hmm = this.o.hmm ?? join(modelDir, "en-us");
    const dict = this.dict;
    const lm = this.o.lm ?? join(modelDir, "en-us.lm.bin");
    const jsgf = stepJsgf ?? this.o.jsgf;
    const need = [hmm, dict, jsgf ?? lm];
    for (const p of need) {
      if (!existsSync(p)) {
        throw new ProviderError(NAME, "stt", "bad_request", `pocketsphinx model file missing: ${p} (apt-get install pocketsphinx-en-us)`, false);
      }
    }
    const cmninit = this.o.cmninit === undefined ? PHONE_CMNINIT : this.o.cmninit;
    const v = this.vad;
    const base = [
      "-infile", "/dev/stdin",
      "-hmm", cmninit ? hmmWithCmnInit(hmm, cmninit) : hmm,
      "-dict", dict,
      ...(jsgf ? ["-jsgf", jsgf] : ["-lm", lm]),
      "-samprate", String(MODEL_HZ),
      "-time", "yes",
      "-remove_noise", (this.o.removeNoise ?? POCKETSPHINX_DEFAULTS.removeNoise) ? "yes" : "no",
      "-vad_postspeech", String(v.postSpeechFrames),
      "-vad_prespeech", String(v.preSpeechFrames),
      "-vad_startspeech", String(v.startSpeechFrames),
      "-vad_threshold", String(v.threshold),
    ];
    // An option given twice makes pocketsphinx exit at start: extraArgs replace ours of the same name.
    const extra = [...(this.o.extraArgs ?? []), ...(stepJsgf ? (this.o.grammarArgs ?? STEP_GRAMMAR_ARGS) : [])];
    const overridden = new Set(extra.filter((a, i) => i % 2 === 0 && a.startsWith("-")));
    const out: string[] = [];
    for (let i = 0; i < base.length; i += 2) if (!overridden.has(base[i]!)) out.push(base[i]!, base[i + 1]!);
    return [...out, ...extra];
  }

  /**
   * Starts the recogniser for one call.
   * @throws ProviderError "unavailable" (not retryable) when the binary is not installed,
   *   "bad_request" when the model is missing.
   */
  async open(opts: SttOpenOptions): Promise<SttStream> {
    const binary = this.o.binary ?? POCKETSPHINX_DEFAULTS.binary;
    const exe = Bun.which(binary);
    if (!exe) {
      throw new ProviderError(NAME, "stt", "unavailable", `${binary} not found: apt-get install pocketsphinx pocketsphinx-en-us`, false);
    }
    if (opts.signal.aborted) throw new ProviderError(NAME, "stt", "aborted", "aborted before open", false);
    const args = this.args();
    const resampler = await Resampler.create(8000, MODEL_HZ);
    const grammarFor = new Set(this.o.grammarFor ?? POCKETSPHINX_DEFAULTS.grammarFor);
    const spawner: Spawner = {
      spawn: (events, jsgf) => RecogniserProcess.spawn(exe, jsgf ? this.args(jsgf) : args, events, this.o.recogniserNice ?? POCKETSPHINX_DEFAULTS.recogniserNice),
      grammarOf: (e) => (e?.kind && grammarFor.has(e.kind) ? stepGrammar(e.words, loadDictionaryWords(this.dict)) : null),
    };
    try {
      return new PocketsphinxStream(
        spawner,
        resampler,
        new BandFill(this.o.bandFill ?? 0),
        this.vad,
        this.o.endTimeoutMs ?? POCKETSPHINX_DEFAULTS.endTimeoutMs,
        opts.signal,
        ((this.o.maxBufferedMs ?? POCKETSPHINX_DEFAULTS.maxBufferedMs) * MODEL_HZ * 2) / 1000,
      );
    } catch (e) {
      resampler.close();
      throw new ProviderError(NAME, "stt", "unavailable", `cannot start ${binary}: ${String(e)}`, false, undefined, { cause: e });
    }
  }
}

/** How a stream starts recogniser processes and turns an expectation into grammar text (null: the LM). */
interface Spawner {
  spawn(events: { onUtterance(u: Utterance): void; onDied(message: string): void }, jsgfPath?: string): RecogniserProcess;
  grammarOf(e: TurnExpectation | undefined): string | null;
}

class PocketsphinxStream implements SttStream {
  private readonly queue = new AsyncQueue<SttEvent>(256);
  readonly events: AsyncIterable<SttEvent> = this.queue;
  private state: "open" | "ending" | "closed" = "open";
  private readonly onAbort = () => this.close();
  private pendingBytes = 0;
  private flushSeq = 0;
  /** 16 kHz samples dropped by the overflow rule (recogniser not keeping up). */
  droppedSamples = 0;
  /** The process audio goes to; earlier ones retired by `expect()` finish on their own. */
  private rec: RecogniserProcess;
  private readonly retired = new Set<RecogniserProcess>();
  /** The grammar text `rec` runs (null: the n-gram LM). */
  private grammar: string | null = null;
  private grammarDir: string | undefined;
  private grammarSeq = 0;
  /** Processes started for step grammars (for tests and logs). */
  grammarSwaps = 0;
  /** Audio held until the recogniser's next read block is whole. */
  private readonly feed = new FeedBatch(READ_BLOCK);
  /** Writes to the current feeder (for tests: one per read block, not per frame). */
  feedWrites = 0;

  constructor(
    private readonly spawner: Spawner,
    private readonly resampler: Resampler,
    private readonly fill: BandFill,
    private readonly vad: PocketsphinxVad,
    private readonly endTimeoutMs: number,
    private readonly signal: AbortSignal,
    private readonly maxPendingBytes: number,
  ) {
    this.rec = this.start();
    signal.addEventListener("abort", this.onAbort, { once: true });
  }

  /** Process ids of the current recogniser and of its feeding `cat`, for diagnostics and tests. */
  get pids(): { recogniser: number; feeder: number } {
    return { recogniser: this.rec.proc.pid, feeder: this.rec.feeder.pid };
  }

  push(frame: AudioFrame): void {
    if (this.state !== "open") return;
    this.write(this.resampler.process(frame.pcm));
  }

  flush(): void {
    if (this.state !== "open") return;
    // Enough silence for the VAD to see end of speech, rounded up to whole read blocks, plus one block.
    const samples = Math.ceil(((this.vad.postSpeechFrames + 10) * (MODEL_HZ / 100)) / READ_BLOCK + 1) * READ_BLOCK;
    this.write(new Int16Array(samples), false, true); // with what is held, written at once
  }

  /**
   * A step expecting answers of a grammar kind gets a recogniser with its grammar; other steps the LM.
   * The swap happens only when the grammar changes; a grammar that cannot start leaves the current one.
   */
  expect(e: TurnExpectation | undefined): void {
    if (this.state !== "open") return;
    const grammar = this.spawner.grammarOf(e);
    if (grammar === this.grammar) return;
    let next: RecogniserProcess;
    try {
      let path: string | undefined;
      if (grammar !== null) {
        this.grammarDir ??= mkdtempSync(join(tmpdir(), "voice-agent-jsgf-"));
        path = join(this.grammarDir, `step${++this.grammarSeq}.jsgf`);
        writeFileSync(path, grammar);
      }
      next = this.start(path);
    } catch {
      return; // keep listening with what runs now
    }
    this.send(this.feed.take()); // audio heard before the swap goes to the recogniser that heard the rest
    this.feed.reset();
    const old = this.rec;
    this.rec = next;
    this.grammar = grammar;
    if (grammar !== null) this.grammarSwaps++;
    this.pendingBytes = 0;
    this.retired.add(old);
    old.retire(RETIRE_GRACE_MS);
    void old.finished().then(() => this.retired.delete(old));
  }

  async end(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "ending";
    this.write(this.resampler.flush(), true);
    this.send(this.feed.take());
    this.rec.endInput(); // cat exits after copying the rest → the recogniser reads EOF and finishes
    for (const r of this.retired) r.endInput();
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Bounded wait for the last results; past the limit close() kills the processes and drops them.
    await Promise.race([
      Promise.all([this.rec.finished(), ...[...this.retired].map((r) => r.finished())]),
      new Promise<void>((r) => (timer = setTimeout(r, this.endTimeoutMs))),
    ]);
    clearTimeout(timer);
    this.close();
  }

  close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.signal.removeEventListener("abort", this.onAbort);
    for (const r of [this.rec, ...this.retired]) r.kill();
    if (this.grammarDir) rmSync(this.grammarDir, { recursive: true, force: true });
    this.resampler.close();
    this.queue.close();
  }

  private start(jsgfPath?: string): RecogniserProcess {
    const events = {
      onUtterance: (u: Utterance) => this.onUtterance(u),
      onDied: (message: string) => {
        if (this.state === "open" && this.rec === proc) this.fail(message);
      },
    };
    const proc: RecogniserProcess = this.spawner.spawn(events, jsgfPath);
    return proc;
  }

  /**
   * Adds 16 kHz audio to the feed; writes it when a read block is whole, or at once with `now`.
   * `force`: also while ending (end()'s resampler tail).
   */
  private write(pcm16k: Int16Array, force = false, now = false): void {
    if ((this.state !== "open" && !force) || pcm16k.length === 0) return;
    // Overflow rule (STYLE habit 7): while the pipe is not draining, at most maxBufferedMs of audio waits in
    // our buffer; newer audio is dropped and counted (a stalled recogniser would hear a gap). The feed's own
    // hold (under one read block, 128 ms) comes on top.
    if (this.pendingBytes + pcm16k.byteLength > this.maxPendingBytes) {
      this.droppedSamples += pcm16k.length;
      return;
    }
    this.fill.apply(pcm16k);
    const ready = this.feed.add(pcm16k);
    this.send(now ? (ready ?? this.feed.take()) : ready);
  }

  /** Writes `pcm16k` to the current feeder (nothing for null). */
  private send(pcm16k: Int16Array | null): void {
    if (!pcm16k) return;
    try {
      this.feedWrites++;
      const f = this.rec.write(new Uint8Array(pcm16k.buffer, pcm16k.byteOffset, pcm16k.byteLength));
      this.pendingBytes += pcm16k.byteLength;
      if (f instanceof Promise) {
        const mark = ++this.flushSeq;
        f.then(
          () => {
            if (mark === this.flushSeq) this.pendingBytes = 0; // everything written so far reached the pipe
          },
          () => undefined, // a broken pipe shows up as the exit of a child
        );
      } else this.pendingBytes = 0;
    } catch (e) {
      this.fail(`writing to pocketsphinx failed: ${String(e)}`, e);
    }
  }

  private onUtterance(u: Utterance): void {
    if (this.state === "closed" || !u.text) return;
    const ev: SttEvent = { type: "final", text: u.text, speechFinal: true };
    if (u.confidence !== undefined) ev.confidence = u.confidence;
    this.queue.push(ev);
  }

  private fail(message: string, cause?: unknown): void {
    if (this.state === "closed") return;
    this.queue.push({ type: "error", error: new ProviderError(NAME, "stt", "unavailable", message, true, undefined, { cause }) });
    this.close();
  }
}

/** Creates the "pocketsphinx" SttProvider. */
export function createPocketsphinxStt(opts: PocketsphinxSttOptions = {}): PocketsphinxStt {
  return new PocketsphinxStt(opts);
}
