import { describe, expect, test } from "bun:test";
import { pendingLimitPerSource } from "../../src/call/unconfirmed";

describe("pendingLimitPerSource", () => {
  test("SIP_MAX_PENDING_PER_SOURCE, capped at half of MAX_CALLS, at least 1", () => {
    expect(pendingLimitPerSource(10, 100)).toBe(10);
    expect(pendingLimitPerSource(10, 8)).toBe(4);
    expect(pendingLimitPerSource(10, 5)).toBe(2);
    expect(pendingLimitPerSource(10, 1)).toBe(1);
    expect(pendingLimitPerSource(3, 1000)).toBe(3);
  });
});
