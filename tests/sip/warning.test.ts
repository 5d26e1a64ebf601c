/** The Warning header value (src/sip/message/warning.ts, RFC 3261 §20.43): quoted-string escapes, no folding, bounds. */
import { describe, expect, test } from "bun:test";
import { MAX_WARN_TEXT, parseMessage, serializeMessage, unquote, warningValue } from "../../src/sip/message/index.ts";

describe("warningValue", () => {
  test.each([
    ["no common codec", '399 voice-agent "no common codec"'],
    ['bad CSeq "x"', '399 voice-agent "bad CSeq \\"x\\""'],
    ["path C:\\sip", '399 voice-agent "path C:\\\\sip"'],
    ["line\r\nInjected: 1", '399 voice-agent "line  Injected: 1"'],
    ["tab\there\x00\x7f", '399 voice-agent "tab here  "'],
    ["Grüße ☎", '399 voice-agent "Grüße ☎"'],
  ])("%j → %s", (text, header) => {
    expect(warningValue(399, text)).toBe(header);
  });

  test("the text reads back unchanged through unquote (quotes are quoted-pairs, not '?'), and a whole response reparses", () => {
    const text = 'bad Via "SIP/2.0/UDP \\x" near "branch"';
    const v = warningValue(399, text, "-");
    expect(v.startsWith('399 - "')).toBe(true);
    expect(v).not.toContain("?");
    expect(unquote(v.slice("399 - ".length))).toBe(text);
    const wire = `SIP/2.0 400 Bad Request\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nWarning: ${v}\r\nContent-Length: 0\r\n\r\n`;
    const m = parseMessage(new TextEncoder().encode(wire));
    expect(m.headers.get("Warning")).toBe(v);
    expect(new TextDecoder().decode(serializeMessage(m))).toContain(`Warning: ${v}\r\n`);
  });

  test("long text is cut at MAX_WARN_TEXT characters with an ellipsis; a code outside 300–399 is our bug", () => {
    const v = warningValue(305, "x".repeat(1000));
    expect(unquote(v.slice("305 voice-agent ".length))).toBe(`${"x".repeat(MAX_WARN_TEXT - 1)}…`);
    expect(unquote(warningValue(399, `${"a".repeat(MAX_WARN_TEXT - 2)}😀😀`).slice(16)).toWellFormed()).toHaveLength(MAX_WARN_TEXT);
    expect(() => warningValue(488, "x")).toThrow(RangeError);
    expect(() => warningValue(299, "x")).toThrow("warn-code must be 300-399, got 299");
  });
});
