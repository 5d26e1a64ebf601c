/**
 * The HTTP API (Elysia): health, call records, outbound calls (src/http/outbound.ts), the OpenAPI
 * description (`/openapi/json`; no browsable page: the library's page loads an unpinned script from a
 * CDN onto the API's own origin, where the call page keeps the API token). `createApp(deps)` returns the app without
 * opening a port, so tests use `app.handle(new Request(...))`. Errors become JSON `{ error, message }`
 * (plus `field` for validation) with a 4xx status here, at the edge, and nowhere else. The call page
 * (`/ui`) and its live events (`/events`) are in src/http/call-page.ts.
 * With `apiToken`, every route but the public ones needs `Authorization: Bearer <token>` (src/http/auth.ts).
 */
import { Elysia } from "elysia";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openapi } from "@elysiajs/openapi";
import type { CallRecordStore } from "../pipeline/call-record";
import { BEARER_CHALLENGE, checkBearer, hasValidBearer } from "./auth";
import { checkHost } from "./host-check";
import { StoreError } from "../store/schema";
import { outboundRoutes, type OutboundApi } from "./outbound";
import { describeValidation } from "./validation";
import type { Metrics } from "../metrics";
import type { CallEventHub } from "../call/events";
import { callPageRoutes } from "./call-page";
import { searchCalls } from "./call-search";
import { HttpError } from "./errors";
import { payloadTooLarge, readBoundedJson } from "./body-limit";

export interface HealthInfo {
  version: string;
  mode: string;
  providers: { stt: string; llm: string; tts: string };
  /** Extra facts shown under `GET /` (e.g. the SIP address). */
  sip?: { host: string; port: number; publicIp: string };
  /** Live counters shown under `GET /` (e.g. RTP ports in use). */
  stats?: () => Record<string, unknown>;
  /**
   * Would the agent take a call now (the verdict INVITEs and OPTIONS get, src/call/admission.ts)?
   * Serves `GET /health/ready`; without it the agent is always ready.
   */
  ready?: () => ReadyVerdict;
}

/** `GET /health/ready`'s decision; `retryAfterS` becomes the 503's Retry-After (RFC 9110 §10.2.3). */
export type ReadyVerdict =
  | { accept: true; active: number; capacity: number }
  | { accept: false; reason: string; detail: string; retryAfterS: number; active: number; capacity: number };

export interface AppDeps {
  store: CallRecordStore;
  /** Prometheus metrics for `GET /metrics` (behind the token when API_TOKEN is set). */
  metrics?: Metrics;
  health: HealthInfo;
  /** Process start (ms since epoch) for uptime. */
  startedAt?: number;
  /** API_TOKEN: when set, requests need `Authorization: Bearer <apiToken>` (401 otherwise). */
  apiToken?: string;
  /** Without apiToken: Host names served besides loopback (DNS rebinding protection, src/http/host-check.ts). */
  allowedHosts?: readonly string[];
  /** The outbound dialer; undefined when outbound calling is off (`outboundDisabledReason` says why). */
  outbound?: OutboundApi;
  outboundDisabledReason?: string;
  /** DATA_DIR/recordings: `GET /calls/:id/recording` serves `<id>.wav` from here (RECORDING=on). */
  recordingsDir?: string;
  /** Live call events for `GET /events` and the call page (`GET /ui`); without it /events is 404. */
  events?: CallEventHub;
}

export { HttpError } from "./errors";

/** The recording file of call `id` when it exists; ids are UUIDs, anything else is no file. */
function recordingOf(dir: string | undefined, id: string): string | undefined {
  if (!dir || !/^[A-Za-z0-9-]{1,64}$/.test(id)) return undefined;
  const path = join(dir, `${id}.wav`);
  return existsSync(path) ? path : undefined;
}

