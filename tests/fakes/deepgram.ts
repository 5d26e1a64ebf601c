/**
 * A local fake of Deepgram's live-streaming WebSocket API (https://developers.deepgram.com/reference/streaming),
 * on 127.0.0.1 with a dynamic port, for provider tests and end-to-end calls.
 *
 * Speaks the protocol: GET /v1/listen with query parameters, `Authorization: Token <key>` (401 with a
 * `dg-error` header otherwise, 400 for a bad encoding/sample rate), binary audio in, JSON `Results` /
 * `UtteranceEnd` / `SpeechStarted` / `Metadata` out, `KeepAlive` / `Finalize` / `CloseStream` handled,
 * close 1000 after CloseStream, close 1011 "NET-0001" after `idleCloseMs` without data.
 *
 * Records every connection (URL, params, headers, audio bytes, text messages, what it sent) and can be
 * told to refuse handshakes (401/429/500…), delay them, or drop the next connection after N audio frames.
 */

import type { Server, ServerWebSocket } from "bun";
import { MarkerRecognizer, ScriptRecognizer, type RecEvent, type Recognizer, type RecognizerParams } from "./deepgram-recognizers";

export interface FakeDeepgramOptions {
  /** Key the fake accepts (`Authorization: Token <apiKey>`). Default "test-key". */
  apiKey?: string;
  /** Byte value → word for the marker recogniser (the default recogniser). */
  vocabulary?: Record<number, string>;
  /** Lines for the energy-based script recogniser; when given, it is used instead of markers. */
  script?: string[];
  /** Close with 1011 NET-0001 after this long (ms) without audio or KeepAlive. 0 = never. Default 10000. */
  idleCloseMs?: number;
}

export interface FakeDeepgramMode {
  /** Every handshake answers this HTTP status (null = accept). */
  rejectWith: number | null;
  /** One-shot statuses for the next handshakes, consumed in order before `rejectWith`. */
  rejectNext: number[];
  /** Delay (ms) before answering a handshake. */
  handshakeDelayMs: number;
  /** The next accepted connection is dropped after it has received this many binary messages. */
  dropNextAfterBinary: number | null;
  /** How to drop: "terminate" (no close frame → client sees 1006) or "close1011" (NET-0000). */
  dropHow: "terminate" | "close1011";
  /** Delay (ms) before each message the fake sends (slow server). */
  replyDelayMs: number;
  /** The next accepted connection stays open, takes audio and never sends anything (a stuck server). */
  muteNext: boolean;
}

export interface FakeDeepgramConnection {
  id: number;
  path: string;
  params: Record<string, string>;
  headers: Record<string, string>;
  /** Every binary message, in order. */
  binary: Uint8Array[];
  /** Every text message received, in order (KeepAlive, Finalize, CloseStream…). */
  text: string[];
  /** Every JSON message the fake sent. */
  sent: Record<string, unknown>[];
  /** Close as seen by the server, or null while open. */
  closed: { code: number; reason: string } | null;
  /** True when the fake dropped this connection on purpose. */
  dropped: boolean;
  /** True when this connection was told to never answer (`muteNext`). */
  muted: boolean;
}

export interface FakeDeepgram {
  /** Base URL to give the provider as DEEPGRAM_BASE_URL, e.g. "ws://127.0.0.1:41234". */
  url: string;
  port: number;
  connections: FakeDeepgramConnection[];
  /** Handshakes refused (status per attempt). */
  refused: number[];
  setMode(m: Partial<FakeDeepgramMode>): void;
  /** Sends an arbitrary JSON message on a live connection (default: the newest), e.g. an edge-case Results. */
  inject(msg: Record<string, unknown>, c?: FakeDeepgramConnection): void;
  /** Drops a live connection now (default: the newest open one) the way `how` says. */
  drop(c?: FakeDeepgramConnection, how?: "terminate" | "close1011"): void;
  /**
   * Answers to `Finalize` come from `h` instead of the recogniser (null: the recogniser's again). The
   * handler is told of each Finalize (connection, audio received so far in bytes) and answers with
   * `inject`, e.g. a scripted final with `from_finalize: true` after a round trip (tests/e2e/turn-support.ts).
   */
  onFinalize(h: ((c: FakeDeepgramConnection, audioBytes: number) => void) | null): void;
  /** All audio a connection received, concatenated. */
  audioOf(c: FakeDeepgramConnection): Uint8Array;
  close(): Promise<void>;
}

interface WsData {
  conn: FakeDeepgramConnection;
  rec: Recognizer;
  requestId: string;
  idleTimer: ReturnType<typeof setTimeout> | null;
}

const ENCODINGS = new Set(["mulaw", "alaw", "linear16"]);

