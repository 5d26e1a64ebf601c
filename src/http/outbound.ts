/**
 * Outbound call API (mounted by createApp):
 *
 *   POST /outbound/call                 { phone_number, opening_reason, objective, metadata? } → 201 call
 *   GET  /outbound/calls?status=&limit= → 200 { calls: [call summary…] } (live first, then newest)
 *   GET  /outbound/call/:id             → 200 call with transcript | 404
 *   POST /outbound/call/:id/hangup      → 202 call (CANCEL or BYE sent) | 200 already ended | 404
 *
 * Fields are snake_case. Errors: `{ error, message, field? }` — 422 invalid field (message starts with the
 * field name), 403 outbound calling disabled, 429 limits (Retry-After), 503 draining / no RTP port.
 */
import { Elysia, t } from "elysia";
import type { CallRecord, CallRecordStore, CallStatus, TurnRecord } from "../pipeline/call-record";
import { CALL_STATUSES, E164_PATTERN, METADATA_MAX_BYTES, OBJECTIVE_MAX, OPENING_REASON_MAX, OutboundError, type PlaceCallRequest } from "../outbound";

/** What the routes need from the dialer. */
export interface OutboundApi {
  place(req: PlaceCallRequest): Promise<CallRecord>;
  hangup(id: string): CallRecord | undefined;
}

export interface OutboundRoutesDeps {
  store: CallRecordStore;
  /** Undefined: outbound calling is off (the reason is `disabledReason`). */
  dialer?: OutboundApi;
  disabledReason?: string;
}

/** Per-turn latency in the API, ms (see TurnLatency). */
export interface TurnLatencyView {
  final_transcript_ms?: number;
  first_token_ms?: number;
  first_audio_ms?: number;
  first_rtp_ms?: number;
}

export interface TurnView {
  index: number;
  speaker: "agent" | "callee";
  text: string;
  at: string;
  interrupted?: boolean;
  latency?: TurnLatencyView;
  error?: string;
}

export interface OutboundCallView {
  call_id: string;
  status: CallStatus;
  phone_number: string;
  caller_id: string;
  opening_reason?: string;
  objective?: string;
  metadata?: Record<string, unknown>;
  created_at: string;
  ringing_at?: string;
  answered_at?: string;
  ended_at?: string;
  /** Talk time, ms: answer → end (or → now while connected); 0 if never answered. */
  duration_ms: number;
  hangup_cause?: { code: number | null; reason: string; source: "remote" | "local" };
  end_reason?: string;
  outcome?: string;
  outcome_source?: "end_call" | "last_agent_turn";
  /** Answering-machine detection found a machine (false when AMD was off or found none). */
  machine_detected: boolean;
  /** A message was played to a machine to its end (AMD "message"). */
  message_left: boolean;
  /** AMD's classification and what was done; absent when AMD was off for the call. */
  amd?: {
    result: "human" | "machine" | "unknown";
    reason: string;
    decided_at: string;
    after_ms: number;
    action: "hangup" | "message" | "none";
    beep_at?: string;
    beep_hz?: number;
    message_after?: "beep" | "silence" | "beep_wait_over";
  };
  sip_call_id: string;
  codec?: string;
  barge_ins: number;
  turn_count: number;
  /** Detail view only. */
  transcript?: TurnView[];
}

const userOf = (uri: string) => /^sips?:([^@;>]+)@/i.exec(uri)?.[1] ?? uri;

function turnView(t: TurnRecord): TurnView {
  const v: TurnView = { index: t.index, speaker: t.speaker === "caller" ? "callee" : "agent", text: t.text, at: t.at };
  if (t.interrupted) v.interrupted = true;
  if (t.error) v.error = t.error;
  if (t.latency) {
    const l = t.latency;
    v.latency = {
      final_transcript_ms: l.finalTranscriptMs,
      first_token_ms: l.firstTokenMs,
      first_audio_ms: l.firstAudioMs,
      first_rtp_ms: l.firstRtpMs,
    };
  }
  return v;
}