/**
 * Largest request body accepted, bytes. The biggest legitimate body, `POST /outbound/call` with its
 * `metadata`, is a few KB; reading and parsing a 100 MB body would hold the thread that paces RTP for
 * seconds (measured: 450 ms gaps in a live call's audio), so larger ones get 413 before the body is read
 * (RFC 9110 §15.5.14): by `Content-Length`, after the Host and token checks, with a JSON message; a body
 * sent chunked (no length) is counted while read and gets the same 413 once past it (./body-limit.ts).
 * Above `MAX_STREAMED_BODY_BYTES` declared, Bun itself answers a bare 413.
 */
export const MAX_BODY_BYTES = 64 * 1024;
/** Bun's hard limit (`maxRequestBodySize`), bytes; above MAX_BODY_BYTES so that the JSON 413 answers first. */
export const MAX_STREAMED_BODY_BYTES = 1024 * 1024;

/**
 * Every body we read is JSON: a body of another type would be parsed as text or a form and then fail
 * validation with a misleading message ("phone_number: expected E.164" for a number that is there).
 * RFC 9110 §15.5.16: "The 415 (Unsupported Media Type) status code indicates that the origin server is
 * refusing to service the request because the content is in a format not supported by this method on the
 * target resource." We send `Accept` with it, as RFC 9110 §12.5.1 suggests for a POST.
 */
function checkJsonBody(request: Request, length: number): { error: string; message: string } | undefined {
  // A declared length, a chunked body, or (a Request built in-process) a body stream without a length.
  const hasBody = length > 0 || request.headers.has("transfer-encoding") || (request.body !== null && !request.headers.has("content-length"));
  if (!hasBody || request.method === "GET" || request.method === "HEAD") return undefined;
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/json" || /^application\/[\w.+-]+\+json$/.test(type)) return undefined;
  return {
    error: "unsupported_media_type",
    message: `request body of type ${type ? `"${type.slice(0, 80)}"` : "(no Content-Type)"}; send JSON with Content-Type: application/json`,
  };
}

