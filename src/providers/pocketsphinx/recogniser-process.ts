/**
 * One `pocketsphinx_continuous` process and its feeder: 16 kHz PCM16 written to a `cat` whose stdout is
 * the FIFO the recogniser reads (`-infile /dev/stdin` cannot open the socket Bun gives a child as stdin;
 * fifo.ts). Both are direct children, so Bun reaps them (no zombie). Hypotheses on stdout are parsed
 * (output-parser.ts) and reported per utterance; stderr is kept only as a short raw tail for the error
 * message if the process dies (no decoding on the thread that paces RTP).
 *
 * Priority: both children get `nice` added to their nice value right after they are spawned
 * (setpriority(2) on the child's pid through bun:ffi, util/thread-sched.ts). A recogniser's start loads its
 * model for 0.56–0.71 s of CPU; at the agent's own priority a burst of new calls held the thread that paces
 * RTP on its core's run queue for 65–85 ms of 75–150 ms stalls (session 21). Niced, the recognisers run in
 * the call thread's idle time: under CPU contention recognition lags (replies come later), the media path
 * does not wait. Why setpriority and not a `nice` wrapper: one syscall on our side (µs), no extra exec per
 * process, any `binary`; the child runs at our priority only for the µs between its exec and the call.
 * Without libc (not Linux/glibc) the children keep our priority (the agent logs it once at start).
 *
 * A stream (pocketsphinx-stt.ts) has one current process and may retire it for another (a dialogue
 * step's grammar, grammar.ts): a retired process gets the end of its input, reports the utterances it
 * still had, and exits without that counting as a failure.
 */
import { raiseProcessNice } from "../../util/thread-sched.ts";
import { makeFifo } from "./fifo.ts";
import { PocketsphinxOutputParser, type Utterance } from "./output-parser.ts";

/**
 * Default nice increment of a recogniser and its feeder (STT_RECOGNISER_NICE). A live call + 20 offline calls
 * started at 10/s (SIPp, 2-core machine, 7 Dec 2026), ticks over 40 ms late / worst tick: 0 → 9.9 %, 5.6 % /
 * 159, 178 ms; 10 → 0.8 %, 1.9 % / 53, 64 ms; 19 → 1.5 %, 0 % / 93, 37 ms (README, STT_RECOGNISER_NICE).
 */
export const RECOGNISER_NICE_DEFAULT = 10;

/** Bytes of the recogniser's stderr kept for the error message when it dies. */
const STDERR_TAIL_BYTES = 4096;

export interface RecogniserEvents {
  onUtterance(u: Utterance): void;
  /** The recogniser or its feeder exited while it was current (not retired, not killed by us). */
  onDied(message: string): void;
}

export class RecogniserProcess {
  /** Given the end of its input by `retire()`: its exit is expected. */
  retired = false;
  private killed = false;
  private readonly stderrChunks: Uint8Array[] = [];
  private stderrBytes = 0;
  /** Resolves when stdout has been read to its end and the last utterance reported. */
  readonly stdoutDone: Promise<void>;

  private constructor(
    readonly proc: Bun.Subprocess<number, "pipe", "pipe">,
    readonly feeder: Bun.Subprocess<"pipe", number, "ignore">,
    events: RecogniserEvents,
  ) {
    const parser = new PocketsphinxOutputParser((u) => events.onUtterance(u));
    this.stdoutDone = pump(proc.stdout, (t) => parser.push(t)).then(() => parser.end());
    void this.keepTail(proc.stderr);
    void proc.exited.then(async (code) => {
      await this.stdoutDone.catch(() => undefined);
      if (!this.retired && !this.killed) events.onDied(`pocketsphinx exited (code ${code}) unexpectedly: ${this.stderrLines().slice(-3).join(" | ")}`);
    });
    void feeder.exited.then(() => {
      if (!this.retired && !this.killed) events.onDied("the audio feeder (cat) exited unexpectedly");
    });
  }

  /**
   * Starts `exe args…` fed through a FIFO, both processes `nice` nicer than the calling thread (0: as it).
   * @throws Error when a process cannot be spawned (both are killed).
   */
  static spawn(exe: string, args: string[], events: RecogniserEvents, nice = 0): RecogniserProcess {
    let rec: Bun.Subprocess<number, "pipe", "pipe"> | undefined;
    const fifo = makeFifo();
    try {
      rec = Bun.spawn([exe, ...args], { stdin: fifo.readFd, stdout: "pipe", stderr: "pipe" });
      if (nice > 0) raiseProcessNice(rec.pid, nice); // best effort: see the file's docstring
      const feeder = Bun.spawn(["cat"], { stdin: "pipe", stdout: fifo.writeFd, stderr: "ignore" });
      if (nice > 0) raiseProcessNice(feeder.pid, nice);
      return new RecogniserProcess(rec, feeder, events);
    } catch (e) {
      rec?.kill("SIGKILL");
      throw e;
    } finally {
      fifo.closeOurs();
    }
  }

  /** Writes audio bytes to the feeder; returns its flush (a Promise while the pipe is full). */
  write(bytes: Uint8Array): number | Promise<number> {
    this.feeder.stdin.write(bytes);
    return this.feeder.stdin.flush();
  }

  /** Ends the input: `cat` exits after copying the rest, the recogniser reads EOF and finishes. */
  endInput(): void {
    try {
      this.feeder.stdin.end();
    } catch {
      /* already gone */
    }
  }

  /**
   * Ends the input and marks the exit as expected; pending utterances are still reported. Killed after
   * `graceMs` if still running: pocketsphinx opens `-infile /dev/stdin` by path once its model is loaded,
   * and opening a FIFO whose writer is already gone blocks for ever (a process retired while loading).
   */
  retire(graceMs: number): void {
    this.retired = true;
    this.endInput();
    const t = setTimeout(() => this.kill(), graceMs);
    void this.proc.exited.then(() => clearTimeout(t));
  }

  /** Both processes and stdout finished. */
  finished(): Promise<unknown> {
    return Promise.all([this.proc.exited, this.stdoutDone]);
  }

  /** SIGTERM both, SIGKILL after 2 s. Idempotent. */
  kill(): void {
    this.killed = true;
    this.endInput();
    for (const p of [this.feeder, this.proc] as Bun.Subprocess[]) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 2000);
      void p.exited.then(() => clearTimeout(t));
    }
  }

  private async keepTail(stream: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of stream) {
        this.stderrChunks.push(chunk);
        this.stderrBytes += chunk.length;
        while (this.stderrChunks.length > 1 && this.stderrBytes - this.stderrChunks[0]!.length >= STDERR_TAIL_BYTES) {
          this.stderrBytes -= this.stderrChunks.shift()!.length;
        }
      }
    } catch {
      /* stream torn down by kill() */
    }
  }

  /** The non-empty lines of the kept stderr tail. */
  private stderrLines(): string[] {
    const text = new TextDecoder().decode(Buffer.concat(this.stderrChunks));
    return text.split("\n").filter((l) => l.trim());
  }
}

async function pump(stream: ReadableStream<Uint8Array>, sink: (text: string) => void): Promise<void> {
  const dec = new TextDecoder();
  try {
    for await (const chunk of stream) sink(dec.decode(chunk, { stream: true }));
  } catch {
    /* stream torn down by kill() */
  }
}
