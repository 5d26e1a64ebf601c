import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../src/util/clock";
import {
  CALL_STATUSES,
  CANCELLED_BEFORE_RESPONSE,
  TRUNK_UNREACHABLE_ICMP,
  TRUNK_UNREACHABLE_TIMEOUT,
  OpeningLlm,
  SlidingWindowLimiter,
  buildOpening,
  finalOutcome,
  NO_MEDIA_RECEIVED,
  type EndFacts,
  isE164,
  isFinalStatus,
  nextStatus,
  OutboundStatus,
  statusForFinalResponse,
} from "../../src/outbound";
import { IllegalTransitionError } from "../../src/util/state-machine";
import type { LlmChunk, LlmProvider } from "../../src/providers/types";

describe("E.164", () => {
  test.each([
    ["+14155550100", true],
    ["+442071838750", true],
    ["+12", true],
    ["+123456789012345", true],
    ["+1234567890123456", false],
    ["14155550100", false],
    ["+1", false],
    ["+04155550100", false],
    ["+1 415 555 0100", false],
    ["+1-415-555-0100", false],
    ["", false],
  ])("%s → %p", (n, ok) => expect(isE164(n)).toBe(ok));
});

describe("opening", () => {
  test.each([
    ["about your order 1234.", "Hello! I'm calling about your order 1234. Do you have a moment?"],
    ["your order 1234", "Hello! I'm calling about your order 1234. Do you have a moment?"],
    ["To confirm tomorrow's delivery", "Hello! I'm calling to confirm tomorrow's delivery. Do you have a moment?"],
    ["regarding   the  invoice\n", "Hello! I'm calling regarding the invoice. Do you have a moment?"],
    ["Hi, this is Ann from Acme Dental about your check-up!", "Hi, this is Ann from Acme Dental about your check-up."],
    ["   ", "Hello! Do you have a moment?"],
  ])("%j", (reason, opening) => expect(buildOpening(reason)).toBe(opening));

  test("OpeningLlm speaks the opening once without the model, then delegates and keeps the end_call reason", async () => {
    const seen: number[] = [];
    const inner: LlmProvider = {
      name: "inner",
      async *generate(req) {
        seen.push(req.history.length);
        yield { type: "text", text: "Fine." };
        yield { type: "tool_call", name: "end_call", args: { reason: `  ${"x".repeat(300)}  ` } };
      },
    };
    const llm = new OpeningLlm(inner, "Hello!");
    const run = async (n: number) => {
      const out: LlmChunk[] = [];
      const history = Array.from({ length: n }, (_, i) => ({ role: i % 2 ? ("user" as const) : ("assistant" as const), text: "t" }));
      for await (const c of llm.generate({ system: "", history, tools: [], signal: new AbortController().signal })) out.push(c);
      return out;
    };
    expect(await run(0)).toEqual([{ type: "text", text: "Hello!" }]);
    expect(seen).toEqual([]);
    expect((await run(2))[0]).toEqual({ type: "text", text: "Fine." });
    expect(llm.endCallReason).toBe("x".repeat(200));
    expect(await run(0)).toHaveLength(2); // a second empty-history request goes to the model
    expect(llm.name).toBe("inner");
  });
});

describe("status", () => {
  test("final statuses have no way out; the happy path and each failure are allowed from the start", () => {
    expect(CALL_STATUSES.filter(isFinalStatus).sort()).toEqual(["busy", "canceled", "completed", "declined", "failed", "no_answer", "no_media"]);
    expect(nextStatus("connected", "no_media")).toBe("no_media");
    expect(() => nextStatus("ringing", "no_media")).toThrow(IllegalTransitionError); // only an answered call can be silent
    expect(nextStatus("initiating", "ringing")).toBe("ringing");
    expect(nextStatus("ringing", "connected")).toBe("connected");
    expect(nextStatus("connected", "completed")).toBe("completed");
    expect(() => nextStatus("completed", "connected")).toThrow(IllegalTransitionError);
    expect(() => nextStatus("connected", "busy")).toThrow(/connected → busy/);
    expect(() => nextStatus("ringing", "initiating")).toThrow(IllegalTransitionError);
  });
  test("OutboundStatus: the shared StateMachine; a repeated status is a no-op, an unlisted move throws", () => {
    const moves: string[] = [];
    const s = new OutboundStatus("initiating", (from, to) => moves.push(`${from}→${to}`));
    s.to("ringing");
    s.to("ringing");
    expect(s.tryTo("initiating")).toBe(false);
    s.to("connected");
    expect(() => s.to("busy")).toThrow(IllegalTransitionError);
    s.to("completed");
    expect(moves).toEqual(["initiating→ringing", "ringing→connected", "connected→completed"]);
    expect(s.state).toBe("completed");
  });
  test.each([
    [486, undefined, "busy"],
    [600, undefined, "busy"],
    [603, undefined, "declined"],
    [607, undefined, "declined"],
    [480, undefined, "no_answer"],
    [408, undefined, "no_answer"],
    [487, "ring_timeout", "no_answer"],
    [487, "api", "canceled"],
    [487, "shutdown", "canceled"],
    [487, undefined, "failed"],
    [403, undefined, "failed"],
    [404, undefined, "failed"],
    [500, undefined, "failed"],
  ] as const)("%d (cancel %p) → %s", (code, cancel, status) => expect(statusForFinalResponse(code, cancel)).toBe(status));
});