export function startFakeDeepgram(opts: FakeDeepgramOptions = {}): FakeDeepgram {
  const apiKey = opts.apiKey ?? "test-key";
  const idleCloseMs = opts.idleCloseMs ?? 10_000;
  const vocabulary = new Map<number, string>(Object.entries(opts.vocabulary ?? {}).map(([k, v]) => [Number(k), v]));
  const mode: FakeDeepgramMode = {
    rejectWith: null,
    rejectNext: [],
    handshakeDelayMs: 0,
    dropNextAfterBinary: null,
    dropHow: "terminate",
    replyDelayMs: 0,
    muteNext: false,
  };
  const connections: FakeDeepgramConnection[] = [];
  const refused: number[] = [];
  let dropPlanFor: FakeDeepgramConnection | null = null;
  let dropAfter = 0;
  let nextId = 1;
  let finalizeHandler: ((c: FakeDeepgramConnection, audioBytes: number) => void) | null = null;
  const live = new Map<number, ServerWebSocket<WsData>>();

  const refuse = (status: number, body: Record<string, unknown>, extra: Record<string, string> = {}): Response => {
    refused.push(status);
    return new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", "dg-request-id": crypto.randomUUID(), ...extra },
    });
  };

  const send = (ws: ServerWebSocket<WsData>, msg: Record<string, unknown>): void => {
    const go = (): void => {
      if (ws.data.conn.closed || ws.data.conn.muted) return;
      ws.data.conn.sent.push(msg);
      ws.send(JSON.stringify(msg));
    };
    if (mode.replyDelayMs > 0) setTimeout(go, mode.replyDelayMs);
    else go();
  };

  const emit = (ws: ServerWebSocket<WsData>, evs: RecEvent[]): void => {
    for (const e of evs) {
      if (e.kind === "speech_started") {
        send(ws, { type: "SpeechStarted", channel: [0, 1], timestamp: e.timestamp });
      } else if (e.kind === "utterance_end") {
        send(ws, { type: "UtteranceEnd", channel: [0, 1], last_word_end: e.lastWordEnd });
      } else {
        const words = e.kind === "final" ? e.words : [];
        send(ws, {
          type: "Results",
          channel_index: [0, 1],
          duration: round3(e.end - e.start),
          start: round3(e.start),
          is_final: e.kind === "final",
          speech_final: e.kind === "final" ? e.speechFinal : false,
          ...(e.kind === "final" && e.fromFinalize ? { from_finalize: true } : {}),
          channel: {
            alternatives: [
              {
                transcript: e.text,
                confidence: 0.98,
                words: words.map((w) => ({ word: w.word, start: w.start, end: w.end, confidence: 0.98, punctuated_word: w.word })),
              },
            ],
          },
          metadata: { request_id: ws.data.requestId, model_info: { name: "fake", version: "0", arch: "fake" }, model_uuid: "00000000" },
        });
      }
    }
  };

  const armIdle = (ws: ServerWebSocket<WsData>): void => {
    if (idleCloseMs <= 0) return;
    if (ws.data.idleTimer) clearTimeout(ws.data.idleTimer);
    ws.data.idleTimer = setTimeout(() => {
      if (!ws.data.conn.closed) ws.close(1011, "NET-0001");
    }, idleCloseMs);
  };

  const server: Server<WsData> = Bun.serve<WsData>({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req, srv) {
      const u = new URL(req.url);
      if (mode.handshakeDelayMs > 0) await Bun.sleep(mode.handshakeDelayMs);
      if (u.pathname !== "/v1/listen") return new Response("not found", { status: 404 });
      const forced = mode.rejectNext.length > 0 ? mode.rejectNext.shift()! : mode.rejectWith;
      if (forced !== null && forced !== undefined) {
        if (forced === 401) return refuse(401, { err_code: "INVALID_AUTH", err_msg: "Invalid credentials." }, { "dg-error": "Invalid credentials." });
        return refuse(forced, { err_code: "FAKE", err_msg: `forced ${forced}` }, { "dg-error": `forced ${forced}` });
      }
      if (req.headers.get("authorization") !== `Token ${apiKey}`) {
        return refuse(401, { err_code: "INVALID_AUTH", err_msg: "Invalid credentials." }, { "dg-error": "Invalid credentials." });
      }
      const params = Object.fromEntries(u.searchParams);
      const enc = params.encoding;
      if (enc !== undefined && (!ENCODINGS.has(enc) || !params.sample_rate)) {
        return refuse(400, { err_code: "Bad Request", err_msg: "encoding needs a supported value and sample_rate" });
      }
      const rp: RecognizerParams = {
        endpointingMs: params.endpointing === "false" ? Number.POSITIVE_INFINITY : Number(params.endpointing ?? 10),
        utteranceEndMs: Number(params.utterance_end_ms ?? 0),
        vadEvents: params.vad_events === "true",
        interimResults: params.interim_results === "true",
      };
      const rec: Recognizer = opts.script
        ? new ScriptRecognizer(rp, opts.script, enc === "alaw" ? "alaw" : "mulaw")
        : new MarkerRecognizer(rp, vocabulary);
      const conn: FakeDeepgramConnection = {
        id: nextId++,
        path: u.pathname,
        params,
        headers: Object.fromEntries(req.headers),
        binary: [],
        text: [],
        sent: [],
        closed: null,
        dropped: false,
        muted: mode.muteNext,
      };
      mode.muteNext = false;
      if (mode.dropNextAfterBinary !== null) {
        dropPlanFor = conn;
        dropAfter = mode.dropNextAfterBinary;
        mode.dropNextAfterBinary = null;
      }
      connections.push(conn);
      const ok = srv.upgrade(req, { data: { conn, rec, requestId: crypto.randomUUID(), idleTimer: null } });
      return ok ? undefined : new Response("upgrade failed", { status: 400 });
    },
    websocket: {
      open(ws) {
        live.set(ws.data.conn.id, ws);
        armIdle(ws);
      },
      message(ws, msg) {
        const c = ws.data.conn;
        if (c.closed) return;
        armIdle(ws);
        if (typeof msg !== "string") {
          const bytes = new Uint8Array(msg);
          if (bytes.length === 0) {
            ws.close(1008, "DATA-0000"); // empty binary message: Deepgram closes the stream
            return;
          }
          c.binary.push(bytes);
          emit(ws, ws.data.rec.feed(bytes));
          if (dropPlanFor === c && c.binary.length >= dropAfter) {
            dropPlanFor = null;
            c.dropped = true;
            if (mode.dropHow === "terminate") ws.terminate();
            else ws.close(1011, "NET-0000");
          }
          return;
        }
        c.text.push(msg);
        let type = "";
        try {
          type = (JSON.parse(msg) as { type?: string }).type ?? "";
        } catch {
          ws.close(1008, "DATA-0000");
          return;
        }
        if (type === "Finalize" && finalizeHandler) {
          finalizeHandler(c, c.binary.reduce((n, b) => n + b.length, 0));
        } else if (type === "Finalize") {
          emit(ws, ws.data.rec.finalize());
        } else if (type === "CloseStream") {
          // Only words: an empty from_finalize answer is what a Finalize gets, not a CloseStream.
          emit(ws, ws.data.rec.finalize().filter((e) => e.kind !== "final" || e.text !== ""));
          const total = c.binary.reduce((n, b) => n + b.length, 0);
          send(ws, {
            type: "Metadata",
            transaction_key: "deprecated",
            request_id: ws.data.requestId,
            sha256: "0".repeat(64),
            created: new Date().toISOString(),
            duration: total / 8000,
            channels: 1,
          });
          const closeIt = (): void => {
            if (!c.closed) ws.close(1000, "");
          };
          if (mode.replyDelayMs > 0) setTimeout(closeIt, mode.replyDelayMs + 1);
          else closeIt();
        }
        // KeepAlive: no answer (https://developers.deepgram.com/docs/audio-keep-alive).
      },
      close(ws, code, reason) {
        live.delete(ws.data.conn.id);
        if (ws.data.idleTimer) clearTimeout(ws.data.idleTimer);
        ws.data.conn.closed = { code, reason };
      },
    },
  });

  return {
    url: `ws://127.0.0.1:${server.port}`,
    port: server.port as number,
    connections,
    refused,
    setMode(m) {
      Object.assign(mode, m);
    },
    inject(msg, c) {
      const conn = c ?? [...connections].reverse().find((x) => !x.closed && live.has(x.id));
      const ws = conn && live.get(conn.id);
      if (!conn || !ws) throw new Error("no live connection");
      send(ws, msg);
    },
    drop(c, how = "terminate") {
      const conn = c ?? [...connections].reverse().find((x) => !x.closed && live.has(x.id));
      const ws = conn && live.get(conn.id);
      if (!conn || !ws) throw new Error("no live connection to drop");
      conn.dropped = true;
      if (how === "terminate") ws.terminate();
      else ws.close(1011, "NET-0000");
    },
    onFinalize(h) {
      finalizeHandler = h;
    },
    audioOf(c) {
      const total = c.binary.reduce((n, b) => n + b.length, 0);
      const out = new Uint8Array(total);
      let o = 0;
      for (const b of c.binary) {
        out.set(b, o);
        o += b.length;
      }
      return out;
    },
    async close() {
      await server.stop(true);
    },
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
