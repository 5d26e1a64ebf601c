/**
 * What `POST /outbound/call` carries, validated once here (the HTTP schema in src/http/outbound.ts
 * mirrors these rules for the OpenAPI description; this check also guards callers that are not HTTP).
 */
import { OutboundError } from "./errors";
import { AMD_MODES, type AmdMode } from "../pipeline/outbound-answer";
import { OPENING_REASON_MAX } from "./opening";
import { e164Problem } from "./phone-number";

/** Longest objective accepted (characters). */
export const OBJECTIVE_MAX = 4000;
/** Largest metadata accepted, as JSON (bytes). */
export const METADATA_MAX_BYTES = 8192;

export interface PlaceCallRequest {
  /** E.164, e.g. "+14155550100". */
  phoneNumber: unknown;
  /** Why we call; the opening is built from it (src/outbound/opening.ts). */
  openingReason: unknown;
  /** What the agent should achieve; goes into the system instruction. */
  objective: unknown;
  /** Free key/values stored with the call and returned as given. */
  metadata?: unknown;
  /** Answering-machine detection for this call: "off", "hangup" or "message"; absent → AMD (config). */
  amd?: unknown;
  /** What to leave on a machine (AMD "message"); absent → built from opening_reason. */
  voicemailMessage?: unknown;
}

export interface ValidPlaceCallRequest {
  phoneNumber: string;
  openingReason: string;
  objective: string;
  metadata?: Record<string, unknown>;
  amd?: AmdMode;
  voicemailMessage?: string;
}

const invalid = (field: string, message: string) => new OutboundError("invalid_request", `${field}: ${message}`, { field });

function text(field: string, v: unknown, max: number): string {
  if (typeof v !== "string") throw invalid(field, "expected a string");
  const t = v.trim();
  if (!t) throw invalid(field, "must not be empty");
  if (t.length > max) throw invalid(field, `at most ${max} characters, got ${t.length}`);
  return t;
}

/** @throws OutboundError "invalid_request" whose `field` is the snake_case API field name. */
export function validatePlaceRequest(r: PlaceCallRequest): ValidPlaceCallRequest {
  const problem = e164Problem(r.phoneNumber);
  if (problem) throw invalid("phone_number", problem);
  const out: ValidPlaceCallRequest = {
    phoneNumber: r.phoneNumber as string,
    openingReason: text("opening_reason", r.openingReason, OPENING_REASON_MAX),
    objective: text("objective", r.objective, OBJECTIVE_MAX),
  };
  if (r.metadata !== undefined && r.metadata !== null) {
    if (typeof r.metadata !== "object" || Array.isArray(r.metadata)) throw invalid("metadata", "expected an object of key/values");
    const size = new TextEncoder().encode(JSON.stringify(r.metadata)).length;
    if (size > METADATA_MAX_BYTES) throw invalid("metadata", `at most ${METADATA_MAX_BYTES} bytes as JSON, got ${size}`);
    out.metadata = r.metadata as Record<string, unknown>;
  }
  if (r.amd !== undefined && r.amd !== null) {
    if (typeof r.amd !== "string" || !(AMD_MODES as readonly string[]).includes(r.amd)) throw invalid("amd", `expected one of ${AMD_MODES.join(", ")}`);
    out.amd = r.amd as AmdMode;
  }
  if (r.voicemailMessage !== undefined && r.voicemailMessage !== null) out.voicemailMessage = text("voicemail_message", r.voicemailMessage, OPENING_REASON_MAX);
  return out;
}