describe("SlidingWindowLimiter", () => {
  test("N per minute, sliding; retry-after is when the oldest start leaves the window", () => {
    const clock = new FakeClock();
    const l = new SlidingWindowLimiter(3, clock);
    expect(l.tryAcquire().ok).toBe(true);
    clock.advance(10_000);
    expect(l.tryAcquire().ok).toBe(true);
    expect(l.tryAcquire().ok).toBe(true);
    expect(l.tryAcquire()).toEqual({ ok: false, retryAfterMs: 50_000 });
    expect(l.used).toBe(3);
    clock.advance(49_999);
    expect(l.tryAcquire()).toEqual({ ok: false, retryAfterMs: 1 });
    clock.advance(1);
    expect(l.tryAcquire().ok).toBe(true);
    expect(l.tryAcquire()).toEqual({ ok: false, retryAfterMs: 10_000 });
  });
});

describe("finalOutcome", () => {
  const base = { gotProvisional: true } as const;
  test.each([
    [{ ...base, status: "connected", sipReason: "remote_bye" }, "completed", { code: null, reason: "BYE from the callee", source: "remote" }],
    [{ ...base, status: "connected", sipReason: "local_bye", endReason: "end_call" }, "completed", { code: null, reason: "the agent ended the call", source: "local" }],
    [{ ...base, status: "connected", sipReason: "error" }, "failed", { code: null, reason: "internal error", source: "local" }],
    // Answered, but not one RTP packet from the callee: no_media, whoever hung up (rtp_timeout, callee's BYE).
    // `source` is who hung up: the agent's BYE after RTP_TIMEOUT_S is local, the callee's BYE remote.
    [{ ...base, status: "connected", sipReason: "local_bye", endReason: "rtp_timeout", packetsReceived: 0 }, "no_media", { code: null, reason: `${NO_MEDIA_RECEIVED}; the agent hung up: no RTP from the callee for RTP_TIMEOUT_S (rtp_timeout)`, source: "local" }],
    [{ ...base, status: "connected", sipReason: "remote_bye", packetsReceived: 0 }, "no_media", { code: null, reason: `${NO_MEDIA_RECEIVED}; BYE from the callee`, source: "remote" }],
    [{ ...base, status: "connected", sipReason: "local_bye", endReason: "rtp_timeout", packetsReceived: 250 }, "completed", { code: null, reason: "the agent hung up: no RTP from the callee for RTP_TIMEOUT_S (rtp_timeout)", source: "local" }],
    [{ ...base, status: "connected", sipReason: "local_bye", endReason: "weird", packetsReceived: 0 }, "no_media", { code: null, reason: `${NO_MEDIA_RECEIVED}; BYE by the agent (weird)`, source: "local" }],
    [{ ...base, status: "connected", sipReason: "error", packetsReceived: 0 }, "failed", { code: null, reason: "internal error", source: "local" }],
    [{ ...base, status: "ringing", sipReason: "rejected", failure: { code: 486, reason: "Busy Here" } }, "busy", { code: 486, reason: "Busy Here", source: "remote" }],
    [{ ...base, status: "ringing", sipReason: "canceled", cancelled: "ring_timeout", failure: { code: 487, reason: "Request Terminated" } }, "no_answer", { code: 487, reason: "Request Terminated", source: "local" }], // our CANCEL's 487 (was "remote")
    [{ ...base, status: "ringing", sipReason: "canceled", cancelled: "api" }, "canceled", { code: null, reason: "cancelled; no final response to the INVITE", source: "local" }],
    [{ gotProvisional: false, status: "initiating", sipReason: "timeout", failure: { code: 408, reason: "Request Timeout" } }, "failed", { code: 408, reason: TRUNK_UNREACHABLE_TIMEOUT, source: "local" }],
    [{ gotProvisional: false, responded: false, status: "initiating", sipReason: "unreachable" }, "failed", { code: null, reason: TRUNK_UNREACHABLE_ICMP, source: "local" }],
    [{ gotProvisional: false, responded: false, status: "initiating", sipReason: "canceled", cancelled: "api" }, "canceled", { code: null, reason: CANCELLED_BEFORE_RESPONSE, source: "local" }],
    [{ gotProvisional: false, responded: false, status: "initiating", sipReason: "canceled", cancelled: "shutdown" }, "canceled", { code: null, reason: CANCELLED_BEFORE_RESPONSE, source: "local" }],
  ] as const)("%j → %s", (facts, status, cause) => {
    expect(finalOutcome(facts as EndFacts)).toEqual({ status, cause } as never);
  });
});
