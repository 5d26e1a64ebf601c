/**
 * The call page and its live event stream, on the agent's HTTP server:
 *
 *   GET /ui                 → the page (HTML; public: a static shell holding no data, with a login form)
 *   GET /ui/app.js          → its script (public, static)
 *   GET /events[?call=<id>] → Server-Sent Events (text/event-stream; behind the API token like /calls):
 *                             `snapshot` (live calls, and the call's turns so far), then `call`, `interim`,
 *                             `turn`, `bargeIn`, `providerError` as they happen (src/call/events.ts);
 *                             503 + Retry-After past the hub's subscriber cap (32 by default)
 *
 * The assets are imported as text, so `bun build --compile` embeds them in the binary (no CDN, no files
 * beside it). Everything the page shows comes from the API with the same bearer token (RFC 6750), which
 * the page sends in the Authorization header — also for the event stream, read with fetch rather than
 * EventSource so the token never goes into a URL.
 */
import { Elysia } from "elysia";
import pageHtmlText from "./ui/page.html" with { type: "text" };
import appJsText from "./ui/app.js" with { type: "text" };
import type { CallEventHub, Subscription } from "../call/events";

// Text imports (`with { type: "text" }`) are strings at run time; TypeScript types them by extension.
const pageHtml = pageHtmlText as unknown as string;
const appJs = appJsText as unknown as string;

/** A comment frame this often (ms) keeps idle streams open through proxies (WHATWG HTML §9.2.7). */
export const SSE_KEEPALIVE_MS = 15_000;

/** Retry-After (s) on the 503 for a subscriber past the hub's cap (src/call/events.ts DEFAULT_MAX_SUBSCRIBERS). */
export const SSE_RETRY_AFTER_S = 10;

/** An SSE response reading `sub` until it closes or the client goes away. */
export function sseResponse(sub: Subscription, keepaliveMs = SSE_KEEPALIVE_MS): Response {
  const enc = new TextEncoder();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const ping = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(": keep-alive\n\n"), keepaliveMs)));
      const frame = await Promise.race([sub.next(), ping]);
      clearTimeout(timer);
      if (frame === null) return controller.close();
      controller.enqueue(enc.encode(frame));
    },
    cancel() {
      clearTimeout(timer);
      sub.close();
    },
  });
  return new Response(body, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" },
  });
}

export function callPageRoutes(hub: CallEventHub | undefined) {
  return new Elysia()
    .get("/ui", () => new Response(pageHtml, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } }))
    .get("/ui/app.js", () => new Response(appJs, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" } }))
    .get("/events", ({ query, request }) => {
      if (!hub) return new Response(JSON.stringify({ error: "not_found", message: "live events are not enabled" }), { status: 404 });
      const callId = typeof query.call === "string" && query.call ? query.call : undefined;
      const sub = hub.subscribe({ callId });
      // RFC 9110 §15.6.4: "The 503 (Service Unavailable) status code indicates that the server is currently
      // unable to handle the request due to a temporary overload [...] The server MAY send a Retry-After".
      if (!sub) {
        const message = `${hub.maxSubscribers} event streams are open (at most ${hub.maxSubscribers}); close one (a call page tab) or retry later`;
        return new Response(JSON.stringify({ error: "too_many_subscribers", message }), {
          status: 503,
          headers: { "content-type": "application/json", "retry-after": String(SSE_RETRY_AFTER_S) },
        });
      }
      request.signal?.addEventListener("abort", () => sub.close());
      return sseResponse(sub);
    });
}