export function createApp(deps: AppDeps) {
  const startedAt = deps.startedAt ?? Date.now();
  return new Elysia({ serve: { maxRequestBodySize: MAX_STREAMED_BODY_BYTES } })
    .onRequest(({ request, set }) => {
      const badHost = checkHost(request, { apiToken: deps.apiToken, allowed: deps.allowedHosts });
      if (badHost) {
        set.status = 403;
        return badHost;
      }
      const denied = checkBearer(request, deps.apiToken);
      if (denied) {
        set.status = 401;
        set.headers["www-authenticate"] = BEARER_CHALLENGE;
        return denied;
      }
      const length = Number(request.headers.get("content-length") ?? 0);
      if (length > MAX_BODY_BYTES) {
        set.status = 413;
        set.headers.connection = "close";
        return { error: "payload_too_large", message: payloadTooLarge(length, MAX_BODY_BYTES, false).message };
      }
      const unsupported = checkJsonBody(request, length);
      if (unsupported) {
        set.status = 415;
        set.headers.accept = "application/json";
        return unsupported;
      }
    })
    // A body without Content-Length (chunked) is counted while read: 413 past MAX_BODY_BYTES (body-limit.ts).
    .onParse({ as: "global" }, ({ request }) => readBoundedJson(request, MAX_BODY_BYTES))
    .onError(({ error: thrown, code, set }) => {
      // Elysia wraps what a parse hook throws in its ParseError (`cause`): readBoundedJson's 413/400.
      const cause = code === "PARSE" ? (thrown as Error).cause : undefined;
      const error = cause instanceof HttpError ? cause : thrown;
      if (error instanceof HttpError) {
        set.status = error.status;
        // RFC 9110 §15.5.14: past the limit "the server MAY close the connection" (the rest is unread).
        if (error.status === 413) set.headers.connection = "close";
        return { error: error.code, message: error.message };
      }
      if (error instanceof StoreError && error.code === "unavailable") {
        set.status = 503;
        set.headers["retry-after"] = "5";
        return { error: "store_unavailable", message: error.message };
      }
      if (code === "NOT_FOUND") {
        set.status = 404;
        return { error: "not_found", message: "no such route" };
      }
      if (code === "VALIDATION") {
        set.status = 422;
        const { field, message } = describeValidation(error);
        return { error: "validation", message, ...(field ? { field } : {}) };
      }
      if (code === "PARSE") {
        set.status = 400;
        return { error: "parse", message: "the request body is not valid JSON" };
      }
      set.status = 500;
      return { error: "internal", message: "internal error" };
    })
    // Health for anyone (load balancers, probes): the status only, unless the caller holds the token.
    .get("/", ({ request }) => {
      const status = (deps.health.stats?.().status as string | undefined) ?? "ok";
      if (deps.apiToken !== undefined && !hasValidBearer(request, deps.apiToken)) return { status };
      return {
        status: "ok",
        version: deps.health.version,
        mode: deps.health.mode,
        providers: deps.health.providers,
        ...deps.health.stats?.(),
        sip: deps.health.sip,
        activeCalls: deps.store.activeCount,
        uptimeS: Math.round((Date.now() - startedAt) / 1000),
      };
    })
    // Orchestrators (Kubernetes probes, systemd, balancers over HTTP): live = the process answers;
    // ready = it would take a call now (200), else 503 + Retry-After with the reason.
    .get("/health/live", () => ({ status: "live" }))
    .get("/health/ready", ({ set }) => {
      const v = deps.health.ready?.() ?? { accept: true as const, active: deps.store.activeCount, capacity: 0 };
      if (v.accept) return { status: "ready", activeCalls: v.active, capacity: v.capacity };
      set.status = 503;
      set.headers["retry-after"] = String(v.retryAfterS);
      return { status: "unavailable", reason: v.reason, message: v.detail, activeCalls: v.active, capacity: v.capacity };
    })
    .get("/metrics", async ({ set }) => {
      if (!deps.metrics) throw new HttpError(404, "not_found", "metrics are not enabled");
      set.headers["content-type"] = deps.metrics.contentType;
      return await deps.metrics.render();
    })
    // ?q= number (digits of from/to), ?day=YYYY-MM-DD (UTC start day), ?direction=, ?limit= (recent calls)
    .get("/calls", async ({ query }) => searchCalls(deps.store, query as Record<string, string | undefined>))
    .get("/calls/:id", async ({ params }) => {
      const r = await deps.store.get(params.id);
      if (!r) throw new HttpError(404, "not_found", `no call with id ${params.id}`);
      const recording = recordingOf(deps.recordingsDir, r.id);
      return recording ? { ...r, recording: `/calls/${r.id}/recording` } : r;
    })
    // The call's stereo WAV (caller left, agent right), when it was recorded (RECORDING=on).
    .get("/calls/:id/recording", ({ params }) => {
      const path = recordingOf(deps.recordingsDir, params.id);
      if (!path) throw new HttpError(404, "not_found", `no recording of call ${params.id}`);
      return new Response(Bun.file(path), { headers: { "content-type": "audio/wav", "cache-control": "no-store" } });
    })
    .use(callPageRoutes(deps.events))
    .use(outboundRoutes({ store: deps.store, dialer: deps.outbound, disabledReason: deps.outboundDisabledReason }))
    .use(
      openapi({
        // The description only, as JSON. The default provider (Scalar) serves a page at /openapi that loads
        // `@scalar/api-reference@latest` from cdn.jsdelivr.net: third-party script, unpinned, on the origin whose
        // sessionStorage holds the call page's API token, and nothing offline. Any OpenAPI viewer reads the JSON.
        provider: null,
        documentation: {
          info: { title: "voice-agent", version: deps.health.version, description: "Telephone AI agent: call records and outbound calls." },
          components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "API_TOKEN" } } },
          security: [{ bearer: [] }],
        },
      }),
    );
}
