import { describe, expect, test } from "bun:test";
import * as cloud from "../../../src/providers/cloud";
import {
  classifyHttpStatus,
  handshakeError,
  handshakeStatusFromMessage,
  httpError,
  isRejectingClose,
  wsCloseError,
} from "../../../src/providers/errors";
import { endCall } from "../../../src/providers/tools/end-call";
import { defaultTools, findTool } from "../../../src/providers/tools/registry";
import { ProviderError } from "../../../src/providers/types";

const src = { provider: "x", kind: "stt" } as const;

describe("status → ProviderError mapping", () => {
  test.each([
    [401, "auth", false],
    [403, "auth", false],
    [429, "rate_limited", true],
    [408, "timeout", true],
    [504, "timeout", true],
    [500, "unavailable", true],
    [502, "unavailable", true],
    [503, "unavailable", true],
    [400, "bad_request", false],
    [404, "bad_request", false],
    [422, "bad_request", false],
    [302, "protocol", false],
  ] as const)("HTTP %d → %s, retryable %p", (status, code, retryable) => {
    expect(classifyHttpStatus(status)).toEqual({ code, retryable });
    const e = httpError(src, status, "detail");
    expect(e).toBeInstanceOf(ProviderError);
    expect(e).toMatchObject({ provider: "x", kind: "stt", code, retryable, status });
  });

  test("401 says 'key rejected'", () => {
    expect(httpError(src, 401).message).toBe("x: key rejected (HTTP 401)");
  });

  test.each([
    ["WebSocket connection to 'ws://h/x?api_key=SECRET' failed: Expected 101 status code: 401", 401],
    ["… Expected 101 status code: 503", 503],
    ["WebSocket connection to 'ws://127.0.0.1:1/x' failed: Failed to connect", undefined],
    [undefined, undefined],
  ])("handshakeStatusFromMessage(%p) = %p", (msg, status) => {
    expect(handshakeStatusFromMessage(msg)).toBe(status);
  });

  test("handshake errors never carry URL query strings (keys) in their message", () => {
    const e = handshakeError(src, "WebSocket connection to 'wss://api.cartesia.ai/tts/websocket?api_key=SECRET&v=1' failed: Failed to connect");
    expect(e.code).toBe("unavailable");
    expect(e.message).not.toContain("SECRET");
    expect(e.message).toContain("wss://api.cartesia.ai/tts/websocket?…");
  });

  test.each([
    [1000, "unavailable", true, false],
    [1006, "unavailable", true, false],
    [1011, "unavailable", true, false],
    [1002, "bad_request", false, true],
    [1008, "bad_request", false, true],
    [4001, "auth", false, true],
    [4029, "rate_limited", true, false],
  ] as const)("WS close %d → %s (retryable %p, rejecting %p)", (code, c, retryable, rejecting) => {
    expect(wsCloseError(src, code, "NET-0001")).toMatchObject({ code: c, retryable });
    expect(isRejectingClose(code)).toBe(rejecting);
  });
});

describe("tool registry", () => {
  test("defaultTools() offers end_call and send_dtmf with a JSON schema; fresh copies each call", () => {
    const a = defaultTools();
    expect(a.map((t) => t.name)).toEqual(["end_call", "send_dtmf"]);
    expect(a[0].parameters).toEqual({
      type: "object",
      properties: { reason: { type: "string", description: "Short reason for ending the call (for the logs)." } },
      required: [],
    });
    expect(a[0].description).toMatch(/goodbye/i);
    (a[0].parameters as { type: string }).type = "mutated";
    expect((defaultTools()[0].parameters as { type: string }).type).toBe("object");
    expect(findTool("end_call")).toBe(endCall);
    expect(findTool("made_up")).toBeUndefined();
  });

  test.each([
    [{}, { ok: true, args: {} }],
    [{ reason: "caller said bye" }, { ok: true, args: { reason: "caller said bye" } }],
    [{ reason: null }, { ok: true, args: {} }],
    [{ reason: 3 }, { ok: false, error: "reason must be a string" }],
    [{ reason: "x".repeat(300) }, { ok: true, args: { reason: "x".repeat(200) } }],
  ])("end_call.parseArgs(%p)", (args, expected) => {
    expect(endCall.parseArgs(args as Record<string, unknown>)).toEqual(expected as never);
  });

  test("cloud.ts exports the factories, defaults and config names", () => {
    expect(typeof cloud.createDeepgramStt).toBe("function");
    expect(typeof cloud.createGeminiLlm).toBe("function");
    expect(typeof cloud.createOpenAiLlm).toBe("function");
    expect(typeof cloud.createCartesiaTts).toBe("function");
    expect(cloud.DEEPGRAM_DEFAULTS.model).toBe("nova-2-phonecall");
    expect(cloud.GEMINI_DEFAULTS.model).toBe("gemini-2.0-flash");
    expect(cloud.CARTESIA_DEFAULTS.model).toBe("sonic-2");
    expect(cloud.DEEPGRAM_ENV).toEqual({ apiKey: "DEEPGRAM_API_KEY", model: "DEEPGRAM_MODEL", baseUrl: "DEEPGRAM_BASE_URL", chunkMs: "DEEPGRAM_CHUNK_MS" });
    expect(cloud.CARTESIA_ENV.voiceId).toBe("CARTESIA_VOICE_ID");
    expect(cloud.OPENAI_ENV).toEqual({ baseUrl: "OPENAI_BASE_URL", apiKey: "OPENAI_API_KEY", model: "OPENAI_MODEL" });
    expect(cloud.createDeepgramStt({ apiKey: "k" }).name).toBe("deepgram");
  });
});
