/**
 * A local fake of Cartesia's TTS WebSocket (https://docs.cartesia.ai/api-reference/tts/websocket), on
 * 127.0.0.1 with a dynamic port, for provider tests and end-to-end calls.
 *
 * Speaks the protocol: `GET /tts/websocket?api_key=…&cartesia_version=…` (401 for a wrong key, 400
 * without a version); generation requests with `model_id`, `transcript`, `voice {mode:"id", id}`,
 * `output_format {container:"raw", encoding, sample_rate}`, `context_id`, `continue`; fields other than
 * transcript/continue must not change within a context (400 error reply otherwise,
 * https://docs.cartesia.ai/use-the-api/tts-websocket/contexts); replies `chunk` (base64 audio),
 * `done` after `continue:false` once all audio is out, `error` with `status_code`; `{context_id,
 * cancel:true}` stops a context with no further message.
 *
 * "Synthesis" is deterministic: `fakeSpeech(text)` gives 5 ms of a 440 Hz tone per character, encoded in
 * the requested format, so tests can check the decoded PCM. Records every connection, message and
 * context; can refuse handshakes, be slow, answer errors, or drop the socket after N chunks.
 */

import type { Server, ServerWebSocket } from "bun";
import { encodeFrame } from "../../src/media/g711";

export interface FakeCartesiaOptions {
  apiKey?: string;
  /** Audio bytes per `chunk` message (before base64). Default 320. */
  chunkBytes?: number;
}

export interface FakeCartesiaMode {
  /** Refuse every handshake with this status (null = accept). */
  rejectWith: number | null;
  /** Delay (ms) before each chunk (slow synthesis). */
  chunkDelayMs: number;
  /** Delay (ms) before the first chunk of each transcript (time to first audio). */
  firstChunkDelayMs: number;
  /**
   * How a context's later transcripts (continuations) are timed. "serial" (default): each waits for the
   * previous one's last chunk, then `firstChunkDelayMs` more — a fresh time to first audio at every
   * sentence, counted from when the previous audio ended. "overlap": the time to first audio counts from
   * when the transcript arrived, so a continuation sent while earlier audio was still being generated
   * follows it at the generation rate (`chunkDelayMs`); the audio still comes out in order. Cartesia:
   * "Using the Cartesia Websocket API allows you to simultaneously stream text input and audio output"
   * (realtime TTS quickstart), and a context's inputs come back as "seamless speech"
   * (https://docs.cartesia.ai/use-the-api/tts-websocket/contexts).
   */
  continuations: "serial" | "overlap";
  /** The next generation request gets this error reply instead of audio. */
  errorNext: { status: number; message: string; withContext: boolean } | null;
  /** Terminate the socket (no close frame) after this many chunks on it. */
  dropAfterChunks: number | null;
}

export interface FakeCartesiaContext {
  contextId: string;
  /** Every generation request for this context, as received. */
  requests: Record<string, unknown>[];
  transcripts: string[];
  cancelled: boolean;
  done: boolean;
  chunksSent: number;
  bytesSent: number;
  /**
   * Per chunk sent, three numbers: when (epoch ms, sub-ms), its audio bytes, the index of the transcript it
   * speaks — what a load run's analysis lines up with the agent's RTP (scripts/capture-gaps.ts). Flat: no
   * object per chunk in the load generator's heap (~70,000 chunks a 200-call row).
   */
  chunkLog: number[];
}

/** Now, epoch ms with the monotonic clock's precision (a capture's timestamps are epoch µs). */
const epochMs = (): number => performance.timeOrigin + performance.now();

export interface FakeCartesiaConnection {
  id: number;
  params: Record<string, string>;
  headers: Record<string, string>;
  /** Every JSON message received, in order. */
  received: Record<string, unknown>[];
  /** Every JSON message sent, in order (chunk data included). */
  sent: Record<string, unknown>[];
  contexts: Map<string, FakeCartesiaContext>;
  closed: { code: number; reason: string } | null;
}

export interface FakeCartesia {
  /** Base URL for CARTESIA_BASE_URL, e.g. "ws://127.0.0.1:41234". */
  url: string;
  connections: FakeCartesiaConnection[];
  refused: number[];
  setMode(m: Partial<FakeCartesiaMode>): void;
  close(): Promise<void>;
}

/** The fake's speech for `text`: 40 samples (5 ms at 8 kHz) of a 440 Hz tone, amplitude 8000, per char. */
export function fakeSpeech(text: string): Int16Array {
  const n = text.length * 40;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000));
  return out;
}

