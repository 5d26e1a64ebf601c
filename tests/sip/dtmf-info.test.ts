import { describe, expect, test } from "bun:test";
import { dtmfSignalKey, parseDtmfInfo } from "../../src/sip/ua/dtmf-info.ts";

describe("SIP INFO DTMF bodies", () => {
  test("application/dtmf-relay Signal= and Duration=", () => {
    expect(parseDtmfInfo("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n")).toEqual({ kind: "digit", key: "5", durationMs: 160 });
    expect(parseDtmfInfo("application/dtmf-relay", "signal = #\n")).toEqual({ kind: "digit", key: "#" });
    expect(parseDtmfInfo("application/dtmf-relay", "Signal=11\r\n")).toEqual({ kind: "digit", key: "#" });
    expect(parseDtmfInfo("application/dtmf-relay", "Signal=x\r\n").kind).toBe("bad");
    expect(parseDtmfInfo("application/dtmf-relay", "Duration=100").kind).toBe("bad");
  });
  test("application/dtmf, empty bodies, other types", () => {
    expect(parseDtmfInfo("application/dtmf", "*\r\n")).toEqual({ kind: "digit", key: "*" });
    expect(parseDtmfInfo("application/dtmf", "55").kind).toBe("bad");
    expect(parseDtmfInfo(undefined, "")).toEqual({ kind: "empty" });
    expect(parseDtmfInfo("application/media_control+xml", "<x/>")).toEqual({ kind: "unsupported", contentType: "application/media_control+xml" });
    expect(dtmfSignalKey("d")).toBe("D");
    expect(dtmfSignalKey("16")).toBe("flash");
    expect(dtmfSignalKey("17")).toBeUndefined();
  });
});
