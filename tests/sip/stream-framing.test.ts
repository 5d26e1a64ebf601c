/**
 * Cutting a TCP/TLS stream into SIP messages (src/sip/transport/stream-framing.ts): where the header
 * section ends is where the parser says it does (CRLF or bare-LF line ends), and a folded
 * Content-Length is read as the header it is (RFC 3261 §7.3.1, §25.1 HCOLON/SWS/LWS). Real wire bytes.
 */
import { expect, test } from "bun:test";
import { parseMessage, type SipRequest } from "../../src/sip/message/index.ts";
import { MAX_BODY_BYTES, MAX_HEADER_BYTES } from "../../src/sip/transport/index.ts";
import { contentLengthOf, nextFrame, skipKeepAlives, type Frame } from "../../src/sip/transport/stream-framing.ts";
import { TRUNK_INVITE, TRUNK_OPTIONS } from "./fixtures.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const lf = (s: string) => s.replaceAll("\r\n", "\n");
const frame = (s: string, off = 0): Frame => nextFrame(enc(s), off);

test("a CRLF message and the same message with bare LFs frame to their own lengths; the parser reads the same body", () => {
  for (const text of [TRUNK_OPTIONS, lf(TRUNK_OPTIONS), TRUNK_INVITE]) {
    const bytes = enc(text);
    expect(nextFrame(bytes, 0)).toEqual({ kind: "message", end: bytes.length });
  }
  // The INVITE's SDP body keeps its CRLFs (Content-Length counts them) while its headers end in LF.
  const mixed = lf(TRUNK_INVITE.slice(0, TRUNK_INVITE.indexOf("\r\n\r\n") + 4)) + TRUNK_INVITE.slice(TRUNK_INVITE.indexOf("\r\n\r\n") + 4);
  const f = frame(mixed + TRUNK_OPTIONS);
  expect(f).toEqual({ kind: "message", end: enc(mixed).length });
  expect((parseMessage(enc(mixed), { stream: true }) as SipRequest).bodyText).toBe((parseMessage(TRUNK_INVITE) as SipRequest).bodyText);
});

test("pipelined bare-LF messages: each ends where it ends, the next one is not taken as a body", () => {
  const a = lf(TRUNK_OPTIONS);
  const b = lf(TRUNK_OPTIONS.replace("CSeq: 10", "CSeq: 11"));
  const all = enc(a + b + TRUNK_OPTIONS);
  const ends: number[] = [];
  for (let off = 0; off < all.length; ) {
    const f = nextFrame(all, skipKeepAlives(all, off));
    if (f.kind !== "message") throw new Error(`unexpected ${f.kind}`);
    ends.push(f.end);
    off = f.end;
  }
  expect(ends).toEqual([a.length, a.length + b.length, all.length]);
});

test("a header section ended by LF CR LF (mixed line ends) ends there, as the parser reads it", () => {
  const text = "OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\nContent-Length: 2\n\r\nhiOPTIONS";
  expect(frame(text)).toEqual({ kind: "message", end: text.length - "OPTIONS".length });
});

test("Content-Length folded after its colon (§25.1 HCOLON = *(SP/HTAB) \":\" SWS) is read; digits split by a fold are not 1*DIGIT", () => {
  expect(contentLengthOf(enc("OPTIONS sip:a@b SIP/2.0\r\nContent-Length:\r\n 0\r\nX: y"))).toBe(0);
  expect(contentLengthOf(enc("OPTIONS sip:a@b SIP/2.0\r\nl:\r\n\t 12\r\n"))).toBe(12);
  expect(contentLengthOf(enc("OPTIONS sip:a@b SIP/2.0\nContent-Length:\n   7"))).toBe(7);
  expect(contentLengthOf(enc("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1\r\n 0\r\n"))).toBeUndefined();
  expect(contentLengthOf(enc("OPTIONS sip:a@b SIP/2.0\r\nX-Content-Length: 5\r\n"))).toBeUndefined();
  // The whole folded message, pipelined: framed to its own end, and the parser reads the same length.
  const folded = TRUNK_OPTIONS.replace("Content-Length: 0", "Content-Length:\r\n 0");
  expect(frame(folded + TRUNK_OPTIONS)).toEqual({ kind: "message", end: folded.length });
  expect(parseMessage(enc(folded), { stream: true }).headers.get("Content-Length")).toBe("0");
});

test("truncated and oversized inputs: a table of what each frames to", () => {
  const head = TRUNK_OPTIONS.slice(0, TRUNK_OPTIONS.indexOf("\r\n\r\n"));
  const withBody = (n: number) => TRUNK_OPTIONS.replace("Content-Length: 0", `Content-Length: ${n}`);
  const rows: Array<[string, string, Frame]> = [
    ["start line only", "OPTIONS sip:a@b SIP/2.0\r\n", { kind: "incomplete" }],
    ["headers, one CRLF short", `${head}\r\n`, { kind: "incomplete" }],
    ["headers, LF CR (last LF missing)", `${lf(head)}\n\r`, { kind: "incomplete" }],
    ["body announced, 3 of 5 bytes", `${withBody(5)}abc`, { kind: "partial", end: withBody(5).length + 5 }],
    ["no Content-Length", TRUNK_OPTIONS.replace("Content-Length: 0\r\n", ""), { kind: "unframed", bodyStart: TRUNK_OPTIONS.length - "Content-Length: 0\r\n".length }],
    ["Content-Length not digits", TRUNK_OPTIONS.replace("Content-Length: 0", "Content-Length: zero"), { kind: "unframed", bodyStart: TRUNK_OPTIONS.length + 3 }],
    ["body over the limit", withBody(MAX_BODY_BYTES + 1), { kind: "body_too_large", bodyStart: withBody(MAX_BODY_BYTES + 1).length }],
    ["headers over the limit, ended", `OPTIONS sip:a@b SIP/2.0\r\nX: ${"a".repeat(MAX_HEADER_BYTES)}\r\n\r\n`, { kind: "headers_too_large" }],
    ["headers over the limit, no end", `OPTIONS sip:a@b SIP/2.0\nX: ${"a".repeat(MAX_HEADER_BYTES)}`, { kind: "headers_too_large" }],
  ];
  for (const [name, text, want] of rows) expect([name, frame(text)]).toEqual([name, want]);
});

test("keep-alives before a start line are skipped: CRLF pairs, bare LFs, a lone CR at the end of what arrived", () => {
  expect(skipKeepAlives(enc("\r\n\r\n\nOPTIONS"), 0)).toBe(5);
  expect(skipKeepAlives(enc("\r"), 0)).toBe(1);
  expect(skipKeepAlives(enc("OPTIONS\r\n"), 0)).toBe(0);
});
