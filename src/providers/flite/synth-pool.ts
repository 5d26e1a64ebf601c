/**
 * A pool of flite synthesis workers (Bun Worker threads running synth-worker.ts), so synthesis and its
 * resampling never run on the thread that paces RTP (issue 13: flite held it 150–250 ms per sentence).
 * The flite WASM is compiled once on the main thread and the compiled WebAssembly.Module is posted to
 * every worker (shared code, one compilation).
 *
 * Workers start on the first `start()` or `render()` (a cloud-only agent, where flite is just the
 * fallback, starts none until a fallback is needed). A piece goes to the worker with the fewest pieces
 * in flight. A worker that dies fails its pieces ("unavailable") and is replaced on the next render.
 *
 * Where the worker file is: under `bun run`, beside this file; inside the compiled binary, the extra
 * entry point `providers/flite/synth-worker` (src/util/worker-entry.ts finds it).
 *
 *   const pool = new FliteWorkerPool(2);
 *   await pool.start();                                 // workers up, ready (ms)
 *   const pcm = await pool.render("Hello.", { voice: "kal16", rate: 1 });   // 8 kHz Int16Array
 *   pool.close();
 */
import { loadFliteModule, type FliteVoice } from "./engine.ts";
import type { WorkerReply, WorkerRequest } from "./synth-worker.ts";
import { workerEntry as resolveWorkerEntry } from "../../util/worker-entry.ts";

/** The worker entry to start: the embedded one inside a compiled binary, else the source file. @throws Error when not embedded */
export function workerEntry(): string {
  return resolveWorkerEntry(import.meta.url, "providers/flite/synth-worker", "flite worker");
}

/** A piece that failed in a worker; `code` as ProviderError codes. */
export class PoolRenderError extends Error {
  constructor(
    readonly code: "bad_request" | "protocol" | "unavailable",
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve(pcm: Int16Array): void;
  reject(e: Error): void;
}

class PoolWorker {
  readonly pending = new Map<number, Pending>();
  readonly ready: Promise<void>;
  dead = false;
  private readonly w: Worker;

  constructor(entry: string, mod: WebAssembly.Module) {
    this.w = new Worker(entry);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.ready = promise;
    this.ready.catch(() => {});
    this.w.onmessage = (ev: MessageEvent<WorkerReply>) => {
      const m = ev.data;
      if (m.kind === "ready") return resolve();
      const p = this.settle(m.id);
      if (!p) return;
      if (m.kind === "done") p.resolve(m.pcm);
      else p.reject(new PoolRenderError(m.code, m.message));
    };
    this.w.onerror = (ev: ErrorEvent) => {
      const err = new PoolRenderError("unavailable", `flite worker failed: ${ev.message}`);
      reject(err);
      this.fail(err);
    };
    this.w.addEventListener("close", () => this.fail(new PoolRenderError("unavailable", "flite worker exited")));
    this.post({ kind: "init", module: mod });
    // An idle worker does not keep the process alive; one with pieces in flight does.
    this.w.unref();
  }

  add(id: number, p: Pending): void {
    if (this.pending.size === 0) this.w.ref();
    this.pending.set(id, p);
  }

  settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    this.pending.delete(id);
    if (p && this.pending.size === 0 && !this.dead) this.w.unref();
    return p;
  }

  post(m: WorkerRequest): void {
    this.w.postMessage(m);
  }

  fail(err: Error): void {
    this.dead = true;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  terminate(): void {
    this.fail(new PoolRenderError("unavailable", "flite worker pool closed"));
    this.w.terminate();
  }
}

export class FliteWorkerPool {
  private workers: PoolWorker[] = [];
  private nextId = 1;
  private starting: Promise<void> | undefined;
  private closed = false;

  /** @param size workers (threads), ≥ 1. */
  constructor(readonly size: number) {
    if (!(Number.isInteger(size) && size >= 1)) throw new RangeError(`flite worker pool size ${size}: an integer ≥ 1`);
  }

  /** Workers alive now. */
  get live(): number {
    return this.workers.filter((w) => !w.dead).length;
  }

  /**
   * Starts the missing workers and waits until each has the module (idempotent).
   * @throws PoolRenderError ("unavailable") when a worker cannot start.
   */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new PoolRenderError("unavailable", "flite worker pool closed"));
    this.starting ??= (async () => {
      const mod = await loadFliteModule();
      this.workers = this.workers.filter((w) => !w.dead);
      const entry = workerEntry();
      while (this.workers.length < this.size) this.workers.push(new PoolWorker(entry, mod));
      await Promise.all(this.workers.map((w) => w.ready));
    })().finally(() => (this.starting = undefined));
    return this.starting;
  }

  /**
   * One piece → 8 kHz PCM (the samples render.ts gives on the calling thread).
   * @throws PoolRenderError (code "bad_request" when flite fails on the text, "unavailable" when no worker runs).
   */
  async render(text: string, opts: { voice: FliteVoice; rate: number }): Promise<Int16Array> {
    if (this.live < this.size || this.starting) await this.start();
    let best: PoolWorker | undefined;
    for (const w of this.workers) if (!w.dead && (!best || w.pending.size < best.pending.size)) best = w;
    if (!best) throw new PoolRenderError("unavailable", "no flite worker running");
    const id = this.nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<Int16Array>();
    best.add(id, { resolve, reject });
    best.post({ kind: "render", id, text, voice: opts.voice, rate: opts.rate });
    return promise;
  }

  /** Stops every worker; pieces in flight fail ("unavailable"). Idempotent. */
  close(): void {
    this.closed = true;
    for (const w of this.workers) w.terminate();
    this.workers = [];
  }
}
