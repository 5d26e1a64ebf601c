/** A VAD worker entry for worker-model.test.ts whose model cannot be loaded: "load_failed" on init, as vad-worker.ts sends it. */
import type { VadWorkerReply, VadWorkerRequest } from "../../../src/media/vad/vad-worker.ts";

declare const self: Worker;
self.onmessage = (ev: MessageEvent<VadWorkerRequest>) => {
  if (ev.data.t === "init") self.postMessage({ t: "load_failed", message: "VadError: cannot load Silero VAD (onnxruntime or model)" } satisfies VadWorkerReply);
};
