/**
 * A VAD worker entry for worker-model.test.ts that speaks vad-worker.ts's protocol and then fails:
 * "ready" on init, and on its first "run" the thread exits (process.exit in a Bun Worker ends the
 * worker only) without replying — a worker that dies with a run in flight.
 */
import type { VadWorkerReply, VadWorkerRequest } from "../../../src/media/vad/vad-worker.ts";

declare const self: Worker;
self.onmessage = (ev: MessageEvent<VadWorkerRequest>) => {
  if (ev.data.t === "init") self.postMessage({ t: "ready", ms: 0, tid: 0, nice: null } satisfies VadWorkerReply);
  else process.exit(1);
};
