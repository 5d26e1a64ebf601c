/**
 * The HTTP API (Elysia): health and call records. `createApp(deps)` returns the app without opening a
 * port, so tests use `app.handle(new Request(...))`. Errors become JSON `{ error, message }` with a 4xx
 * status here, at the edge, and nowhere else.
 */
import { Elysia } from "elysia";
import type { CallStore } from "../pipeline/call-record";

export interface HealthInfo {
  version: string;
  mode: string;
  providers: { stt: string; llm: string; tts: string };
  /** Extra facts shown under `GET /` (e.g. the SIP address). */
  sip?: { host: string; port: number; publicIp: string };
}

export interface AppDeps {
  store: CallStore;
  health: HealthInfo;
  /** Process start (ms since epoch) for uptime. */
  startedAt?: number;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function createApp(deps: AppDeps) {
  const startedAt = deps.startedAt ?? Date.now();
  return new Elysia()
    .onError(({ error, code, set }) => {
      if (error instanceof HttpError) {
        set.status = error.status;
        return { error: error.code, message: error.message };
      }
      if (code === "NOT_FOUND") {
        set.status = 404;
        return { error: "not_found", message: "no such route" };
      }
      if (code === "VALIDATION" || code === "PARSE") {
        set.status = code === "PARSE" ? 400 : 422;
        return { error: code.toLowerCase(), message: (error as Error).message };
      }
      set.status = 500;
      return { error: "internal", message: "internal error" };
    })
    .get("/", () => ({
      status: "ok",
      version: deps.health.version,
      mode: deps.health.mode,
      providers: deps.health.providers,
      sip: deps.health.sip,
      activeCalls: deps.store.activeCount,
      uptimeS: Math.round((Date.now() - startedAt) / 1000),
    }))
    .get("/calls", () => deps.store.list())
    .get("/calls/:id", ({ params }) => {
      const r = deps.store.get(params.id);
      if (!r) throw new HttpError(404, "not_found", `no call with id ${params.id}`);
      return r;
    });
}
