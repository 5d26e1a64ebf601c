import { describe, expect, test } from "bun:test";
import { Admission, BUSY_RETRY_AFTER_S, DRAIN_RETRY_AFTER_S, OPTIONS_BACKLOG_MS, loadHeaderValue, optionsAnswer, type AdmissionVerdict } from "../../src/call/admission";

function admission(o: { active: number; capacity?: number; draining?: boolean; noPort?: boolean }) {
  return new Admission({
    capacity: o.capacity ?? 2,
    active: () => o.active,
    draining: () => o.draining ?? false,
    degraded: [() => (o.noPort ? "no free RTP port" : undefined), () => undefined],
  });
}

const pick = (v: AdmissionVerdict) => (v.accept ? ["accept", v.active, v.capacity] : [v.reason, v.retryAfterS, v.active, v.capacity]);

describe("admission: the verdict INVITE, OPTIONS and /health/ready share", () => {
  test.each([
    ["idle", { active: 0 }, ["accept", 0, 2]],
    ["one below capacity", { active: 1 }, ["accept", 1, 2]],
    ["at MAX_CALLS", { active: 2 }, ["full", BUSY_RETRY_AFTER_S, 2, 2]],
    ["over MAX_CALLS (outbound raced in)", { active: 3 }, ["full", BUSY_RETRY_AFTER_S, 3, 2]],
    ["no RTP port", { active: 0, noPort: true }, ["degraded", BUSY_RETRY_AFTER_S, 0, 2]],
    ["draining wins over full", { active: 2, draining: true }, ["draining", DRAIN_RETRY_AFTER_S, 2, 2]],
    ["draining while idle", { active: 0, draining: true }, ["draining", DRAIN_RETRY_AFTER_S, 0, 2]],
    ["full wins over degraded", { active: 2, noPort: true }, ["full", BUSY_RETRY_AFTER_S, 2, 2]],
  ] as const)("%s", (_, o, want) => {
    expect(pick(admission(o).verdict())).toEqual([...want]);
  });

  test("the refusal names its cause; the load header is active/capacity", () => {
    const v = admission({ active: 0, noPort: true }).verdict();
    expect(v.accept ? "" : v.detail).toBe("no free RTP port");
    const full = admission({ active: 12, capacity: 12 }).verdict();
    expect(full.accept ? "" : full.detail).toBe("12 calls are live (MAX_CALLS 12)");
    expect(loadHeaderValue({ active: 12, capacity: 150 })).toBe("12/150");
  });

  test("the verdict follows the live state (no caching)", () => {
    let active = 2;
    const a = new Admission({ capacity: 2, active: () => active, draining: () => false });
    expect(a.verdict().accept).toBe(false);
    active = 1;
    expect(a.verdict().accept).toBe(true);
  });
});

describe("optionsAnswer: an OPTIONS probe says 200 only when a new INVITE would be taken and handled in time", () => {
  const accept = { accept: true as const, active: 12, capacity: 150 };
  test("accepting, no SIP backlog → 200 with the load; a backlog over 2·T1 → 503 Retry-After 1; a refusal keeps its own Retry-After", () => {
    expect(optionsAnswer(accept, 0)).toEqual({ available: true, headers: [["X-Calls", "12/150"]] });
    expect(optionsAnswer(accept, OPTIONS_BACKLOG_MS)).toEqual({ available: true, headers: [["X-Calls", "12/150"]] });
    expect(optionsAnswer(accept, 1500)).toEqual({ available: false, retryAfterS: 1, headers: [["X-Calls", "12/150"]] });
    const full = { accept: false as const, reason: "full" as const, detail: "x", retryAfterS: 30, active: 150, capacity: 150 };
    expect(optionsAnswer(full, 0)).toEqual({ available: false, retryAfterS: 30, headers: [["X-Calls", "150/150"]] });
    expect(OPTIONS_BACKLOG_MS).toBe(2 * 500); // 2·T1
  });
});
