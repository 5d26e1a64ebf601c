/**
 * The outbound HTTP API through `app.handle` (no port), over the real dialer and SIP stack on a
 * FakeClock (tests/outbound/harness.ts): auth, validation, status codes, shapes, OpenAPI.
 */
import { describe, expect, test } from "bun:test";
import { createApp } from "../../src/http/app";
import { DestinationPolicy } from "../../src/outbound";
import { DEFAULT_DENY_PREFIXES } from "../../src/outbound/destination-policy";
import { CALLEE_SDP, dialerHarness } from "./harness";

const TOKEN = "test-token-0123456789abcdef";

function setup(opts: { token?: string | null; disabled?: boolean; maxCalls?: number; perMinute?: number; allow?: string[]; deny?: string[]; denyIsDefault?: boolean } = {}) {
  const h = dialerHarness({
    maxCalls: opts.maxCalls ?? 10,
    callsPerMinute: opts.perMinute ?? 100,
    destinations: opts.allow ? new DestinationPolicy({ allow: opts.allow, deny: opts.deny, denyIsDefault: opts.denyIsDefault }) : undefined,
  });
  const app = createApp({
    store: h.store,
    health: { version: "1.2.3", mode: "all", providers: { stt: "s", llm: "l", tts: "t" } },
    apiToken: opts.token === null ? undefined : (opts.token ?? TOKEN),
    outbound: opts.disabled ? undefined : h.dialer,
    outboundDisabledReason: "outbound calling is off: the agent runs with --mode inbound",
  });
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) => {
    const res = await app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      }),
    );
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, body: json, headers: res.headers };
  };
  return { h, app, call };
}

const GOOD = {
  phone_number: "+14155550100",
  opening_reason: "about your order 1234",
  objective: "Tell them it ships tomorrow and ask if the address is right.",
  metadata: { order: 1234, crm: { id: "abc" } },
};