function encode(pcm: Int16Array, encoding: string): Uint8Array {
  if (encoding === "pcm_mulaw") return encodeFrame(pcm, "PCMU");
  if (encoding === "pcm_alaw") return encodeFrame(pcm, "PCMA");
  const b = new Uint8Array(pcm.length * 2);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < pcm.length; i++) dv.setInt16(i * 2, pcm[i], true);
  return b;
}

const FIXED_FIELDS = ["model_id", "voice", "language", "output_format"] as const;
const ENCODINGS = new Set(["pcm_mulaw", "pcm_alaw", "pcm_s16le", "pcm_f32le"]);
const RATES = new Set([8000, 16000, 22050, 24000, 44100, 48000]);

interface WsData {
  conn: FakeCartesiaConnection;
  /** Per-context work queue, processed in order. */
  pumps: Map<string, Promise<void>>;
  chunksOnSocket: number;
}

export function startFakeCartesia(opts: FakeCartesiaOptions = {}): FakeCartesia {
  const apiKey = opts.apiKey ?? "test-key";
  const chunkBytes = opts.chunkBytes ?? 320;
  const mode: FakeCartesiaMode = { rejectWith: null, chunkDelayMs: 0, firstChunkDelayMs: 0, continuations: "serial", errorNext: null, dropAfterChunks: null };
  const connections: FakeCartesiaConnection[] = [];
  const refused: number[] = [];
  let nextId = 1;

  const send = (ws: ServerWebSocket<WsData>, msg: Record<string, unknown>): boolean => {
    if (ws.data.conn.closed) return false;
    ws.data.conn.sent.push(msg);
    ws.send(JSON.stringify(msg));
    return true;
  };

  const errorReply = (ws: ServerWebSocket<WsData>, ctx: string | undefined, status: number, message: string): void => {
    send(ws, { type: "error", done: true, error: message, status_code: status, ...(ctx ? { context_id: ctx } : {}) });
  };

  /** Streams the audio for one transcript piece, then `done` if the context is finished. */
  const synth = async (ws: ServerWebSocket<WsData>, c: FakeCartesiaContext, req: Record<string, unknown>, receivedAt: number, transcript: number): Promise<void> => {
    const fmt = req.output_format as { encoding: string };
    const text = String(req.transcript ?? "");
    const bytes = encode(fakeSpeech(text), fmt.encoding);
    let first = true;
    for (let o = 0; o < bytes.length; o += chunkBytes) {
      // The time to first audio: from now (serial), or from the transcript's arrival (overlap).
      const ttfa = mode.continuations === "overlap" ? Math.max(0, receivedAt + mode.firstChunkDelayMs - performance.now()) : mode.firstChunkDelayMs;
      const delay = first ? ttfa + mode.chunkDelayMs : mode.chunkDelayMs;
      first = false;
      if (delay > 0) await Bun.sleep(delay);
      else await Promise.resolve();
      if (c.cancelled || ws.data.conn.closed) return;
      const piece = bytes.subarray(o, o + chunkBytes);
      const ok = send(ws, {
        type: "chunk",
        data: Buffer.from(piece).toString("base64"),
        done: false,
        status_code: 206,
        step_time: 1,
        context_id: c.contextId,
      });
      if (!ok) return;
      c.chunksSent++;
      c.bytesSent += piece.length;
      c.chunkLog.push(epochMs(), piece.length, transcript);
      ws.data.chunksOnSocket++;
      if (mode.dropAfterChunks !== null && ws.data.chunksOnSocket >= mode.dropAfterChunks) {
        mode.dropAfterChunks = null;
        ws.terminate();
        return;
      }
    }
    if (req.continue !== true && !c.cancelled) {
      c.done = true;
      send(ws, { type: "done", done: true, status_code: 206, context_id: c.contextId });
    }
  };

  const onRequest = (ws: ServerWebSocket<WsData>, m: Record<string, unknown>): void => {
    const conn = ws.data.conn;
    const ctxId = typeof m.context_id === "string" ? m.context_id : undefined;
    if (m.cancel === true) {
      const c = ctxId ? conn.contexts.get(ctxId) : undefined;
      if (c) c.cancelled = true; // no reply: "no more messages are generated for that context"
      return;
    }
    if (mode.errorNext) {
      const e = mode.errorNext;
      mode.errorNext = null;
      errorReply(ws, e.withContext ? ctxId : undefined, e.status, e.message);
      return;
    }
    const voice = m.voice as { mode?: string; id?: string } | undefined;
    const fmt = m.output_format as { container?: string; encoding?: string; sample_rate?: number } | undefined;
    if (!ctxId || typeof m.model_id !== "string" || typeof m.transcript !== "string" || voice?.mode !== "id" || !voice.id) {
      errorReply(ws, ctxId, 400, "Invalid request: model_id, transcript, voice {mode:id,id} and context_id are required");
      return;
    }
    if (!fmt || fmt.container !== "raw" || !ENCODINGS.has(String(fmt.encoding)) || !RATES.has(Number(fmt.sample_rate))) {
      errorReply(ws, ctxId, 400, "Invalid output_format");
      return;
    }
    let c = conn.contexts.get(ctxId);
    if (!c) {
      c = { contextId: ctxId, requests: [], transcripts: [], cancelled: false, done: false, chunksSent: 0, bytesSent: 0, chunkLog: [] };
      conn.contexts.set(ctxId, c);
    } else {
      if (c.done) {
        errorReply(ws, ctxId, 400, "Context has already finished");
        return;
      }
      const first = c.requests[0];
      for (const f of FIXED_FIELDS) {
        if (JSON.stringify(first[f]) !== JSON.stringify(m[f])) {
          errorReply(ws, ctxId, 400, `Field ${f} changed within a context`);
          return;
        }
      }
    }
    if (c.cancelled) return;
    c.requests.push(m);
    c.transcripts.push(m.transcript);
    const ctx = c;
    const receivedAt = performance.now();
    const transcript = c.transcripts.length - 1;
    const prev = ws.data.pumps.get(ctxId) ?? Promise.resolve();
    ws.data.pumps.set(
      ctxId,
      prev.then(() => synth(ws, ctx, m, receivedAt, transcript)),
    );
  };

  const server: Server<WsData> = Bun.serve<WsData>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      const u = new URL(req.url);
      if (u.pathname !== "/tts/websocket") return new Response("not found", { status: 404 });
      if (mode.rejectWith !== null) {
        refused.push(mode.rejectWith);
        return Response.json({ error: `forced ${mode.rejectWith}` }, { status: mode.rejectWith });
      }
      if (u.searchParams.get("api_key") !== apiKey && req.headers.get("x-api-key") !== apiKey) {
        refused.push(401);
        return Response.json({ error: "Invalid API key" }, { status: 401 });
      }
      if (!u.searchParams.get("cartesia_version") && !req.headers.get("cartesia-version")) {
        refused.push(400);
        return Response.json({ error: "cartesia_version is required" }, { status: 400 });
      }
      const conn: FakeCartesiaConnection = {
        id: nextId++,
        params: Object.fromEntries(u.searchParams),
        headers: Object.fromEntries(req.headers),
        received: [],
        sent: [],
        contexts: new Map(),
        closed: null,
      };
      connections.push(conn);
      return srv.upgrade(req, { data: { conn, pumps: new Map(), chunksOnSocket: 0 } }) ? undefined : new Response("no upgrade", { status: 400 });
    },
    websocket: {
      message(ws, msg) {
        if (typeof msg !== "string") {
          ws.close(1003, "binary not supported");
          return;
        }
        let m: Record<string, unknown>;
        try {
          m = JSON.parse(msg) as Record<string, unknown>;
        } catch {
          errorReply(ws, undefined, 400, "Invalid JSON");
          return;
        }
        ws.data.conn.received.push(m);
        onRequest(ws, m);
      },
      close(ws, code, reason) {
        ws.data.conn.closed = { code, reason };
      },
    },
  });

  return {
    url: `ws://127.0.0.1:${server.port}`,
    connections,
    refused,
    setMode(m) {
      Object.assign(mode, m);
    },
    async close() {
      await server.stop(true);
    },
  };
}

/**
 * Every context's chunks as sent (epoch ms, bytes, transcript index) and its transcripts, per connection:
 * what `bench:load --keep-capture` writes beside its capture, so scripts/capture-gaps.ts can tell, for a
 * silence frame in the agent's RTP, when the audio it needed left this fake.
 */
export function ttsTimeline(fake: FakeCartesia): { connection: number; contexts: { contextId: string; transcripts: string[]; chunks: [number, number, number][] }[] }[] {
  return fake.connections.map((conn) => ({
    connection: conn.id,
    contexts: [...conn.contexts.values()].map((c) => ({
      contextId: c.contextId,
      transcripts: c.transcripts,
      chunks: Array.from({ length: c.chunkLog.length / 3 }, (_, k): [number, number, number] => [Math.round(c.chunkLog[3 * k]! * 1000) / 1000, c.chunkLog[3 * k + 1]!, c.chunkLog[3 * k + 2]!]),
    })),
  }));
}
