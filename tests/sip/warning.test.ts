/**
 * The Warning header value (src/sip/message/warning.ts, RFC 3261 §20.43 / §25.1 quoted-string): peer
 * bytes quoted in a reason never reach the wire as control characters, `"` or `\`.
 */
import { describe, expect, test } from "bun:test";
import { MAX_WARN_TEXT, warningValue, warnText } from "../../src/sip/message/index.ts";
import { SipRequest, buildResponse, parseMessage, serializeMessage } from "../../src/sip/message/index.ts";

describe("warningValue", () => {
  test.each([
    ["plain", 399, "no audio stream", '399 voice-agent "no audio stream"'],
    ["nested quotes become '", 399, 'first line must be v=0, got "v=1"', `399 voice-agent "first line must be v=0, got 'v=1'"`],
    ["NUL, ESC, DEL, CR, LF → ?", 399, "got \x00\x1b[31m\x7f\r\nX-Evil: 1", '399 voice-agent "got ??[31m???X-Evil: 1"'],
    ["backslash → ?", 305, "a\\b", '305 voice-agent "a?b"'],
    ["non-ASCII → ?", 399, "ÿé€", '399 voice-agent "???"'],
  ])("%s", (_name, code, text, expected) => {
    expect(warningValue(code, text)).toBe(expected);
  });

  test("long texts are cut to MAX_WARN_TEXT characters ending in ...", () => {
    const t = warnText("x".repeat(5000));
    expect(t).toHaveLength(MAX_WARN_TEXT);
    expect(t.endsWith("...")).toBe(true);
  });

  test("warn-agent '-' when unknown", () => {
    expect(warningValue(399, "x", "-")).toBe('399 - "x"');
  });

  test("fuzz: any text gives one §25.1 quoted-string that survives a serialize/parse round trip", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const inv = parseMessage(
      "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:b@127.0.0.1>;tag=1\r\n" +
        "To: <sip:a@127.0.0.1>\r\nCall-ID: w1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    ) as SipRequest;
    for (let i = 0; i < 500; i++) {
      const text = Array.from({ length: Math.floor(rnd() * 300) }, () => String.fromCharCode(Math.floor(rnd() * 0x300))).join("");
      const value = warningValue(399, text);
      expect(value).toMatch(/^399 voice-agent "[\x20\x21\x23-\x5b\x5d-\x7e]*"$/);
      const res = buildResponse(inv, 488, { headers: [["Warning", value]] });
      const back = parseMessage(serializeMessage(res));
      expect(back.headers.get("Warning")).toBe(value);
    }
  });
});