/** The API view of an outbound record; `detail` adds the transcript. */
export function outboundView(r: CallRecord, detail: boolean, now = Date.now()): OutboundCallView {
  const answered = r.answeredAt ? Date.parse(r.answeredAt) : undefined;
  const end = r.endedAt ? Date.parse(r.endedAt) : now;
  const v: OutboundCallView = {
    call_id: r.id,
    status: r.status ?? "initiating",
    phone_number: userOf(r.to),
    caller_id: userOf(r.from),
    opening_reason: r.openingReason,
    objective: r.objective,
    metadata: r.metadata,
    created_at: r.startedAt,
    ringing_at: r.ringingAt,
    answered_at: r.answeredAt,
    ended_at: r.endedAt,
    duration_ms: answered === undefined ? 0 : Math.max(0, end - answered),
    hangup_cause: r.hangupCause,
    end_reason: r.endReason,
    outcome: r.outcome,
    outcome_source: r.outcomeSource,
    machine_detected: r.amd?.result === "machine",
    message_left: r.amd?.messageLeft === true,
    amd: r.amd && {
      result: r.amd.result,
      reason: r.amd.reason,
      decided_at: r.amd.decidedAt,
      after_ms: r.amd.afterMs,
      action: r.amd.action,
      beep_at: r.amd.beepAt,
      beep_hz: r.amd.beepHz,
      message_after: r.amd.messageAfter,
    },
    sip_call_id: r.sipCallId,
    codec: r.codec,
    barge_ins: r.bargeIns,
    turn_count: r.turns.length,
  };
  if (detail) v.transcript = r.turns.map(turnView);
  return v;
}

/** HTTP status for each dialer refusal (this edge is the only place that knows). */
const STATUS_OF: Record<OutboundError["code"], number> = {
  invalid_request: 422,
  disabled: 403,
  at_capacity: 429,
  rate_limited: 429,
  draining: 503,
  no_media_port: 503,
  destination_not_allowed: 422,
  not_found: 404,
};

const PlaceBody = t.Object({
  phone_number: t.String({
    pattern: E164_PATTERN,
    description: "Number to call, E.164: '+', country code, number; 2 to 15 digits.",
    examples: ["+14155550100"],
    error: "phone_number: expected E.164 ('+', country code and number, 2 to 15 digits, no spaces), e.g. +14155550100",
  }),
  opening_reason: t.String({
    minLength: 1,
    maxLength: OPENING_REASON_MAX,
    description: "Why we call. The agent opens with it: 'Hello! I'm calling <opening_reason>. Do you have a moment?'",
    examples: ["about your dentist appointment tomorrow at 10"],
  }),
  objective: t.String({
    minLength: 1,
    maxLength: OBJECTIVE_MAX,
    description: "What the agent should achieve; goes into its system instruction.",
    examples: ["Confirm the appointment, or offer to reschedule."],
  }),
  // Checked by the dialer (an object, at most METADATA_MAX_BYTES): Elysia would coerce "x" into {"0":"x"}.
  metadata: t.Optional(t.Unknown({ description: `An object of free key/values stored with the call (at most ${METADATA_MAX_BYTES} bytes as JSON).` })),
  amd: t.Optional(
    t.Union([t.Literal("off"), t.Literal("hangup"), t.Literal("message")], {
      description:
        "Answering-machine detection for this call (default: the AMD variable). 'hangup': hang up on a machine; 'message': wait for the beep and leave voicemail_message.",
      error: "amd: expected one of off, hangup, message",
    }),
  ),
  voicemail_message: t.Optional(
    t.String({
      minLength: 1,
      maxLength: OPENING_REASON_MAX,
      description: "What to say to an answering machine after the beep (amd 'message'); default: built from opening_reason, with a request to call back.",
    }),
  ),
});

const ErrorBody = t.Object({ error: t.String(), message: t.String(), field: t.Optional(t.String()) });

