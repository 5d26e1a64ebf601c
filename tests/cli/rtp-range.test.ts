/** RTP_PORT_START–RTP_PORT_END against MAX_CALLS (src/cli/rtp-range.ts): counted as the port pool counts, warned about by name. */
import { describe, expect, test } from "bun:test";
import { rtpPortPairs, rtpRangeWarning } from "../../src/cli/rtp-range.ts";
import { RtpPortPool } from "../../src/rtp/port-pool.ts";

describe("RTP port range vs MAX_CALLS", () => {
  test("calls a range holds: the port pool's count (even RTP port + the odd one above it)", () => {
    for (const [s, e] of [[10000, 10010], [10001, 10003], [10000, 10001], [10000, 20000], [65530, 65535], [1, 5]]) {
      expect(rtpPortPairs(s, e)).toBe(new RtpPortPool(s, e).size);
    }
    expect(rtpPortPairs(10000, 10010)).toBe(5);
    expect(rtpPortPairs(10001, 10002)).toBe(0); // the pool refuses such a range (bad_range)
  });

  test("the probe's case (MAX_CALLS=50, 10000-10010): a warning naming both variables; a wide enough range: none", () => {
    const w = rtpRangeWarning({ rtpPortStart: 10000, rtpPortEnd: 10010, maxCalls: 50 });
    expect(w).toContain("RTP_PORT_START-RTP_PORT_END (10000-10010) hold ports for 5 calls");
    expect(w).toContain("MAX_CALLS=50");
    expect(w).toContain("10000-10099");
    expect(rtpRangeWarning({ rtpPortStart: 10000, rtpPortEnd: 10099, maxCalls: 50 })).toBeUndefined();
    expect(rtpRangeWarning({ rtpPortStart: 10000, rtpPortEnd: 10098, maxCalls: 50 })).toContain("49 calls");
  });
});
