/**
 * The VAD worker thread (VAD_WORKER=on; a Bun Worker, an extra entry point of the compiled binary,
 * scripts/build.ts): it owns an onnxruntime session on the embedded Silero model and runs the batches the
 * call thread's WindowBatcher packs (worker-model.ts is the other side), so a model run — synchronous in
 * onnxruntime-node, 3–24 ms at 200 calls on the call thread (issue 13) — no longer holds SIP and the pacer.
 *
 * Protocol (one message per batch, no per-window messages; buffers are transferred both ways and reused):
 *   main → worker  { t: "init", nice }                      once, first: raise this thread's nice by `nice`
 *                                                          (util/thread-sched.ts), then load the model
 *                  { t: "run", id, b, len, input, st }     input: ArrayBuffer holding [b, len] float32 from
 *                                                          offset 0, st: [2, b, 128] float32 (model.ts packBatch)
 *   worker → main  { t: "ready", ms, tid, nice, niceError? } the model is loaded (ms: load time; tid: this
 *                                                          thread's id; nice: its nice value, null if unchanged)
 *                  { t: "load_failed", message }            no model: the worker does nothing more
 *                  { t: "done", id, p, input, st }          p: b probabilities (Float32Array); `st` now holds
 *                                                          the next states [2, b, 128]; both buffers handed back
 *                  { t: "failed", id, message, input, st }  this run threw (VadError message); buffers handed back
 */
import { openSileroSession, runPacked, STATE_HALF, type OpenSession } from "./model.ts";
import { raiseThreadNice, threadId } from "../../util/thread-sched.ts";

export type VadWorkerRequest = { t: "init"; nice: number } | { t: "run"; id: number; b: number; len: number; input: ArrayBuffer; st: ArrayBuffer };
export type VadWorkerReply =
  | { t: "ready"; ms: number; tid: number; nice: number | null; niceError?: string }
  | { t: "load_failed"; message: string }
  | { t: "done"; id: number; p: Float32Array; input: ArrayBuffer; st: ArrayBuffer }
  | { t: "failed"; id: number; message: string; input: ArrayBuffer; st: ArrayBuffer };

declare const self: Worker;

let session: OpenSession | null = null;
const post = (m: VadWorkerReply, transfer: ArrayBuffer[] = []) => self.postMessage(m, { transfer });

async function init(nice: number): Promise<void> {
  const t0 = performance.now();
  let niced: number | null = null;
  let niceError: string | undefined;
  if (nice > 0) {
    const r = raiseThreadNice(nice);
    if (r.ok) niced = r.nice ?? null;
    else niceError = r.error;
  }
  try {
    session = await openSileroSession();
  } catch (err) {
    const cause = (err as Error).cause;
    post({ t: "load_failed", message: `${(err as Error).message}${cause ? `: ${String((cause as Error).message ?? cause)}` : ""}` });
    return;
  }
  post({ t: "ready", ms: Math.round(performance.now() - t0), tid: threadId(), nice: niced, ...(niceError ? { niceError } : {}) });
}

async function run(m: Extract<VadWorkerRequest, { t: "run" }>): Promise<void> {
  const input = new Float32Array(m.input, 0, m.b * m.len);
  const st = new Float32Array(m.st, 0, 2 * m.b * STATE_HALF);
  try {
    if (!session) throw new Error("model not loaded");
    const out = await runPacked(session, input, st, m.b, m.len);
    st.set(out.next);
    const p = out.p.slice();
    post({ t: "done", id: m.id, p, input: m.input, st: m.st }, [p.buffer as ArrayBuffer, m.input, m.st]);
  } catch (err) {
    post({ t: "failed", id: m.id, message: (err as Error).message, input: m.input, st: m.st }, [m.input, m.st]);
  }
}

self.onmessage = (ev: MessageEvent<VadWorkerRequest>) => {
  const m = ev.data;
  if (m.t === "init") void init(m.nice);
  else if (m.t === "run") void run(m);
};