describe("outbound API: access", () => {
  test("missing token, wrong scheme, wrong token → 401 with WWW-Authenticate; nothing is dialled", async () => {
    const { call, h } = setup();
    for (const headers of [{} as Record<string, string>, { authorization: `Basic ${btoa("a:b")}` }, { authorization: "Bearer wrong-token-wrong-token" }, { authorization: "Bearer" }]) {
      const r = await call("POST", "/outbound/call", GOOD, headers);
      expect(r.status).toBe(401);
      expect(r.body.error).toBe("unauthorized");
      expect(r.headers.get("www-authenticate")).toBe('Bearer realm="voice-agent"');
    }
    for (const path of ["/outbound/calls", "/outbound/call/x", "/calls"]) expect((await call("GET", path, undefined, {})).status).toBe(401);
    expect(h.transport.sent).toHaveLength(0);
    expect((await call("GET", "/", undefined, {})).status).toBe(200); // health stays open
  });

  test("GET / without the token shows the status only; with it, everything", async () => {
    const { call } = setup();
    const anon = await call("GET", "/", undefined, {});
    expect(anon).toMatchObject({ status: 200, body: { status: "ok" } });
    expect(Object.keys(anon.body)).toEqual(["status"]);
    const wrong = await call("GET", "/", undefined, { authorization: "Bearer wrong-token-wrong-token" });
    expect(Object.keys(wrong.body)).toEqual(["status"]);
    const authed = await call("GET", "/");
    expect(authed.body).toMatchObject({ status: "ok", version: "1.2.3", mode: "all", providers: { stt: "s" } });
  });

  test("without API_TOKEN a Host that is not loopback is refused (DNS rebinding): 403, nothing dialled", async () => {
    const { call, h } = setup({ token: null });
    for (const host of ["evil.example", "evil.example:8000", "192.168.1.10:8000", "127.0.0.1.evil.example"]) {
      const r = await call("POST", "/outbound/call", GOOD, { host });
      expect(r.status).toBe(403);
      expect(r.body).toMatchObject({ error: "forbidden_host" });
      expect(r.body.message).toMatch(/not served: without API_TOKEN only 127.0.0.1 and localhost/);
      expect((await call("GET", "/calls", undefined, { host })).status).toBe(403);
    }
    expect(h.transport.sent).toHaveLength(0);
    for (const host of ["127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "127.0.0.2"]) {
      expect((await call("GET", "/outbound/calls", undefined, { host })).status).toBe(200);
    }
  });

  test("with API_TOKEN any Host is served to a token holder", async () => {
    const { call } = setup();
    expect((await call("GET", "/outbound/calls", undefined, { host: "agent.example.com", authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });

  test("without API_TOKEN no header is needed (the server then listens on loopback only)", async () => {
    const { call } = setup({ token: null });
    expect((await call("POST", "/outbound/call", GOOD, {})).status).toBe(201);
  });

  test("OpenAPI description is served (public) and documents the outbound routes and bearer auth", async () => {
    const { call } = setup();
    const r = await call("GET", "/openapi/json", undefined, {});
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.paths)).toEqual(expect.arrayContaining(["/outbound/call", "/outbound/calls", "/outbound/call/{id}", "/outbound/call/{id}/hangup"]));
    const schema = r.body.paths["/outbound/call"].post.requestBody.content["application/json"].schema;
    expect(schema.required).toEqual(expect.arrayContaining(["phone_number", "opening_reason", "objective"]));
    expect(schema.properties.phone_number.pattern).toBe("^\\+[1-9][0-9]{1,14}$");
    expect(r.body.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    // No browsable page: the library's default one loads an unpinned third-party script (cdn.jsdelivr.net).
    expect((await call("GET", "/openapi", undefined, {})).status).toBe(401);
    const page = await call("GET", "/openapi");
    expect(page.status).toBe(404);
    expect(JSON.stringify(page.body ?? "")).not.toContain("cdn.jsdelivr.net");
  });
});

describe("outbound API: destinations (OUTBOUND_ALLOW_PREFIXES / OUTBOUND_DENY_PREFIXES)", () => {
  test("a number outside the allow list or inside the deny list → 422 naming the list; nothing is dialled", async () => {
    const { call, h } = setup({ allow: ["+1"], deny: ["+1900"] });
    const intl = await call("POST", "/outbound/call", { ...GOOD, phone_number: "+442071838750" });
    expect(intl.status).toBe(422);
    expect(intl.body).toEqual({
      error: "destination_not_allowed",
      field: "phone_number",
      message: "phone_number: +442071838750 is not in OUTBOUND_ALLOW_PREFIXES (+1); add its prefix to call it",
    });
    const premium = await call("POST", "/outbound/call", { ...GOOD, phone_number: "+19005550100" });
    expect(premium.status).toBe(422);
    expect(premium.body.message).toBe("phone_number: +19005550100 is in OUTBOUND_DENY_PREFIXES (+1900)");
    expect(h.transport.sent).toHaveLength(0);
    expect((await call("POST", "/outbound/call", GOOD)).status).toBe(201);
  });
});

describe("outbound API: the default deny list (OUTBOUND_DENY_PREFIXES unset)", () => {
  test("with the caller ID's +1 allowed, +1900 and Jamaica's +1876 → 422 saying how to change the list; +1415 is called", async () => {
    // Before: only the allow list (+1) applied by default, so a leaked token could call premium rate and Caribbean numbers.
    const { call, h } = setup({ allow: ["+1"], deny: [...DEFAULT_DENY_PREFIXES], denyIsDefault: true });
    const premium = await call("POST", "/outbound/call", { ...GOOD, phone_number: "+19005550123" });
    expect(premium.status).toBe(422);
    expect(premium.body).toEqual({
      error: "destination_not_allowed",
      field: "phone_number",
      message:
        "phone_number: +19005550123 is in the default OUTBOUND_DENY_PREFIXES (+1900: premium rate or billed as international); set OUTBOUND_DENY_PREFIXES to your own list, or none, to call it",
    });
    expect((await call("POST", "/outbound/call", { ...GOOD, phone_number: "+18765550123" })).status).toBe(422);
    expect(h.transport.sent).toHaveLength(0);
    expect((await call("POST", "/outbound/call", { ...GOOD, phone_number: "+14155550123" })).status).toBe(201);
  });
});

describe("outbound API: validation", () => {
  const cases: [string, unknown, string, RegExp][] = [
    ["bad phone number", { ...GOOD, phone_number: "555-0100" }, "phone_number", /^phone_number: expected E\.164/],
    ["phone number with spaces", { ...GOOD, phone_number: "+1 415 555 0100" }, "phone_number", /^phone_number: /],
    ["phone number as a number", { ...GOOD, phone_number: 14155550100 }, "phone_number", /^phone_number: /],
    ["missing phone number", { opening_reason: "x", objective: "y" }, "phone_number", /^phone_number: required$/],
    ["a JSON array", [1, 2], "phone_number", /^phone_number: required$/],
    ["missing objective", { phone_number: "+14155550100", opening_reason: "x" }, "objective", /^objective: required/],
    ["empty opening_reason", { ...GOOD, opening_reason: "" }, "opening_reason", /^opening_reason: /],
    ["metadata not an object", { ...GOOD, metadata: "x" }, "metadata", /^metadata: /],
    ["amd not a mode", { ...GOOD, amd: "maybe" }, "amd", /^amd: expected one of off, hangup, message/],
    ["empty voicemail_message", { ...GOOD, voicemail_message: "" }, "voicemail_message", /^voicemail_message: /],
  ];
  for (const [name, body, field, msg] of cases) {
    test(`${name} → 422 naming ${field}`, async () => {
      const { call, h } = setup();
      const r = await call("POST", "/outbound/call", body);
      expect(r.status).toBe(422);
      expect(r.body.error).toBe("validation");
      expect(r.body.field).toBe(field);
      expect(r.body.message).toMatch(msg);
      expect(h.transport.sent).toHaveLength(0);
    });
  }

  test("a body that is not JSON by its Content-Type → 415 naming the type, with Accept; nothing is dialled", async () => {
    // Before: text/plain or a form body was parsed as such and failed with "phone_number: expected E.164 …".
    const { call, h, app } = setup();
    const json = JSON.stringify(GOOD);
    for (const [type, shown] of [["text/plain", '"text/plain"'], ["application/x-www-form-urlencoded", '"application/x-www-form-urlencoded"'], [undefined, "(no Content-Type)"]] as const) {
      const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, ...(type ? { "content-type": type } : {}) };
      // Bytes, not a string: a string body would get "text/plain;charset=UTF-8" from Request itself.
      const res = await app.handle(new Request("http://localhost/outbound/call", { method: "POST", headers, body: new TextEncoder().encode(json) }));
      expect(res.status).toBe(415);
      expect(res.headers.get("accept")).toBe("application/json");
      expect(await res.json()).toEqual({ error: "unsupported_media_type", message: `request body of type ${shown}; send JSON with Content-Type: application/json` });
    }
    expect(h.transport.sent).toHaveLength(0);
    expect((await call("POST", "/outbound/call", json, { authorization: `Bearer ${TOKEN}`, "content-type": "application/json; charset=utf-8" })).status).toBe(201);
  });

  test("amd and voicemail_message reach the call's media request; without them AMD is the default (off), no message", async () => {
    const { call, h } = setup();
    expect((await call("POST", "/outbound/call", { ...GOOD, amd: "message", voicemail_message: "Call Acme back, please." })).status).toBe(201);
    expect((await call("POST", "/outbound/call", { ...GOOD, amd: "message" })).status).toBe(201);
    const plain = await call("POST", "/outbound/call", GOOD);
    expect(plain.body).toMatchObject({ machine_detected: false, message_left: false });
    expect(plain.body.amd).toBeUndefined();
    for (const inv of h.requests("INVITE")) h.respond(inv, 200, { body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });
    await h.settle();
    const answers = h.media.map((m) => m.req.answer);
    expect(answers).toHaveLength(3);
    expect(answers[0]).toMatchObject({ amd: "message", message: "Call Acme back, please." });
    expect(answers[1]).toMatchObject({ amd: "message", message: "Hello! I'm calling about your order 1234. Please call us back when you can. Thank you, goodbye." });
    expect(answers[2]).toEqual({ amd: "off", message: undefined, opening: "Hello! I'm calling about your order 1234. Do you have a moment?" });
  });

  test("whitespace-only opening_reason passes the schema but the dialer names the field (422)", async () => {
    const { call } = setup();
    const r = await call("POST", "/outbound/call", { ...GOOD, opening_reason: "   " });
    expect(r).toMatchObject({ status: 422, body: { error: "validation", field: "opening_reason", message: "opening_reason: must not be empty" } });
  });

  test("a body that is not JSON → 400", async () => {
    const { call } = setup();
    const r = await call("POST", "/outbound/call", "{nope", { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe("parse");
  });

  test("list filter: unknown status → 422 naming status; bad limit → 422 naming limit", async () => {
    const { call } = setup();
    expect(await call("GET", "/outbound/calls?status=happy")).toMatchObject({ status: 422, body: { field: "status" } });
    expect(await call("GET", "/outbound/calls?limit=0")).toMatchObject({ status: 422, body: { field: "limit" } });
  });
});

describe("outbound API: calls", () => {
  test("201 with the call id and status; GET shows ringing, connected, then completed with cause, times and transcript", async () => {
    const { call, h } = setup();
    const r = await call("POST", "/outbound/call", GOOD);
    expect(r.status).toBe(201);
    const id = r.body.call_id;
    expect(r.headers.get("location")).toBe(`/outbound/call/${id}`);
    expect(r.body).toMatchObject({
      status: "initiating",
      phone_number: "+14155550100",
      caller_id: "+14155550123",
      opening_reason: GOOD.opening_reason,
      objective: GOOD.objective,
      metadata: GOOD.metadata,
      duration_ms: 0,
      turn_count: 0,
    });
    expect(Date.parse(r.body.created_at)).toBeGreaterThan(0);

    const inv = h.lastInvite();
    h.respond(inv, 180);
    expect((await call("GET", `/outbound/call/${id}`)).body).toMatchObject({ status: "ringing", transcript: [] });
    const ok = h.respond(inv, 200, { body: CALLEE_SDP, headers: [["Contact", "<sip:callee@198.51.100.20:5070>"]] });
    const rec = h.store.get(id)!;
    rec.answeredAt = new Date(Date.now() - 3000).toISOString();
    const turns = [
      { index: 0, speaker: "agent" as const, text: "Hello! I'm calling about your order 1234.", at: new Date().toISOString(), latency: { firstTokenMs: 0, firstAudioMs: 8, firstRtpMs: 21 } },
      { index: 1, speaker: "caller" as const, text: "Oh great.", at: new Date().toISOString(), latency: { finalTranscriptMs: 310 } },
    ];
    for (const t of turns) {
      rec.turns.push(t);
      h.media[0]!.req.onTurn(t);
    }
    const live = (await call("GET", `/outbound/call/${id}`)).body;
    expect(live.status).toBe("connected");
    expect(live.duration_ms).toBeGreaterThanOrEqual(3000);
    h.remoteBye(inv, ok);
    const done = await call("GET", `/outbound/call/${id}`);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      call_id: id,
      status: "completed",
      end_reason: "remote_bye",
      hangup_cause: { code: null, reason: "BYE from the callee", source: "remote" },
      codec: "PCMA",
      turn_count: 2,
      transcript: [
        { index: 0, speaker: "agent", text: turns[0]!.text, latency: { first_token_ms: 0, first_audio_ms: 8, first_rtp_ms: 21 } },
        { index: 1, speaker: "callee", text: "Oh great.", latency: { final_transcript_ms: 310 } },
      ],
    });
    // No end_call: no outcome. The agent's own last words are not what the callee did.
    expect(done.body.outcome).toBeUndefined();
    expect(done.body.outcome_source).toBeUndefined();
    expect(done.body.duration_ms).toBeGreaterThanOrEqual(3000);
    expect(Date.parse(done.body.ended_at)).toBeGreaterThanOrEqual(Date.parse(done.body.answered_at));

    const list = await call("GET", "/outbound/calls");
    expect(list.body.calls.map((c: any) => c.call_id)).toEqual([id]);
    expect(list.body.calls[0].transcript).toBeUndefined();
    expect((await call("GET", "/outbound/calls?status=busy")).body.calls).toEqual([]);
  });

  test("busy → status busy with cause 486; unknown id → 404 on GET and hang-up", async () => {
    const { call, h } = setup();
    const id = (await call("POST", "/outbound/call", GOOD)).body.call_id;
    h.respond(h.lastInvite(), 486);
    expect((await call("GET", `/outbound/call/${id}`)).body).toMatchObject({ status: "busy", hangup_cause: { code: 486, reason: "Busy Here", source: "remote" } });
    for (const [m, p] of [["GET", "/outbound/call/nope"], ["POST", "/outbound/call/nope/hangup"]] as const) {
      const r = await call(m, p);
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ error: "not_found", message: "no outbound call with id nope" });
    }
  });

  test("hang-up: 202 while the CANCEL is outstanding, canceled after the 487; 200 once ended", async () => {
    const { call, h } = setup();
    const id = (await call("POST", "/outbound/call", GOOD)).body.call_id;
    const inv = h.lastInvite();
    h.respond(inv, 180);
    const r = await call("POST", `/outbound/call/${id}/hangup`);
    expect(r.status).toBe(202);
    expect(r.body.status).toBe("ringing");
    h.respond(h.requests("CANCEL")[0]!, 200);
    h.respond(inv, 487);
    const again = await call("POST", `/outbound/call/${id}/hangup`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: "canceled", hangup_cause: { code: 487 } });
  });

  test("limits → 429 with Retry-After; disabled → 403", async () => {
    const a = setup({ maxCalls: 1 });
    expect((await a.call("POST", "/outbound/call", GOOD)).status).toBe(201);
    const full = await a.call("POST", "/outbound/call", GOOD);
    expect(full).toMatchObject({ status: 429, body: { error: "at_capacity" } });
    expect(full.headers.get("retry-after")).toBe("10");

    const b = setup({ perMinute: 1 });
    expect((await b.call("POST", "/outbound/call", GOOD)).status).toBe(201);
    const limited = await b.call("POST", "/outbound/call", GOOD);
    expect(limited).toMatchObject({ status: 429, body: { error: "rate_limited" } });
    expect(limited.headers.get("retry-after")).toBe("60");

    const c = setup({ disabled: true });
    expect(await c.call("POST", "/outbound/call", GOOD)).toMatchObject({ status: 403, body: { error: "outbound_disabled" } });
    expect((await c.call("GET", "/outbound/calls")).status).toBe(200);
  });
});