export function outboundRoutes(deps: OutboundRoutesDeps) {
  const find = async (id: string) => {
    const r = await deps.store.get(id);
    return r && r.direction === "outbound" ? r : undefined;
  };
  const notFound = (id: string) => ({ error: "not_found", message: `no outbound call with id ${id}` });

  return new Elysia({ name: "outbound-routes" })
    .post(
      "/outbound/call",
      async ({ body, set }) => {
        if (!deps.dialer) {
          set.status = 403;
          return { error: "outbound_disabled", message: deps.disabledReason ?? "outbound calling is not enabled" };
        }
        try {
          const rec = await deps.dialer.place({
            phoneNumber: body.phone_number,
            openingReason: body.opening_reason,
            objective: body.objective,
            metadata: body.metadata,
            amd: body.amd,
            voicemailMessage: body.voicemail_message,
          });
          set.status = 201;
          set.headers["location"] = `/outbound/call/${rec.id}`;
          return outboundView(rec, false);
        } catch (err) {
          if (!(err instanceof OutboundError)) throw err;
          set.status = STATUS_OF[err.code];
          if (err.opts.retryAfterMs !== undefined) set.headers["retry-after"] = String(Math.ceil(err.opts.retryAfterMs / 1000));
          else if (err.code === "at_capacity") set.headers["retry-after"] = "10";
          // One error code for a bad field, whether the schema or the dialer found it.
          const error = err.code === "invalid_request" ? "validation" : err.code;
          return { error, message: err.message, ...(err.field ? { field: err.field } : {}) };
        }
      },
      {
        body: PlaceBody,
        // JSON after the app's global parse hook (body-limit.ts, chunked bodies): also what the OpenAPI
        // description lists as the body's type (a hook function alone leaves it without one).
        parse: "json",
        detail: {
          summary: "Place an outbound call",
          description:
            "Sends the INVITE through the SIP trunk and returns at once with status 'initiating'. Follow the call with GET /outbound/call/{id}. " +
            "Statuses: initiating → ringing → connected → completed, or no_answer, busy, declined, failed, canceled; " +
              "a call answered but silent on the wire (not one RTP packet from the callee) ends no_media. " +
              "`outcome` is the agent's end_call reason only (absent otherwise, and always for no_media).",
          tags: ["outbound"],
          responses: {
            201: { description: "Call placed" },
            401: { description: "Missing or wrong bearer token" },
            403: { description: "Outbound calling disabled (--mode inbound)" },
            422: { description: "A field is invalid, or the number is outside OUTBOUND_ALLOW_PREFIXES / inside OUTBOUND_DENY_PREFIXES; `field` names it" },
            429: { description: "MAX_OUTBOUND_CALLS live or OUTBOUND_CALLS_PER_MINUTE reached; see Retry-After" },
            503: { description: "Shutting down, or no free RTP port" },
          },
        },
      },
    )
    .get(
      "/outbound/calls",
      async ({ query }) => {
        const { active, recent } = await deps.store.list({ direction: "outbound", status: query.status as CallStatus | undefined, limit: query.limit });
        return { calls: [...active, ...recent].map((r) => outboundView(r, false)) };
      },
      {
        query: t.Object({
          status: t.Optional(t.Union(CALL_STATUSES.map((s) => t.Literal(s)), { error: `status: expected one of ${CALL_STATUSES.join(", ")}` })),
          limit: t.Optional(t.Numeric({ minimum: 1, maximum: 1000, error: "limit: expected a number from 1 to 1000" })),
        }),
        detail: { summary: "List outbound calls (live first, then newest; no transcripts)", tags: ["outbound"] },
      },
    )
    .get(
      "/outbound/call/:id",
      async ({ params, set }) => {
        const r = await find(params.id);
        if (!r) {
          set.status = 404;
          return notFound(params.id);
        }
        return outboundView(r, true);
      },
      { detail: { summary: "One outbound call: status, times, duration, hang-up cause, outcome, transcript with per-turn latency", tags: ["outbound"] } },
    )
    .post(
      "/outbound/call/:id/hangup",
      async ({ params, set }) => {
        const r = await find(params.id);
        if (!r) {
          set.status = 404;
          return notFound(params.id);
        }
        if (r.state === "ended" || !deps.dialer) return outboundView(r, false);
        const after = deps.dialer.hangup(params.id) ?? r;
        set.status = after.state === "ended" ? 200 : 202;
        return outboundView(after, false);
      },
      {
        detail: {
          summary: "Hang up: CANCEL before answer (→ canceled), BYE after (→ completed)",
          description: "202 when the CANCEL or BYE was sent (the status changes when the far end confirms); 200 when the call had already ended.",
          tags: ["outbound"],
        },
        response: { 200: t.Any(), 202: t.Any(), 404: ErrorBody },
      },
    );
}
