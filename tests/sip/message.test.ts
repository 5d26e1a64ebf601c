import { describe, expect, test } from "bun:test";
import {
  SipParseError,
  SipRequest,
  SipResponse,
  buildResponse,
  generateBranch,
  generateCallId,
  generateTag,
  isKeepAlive,
  messageToString,
  parseMessage,
  parseNameAddr,
  parseUri,
  parseVia,
  serializeMessage,
} from "../../src/sip/message/index.ts";
import {
  CANONICAL_FIXTURES,
  COMPACT_INVITE,
  COMPACT_INVITE_CANONICAL,
  SIPP_INVITE,
  TRUNK_INVITE,
  TRUNK_INVITE_JOINED,
  TRUNK_OPTIONS,
  TRUNK_SDP,
  wire,
} from "./fixtures.ts";

const enc = new TextEncoder();

function req(text: string): SipRequest {
  const m = parseMessage(text);
  if (m.kind !== "request") throw new Error("not a request");
  return m;
}

describe("round trip on wire captures", () => {
  for (const [name, text] of Object.entries(CANONICAL_FIXTURES)) {
    test(`${name} serialises to identical bytes`, () => {
      const bytes = enc.encode(text);
      expect(serializeMessage(parseMessage(bytes))).toEqual(bytes);
    });
  }

  test("trunk INVITE: every Via and Record-Route kept, in order", () => {
    const m = req(TRUNK_INVITE);
    expect(m.method).toBe("INVITE");
    expect(m.uri).toBe("sip:+14155550100@203.0.113.10:5060");
    expect(m.vias.map((v) => v.branch)).toEqual(["z9hG4bK9a1e.7c4f5d12.0", "z9hG4bKSmF7v1yXgNDtp"]);
    expect(m.topVia.rport).toBeNull();
    expect(m.vias[1]!.rport).toBe(5080);
    expect(m.headers.getAll("Record-Route")).toEqual([
      "<sip:52.9.254.127;lr;ftag=as4f2a1b3c;did=6a1.9c91>",
      "<sip:10.10.5.21;r2=on;lr;ftag=as4f2a1b3c>",
      "<sip:52.9.254.127;r2=on;lr;ftag=as4f2a1b3c>",
    ]);
    expect(m.from.displayName).toBe("+14155550123");
    expect(m.from.tag).toBe("as4f2a1b3c");
    expect(m.from.uri.user).toBe("+14155550123");
    expect(m.to.tag).toBeUndefined();
    expect(m.cseq).toEqual({ seq: 102, method: "INVITE" });
    expect(m.contact!.uri.port).toBe(5080);
    expect(m.contact!.uri.param("transport")).toBe("udp");
    expect(m.contentType).toBe("application/sdp");
    expect(m.bodyText).toBe(TRUNK_SDP);
    // Auth-like headers with commas are not split.
    expect(m.headers.getAll("Allow")).toHaveLength(1);
  });

  test("comma-joined Via and Record-Route split into the same rows as the canonical capture", () => {
    const joined = req(TRUNK_INVITE_JOINED);
    const canonical = req(TRUNK_INVITE);
    expect(joined.headers.getAll("Via")).toEqual(canonical.headers.getAll("Via"));
    expect(joined.headers.getAll("Record-Route")).toEqual(canonical.headers.getAll("Record-Route"));
  });

  test("compact forms normalise to full names", () => {
    const m = req(COMPACT_INVITE);
    expect(messageToString(m)).toBe(COMPACT_INVITE_CANONICAL);
    expect(m.callId).toBe("3f2a1c0e9b");
    expect(m.contact!.params.get("+sip.instance")).toBe('"<urn:uuid:1234>"');
    expect(m.headers.get("k")).toBe("replaces, outbound");
  });

  test("Content-Length honoured: extra bytes after the body are dropped", () => {
    const m = parseMessage(`${SIPP_INVITE}GARBAGE-AFTER-BODY`);
    expect(m.bodyText.endsWith("a=rtpmap:0 PCMU/8000\r\n")).toBe(true);
    expect(messageToString(m)).toBe(SIPP_INVITE);
  });

  test("no Content-Length over UDP: the body is the rest of the datagram", () => {
    const m = parseMessage(SIPP_INVITE.replace(/Content-Length: \d+\r\n/, ""));
    expect(m.bodyText).toBe(parseMessage(SIPP_INVITE).bodyText);
  });

  test("bare LF line ends, folded lines, leading CRLF are accepted", () => {
    const text = `\r\n${SIPP_INVITE.replace("Subject: Performance Test", "Subject: Performance\r\n  Test")}`.replace(/\r\n/g, "\n");
    const body = text.slice(text.indexOf("\n\n") + 2);
    const m = parseMessage(text.replace(/Content-Length: \d+/, `Content-Length: ${body.length}`));
    expect(m.headers.get("Subject")).toBe("Performance Test");
    expect(m.bodyText).toBe(body);
    expect(m.bodyText).toContain("m=audio 6000 RTP/AVP 0\n");
  });
});

describe("keep-alives", () => {
  test("CRLF-only datagrams are keep-alives, others are not", () => {
    expect(isKeepAlive(enc.encode("\r\n\r\n"))).toBe(true);
    expect(isKeepAlive(enc.encode("\r\n"))).toBe(true);
    expect(isKeepAlive(enc.encode(""))).toBe(false);
    expect(isKeepAlive(enc.encode("\r\n \r\n"))).toBe(false);
    expect(isKeepAlive(enc.encode(SIPP_INVITE))).toBe(false);
  });
});

const BASE = [
  "OPTIONS sip:a@127.0.0.1 SIP/2.0",
  "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc",
  "From: <sip:b@127.0.0.1>;tag=1",
  "To: <sip:a@127.0.0.1>",
  "Call-ID: x1",
  "CSeq: 1 OPTIONS",
];
const edit = (i: number, line: string | null, extra: string[] = []): string =>
  wire([...BASE.map((l, k) => (k === i ? line : l)).filter((l): l is string => l !== null), ...extra]);

describe("malformed and truncated inputs", () => {
  const table: Array<[string, string | Uint8Array, string, string, boolean]> = [
    // name, input, code, message fragment, partial headers recovered
    ["empty datagram", "", "empty", "no message", false],
    ["only CRLF", "\r\n\r\n", "empty", "no message", false],
    ["garbage start line", "HELLO\r\n\r\n", "start_line", "malformed Request-Line", false],
    ["request line without version", edit(0, "OPTIONS sip:a@127.0.0.1"), "start_line", "Request-Line", false],
    ["bad version token", edit(0, "OPTIONS sip:a@127.0.0.1 HTTP/1.1"), "start_line", "SIP-Version", false],
    ["SIP/3.0", edit(0, "OPTIONS sip:a@127.0.0.1 SIP/3.0"), "version", "SIP/3.0", true],
    ["status code 2000", "SIP/2.0 2000 OK\r\n\r\n", "start_line", "Status-Line", false],
    ["status code 099", "SIP/2.0 099 Odd\r\n\r\n", "start_line", "outside 100-699", false],
    ["headers cut before the empty line", BASE.join("\r\n"), "truncated", "no empty line", false],
    ["header line without colon", edit(5, "CSeq 1 OPTIONS"), "header_syntax", "malformed header line 5", true],
    ["continuation first", wire([BASE[0]!, " folded", ...BASE.slice(1)]), "header_syntax", "continuation", true],
    ["bare CR inside a header", edit(4, "Call-ID: x\r1"), "header_syntax", "bare CR", true],
    ["NUL byte inside a header value (finding 7: Max-Forwards: 7 NUL 0)", edit(5, "CSeq: 1 OPTIONS", ["Max-Forwards: 7\x000"]), "header_syntax", "NUL byte in header line 6", true],
    ["NUL byte in the Request-URI", edit(0, "OPTIONS sip:a\x00b@127.0.0.1 SIP/2.0"), "start_line", "NUL byte", false],
    ["missing Call-ID", edit(4, null), "missing_header", "missing Call-ID", true],
    ["empty Call-ID", edit(4, "Call-ID:   "), "missing_header", "missing Call-ID", true],
    ["missing Via", edit(1, null), "missing_header", "missing Via", true],
    ["missing CSeq", edit(5, null), "missing_header", "missing CSeq", true],
    ["missing From", edit(2, null), "missing_header", "missing From", true],
    ["CSeq without method", edit(5, "CSeq: 1"), "cseq", "bad CSeq", true],
    ["CSeq 2^31", edit(5, "CSeq: 2147483648 OPTIONS"), "cseq", "2^31", true],
    ["CSeq method mismatch", edit(5, "CSeq: 1 INVITE"), "cseq", "differs from OPTIONS", true],
    ["Via without sent-by", edit(1, "Via: SIP/2.0/UDP"), "via", "bad Via", true],
    ["Via bad port", edit(1, "Via: SIP/2.0/UDP 127.0.0.1:99999;branch=z9hG4bKa"), "via", "bad sent-by", true],
    ["Via bad rport", edit(1, "Via: SIP/2.0/UDP 127.0.0.1;rport=abc;branch=z9hG4bKa"), "via", "bad rport", true],
    ["From without >", edit(2, "From: <sip:b@127.0.0.1;tag=1"), "name_addr", "missing >", true],
    ["From unterminated quote", edit(2, 'From: "Bob <sip:b@127.0.0.1>'), "name_addr", "unterminated", true],
    ["To with bad host", edit(3, "To: <sip:a@bad_host!>"), "uri", "bad host", true],
    ["Request-URI without scheme", edit(0, "OPTIONS nothing SIP/2.0"), "uri", "malformed Request-URI", true],
    ["Request-URI bad port", edit(0, "OPTIONS sip:a@127.0.0.1:0 SIP/2.0"), "uri", "bad port", true],
    ["Content-Length not a number", edit(5, "CSeq: 1 OPTIONS", ["Content-Length: ten"]), "content_length", "bad Content-Length", true],
    ["Content-Length disagreeing", edit(5, "CSeq: 1 OPTIONS", ["Content-Length: 1", "l: 2"]) + "ab", "content_length", "bad Content-Length", true],
    ["body shorter than Content-Length", edit(5, "CSeq: 1 OPTIONS", ["Content-Length: 10"]) + "short", "body_truncated", "5 bytes, Content-Length says 10", true],
  ];
  for (const [name, input, code, fragment, hasPartial] of table) {
    test(name, () => {
      let err: unknown;
      try {
        parseMessage(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SipParseError);
      const e = err as SipParseError;
      expect(e.code).toBe(code as SipParseError["code"]);
      expect(e.message).toContain(fragment);
      expect(e.partial !== undefined).toBe(hasPartial);
    });
  }

  test("stream transports: no Content-Length → content_length (RFC 3261 §18.3 MUST); over UDP the rest of the datagram", () => {
    const bare = TRUNK_OPTIONS.replace("Content-Length: 0\r\n", "");
    expect(bare).not.toContain("Content-Length");
    expect(parseMessage(bare).body.length).toBe(0); // a datagram: allowed
    expect(parseMessage(TRUNK_OPTIONS, { stream: true }).body.length).toBe(0); // Content-Length: 0 present
    try {
      parseMessage(bare, { stream: true });
      throw new Error("parsed");
    } catch (e) {
      expect((e as SipParseError).code).toBe("content_length");
      expect((e as SipParseError).message).toContain("no Content-Length");
      expect((e as SipParseError).partial?.method).toBe("OPTIONS");
    }
  });

  test("partial of a truncated INVITE keeps what a 400 needs", () => {
    const cut = TRUNK_INVITE.slice(0, TRUNK_INVITE.length - 40);
    try {
      parseMessage(cut);
      throw new Error("parsed");
    } catch (e) {
      const p = (e as SipParseError).partial!;
      expect((e as SipParseError).code).toBe("body_truncated");
      expect(p.method).toBe("INVITE");
      expect(p.headers.getAll("Via")).toHaveLength(2);
      expect(p.headers.get("Call-ID")).toBe("4c5b0b5e-ab7e-123a-9a5b-0242ac110002");
    }
  });
});

describe("URIs and addresses", () => {
  test("sip URI with user, password, port, params and headers", () => {
    const u = parseUri("sip:alice:secret@example.com:5070;transport=udp;lr?subject=hi");
    expect([u.scheme, u.user, u.password, u.host, u.port, u.headers]).toEqual(["sip", "alice", "secret", "example.com", 5070, "subject=hi"]);
    expect(u.param("transport")).toBe("udp");
    expect(u.param("lr")).toBeNull();
    expect(u.toString()).toBe("sip:alice:secret@example.com:5070;transport=udp;lr?subject=hi");
  });
  test("IPv6 host, sips, tel", () => {
    const v6 = parseUri("sips:[2001:db8::1]:5061");
    expect([v6.scheme, v6.host, v6.hostname, v6.port]).toEqual(["sips", "[2001:db8::1]", "2001:db8::1", 5061]);
    const tel = parseUri("tel:+1-555-0100;phone-context=example.com");
    expect([tel.scheme, tel.user, tel.host]).toEqual(["tel", "+1-555-0100", ""]);
    expect(tel.toString()).toBe("tel:+1-555-0100;phone-context=example.com");
  });
  test("bad URIs", () => {
    for (const bad of ["http://x", "sip:", "sip:@host", "sip:a@", "sip:a@host:", "sip:a@host:70000", "sip:a b@host", "sip:[::1"]) {
      expect(() => parseUri(bad)).toThrow(SipParseError);
    }
  });
  test("name-addr forms", () => {
    const a = parseNameAddr('"Alice \\"A\\" Smith" <sip:alice@a.example;transport=udp>;tag=88sja8x;x="q;r"');
    expect(a.displayName).toBe('Alice "A" Smith');
    expect(a.uri.param("transport")).toBe("udp");
    expect(a.tag).toBe("88sja8x");
    expect(a.params.get("x")).toBe('"q;r"');
    expect(a.toString()).toBe('"Alice \\"A\\" Smith" <sip:alice@a.example;transport=udp>;tag=88sja8x;x="q;r"');
    const b = parseNameAddr("Bob Smith <sip:bob@b.example>");
    expect(b.displayName).toBe("Bob Smith");
    // addr-spec form: ";tag" belongs to the header, not the URI (§20.10)
    const c = parseNameAddr("sip:carol@c.example;tag=xyz");
    expect(c.tag).toBe("xyz");
    expect(c.uri.params.size).toBe(0);
    expect(c.toString()).toBe("<sip:carol@c.example>;tag=xyz");
  });
  test("Via with spaces, IPv6, received", () => {
    const v = parseVia("SIP / 2.0 / udp  [2001:db8::9]:5062 ; branch=z9hG4bKx ; received=192.0.2.1;rport=9");
    expect([v.transport, v.host, v.port, v.branch, v.received, v.rport, v.sentBy]).toEqual([
      "UDP", "[2001:db8::9]", 5062, "z9hG4bKx", "192.0.2.1", 9, "[2001:db8::9]:5062",
    ]);
    expect(v.toString()).toBe("SIP/2.0/UDP [2001:db8::9]:5062;branch=z9hG4bKx;received=192.0.2.1;rport=9");
  });
});

describe("helpers", () => {
  test("ids: tag, branch with magic cookie, Call-ID", () => {
    const branches = new Set(Array.from({ length: 1000 }, generateBranch));
    expect(branches.size).toBe(1000);
    for (const b of branches) expect(b).toMatch(/^z9hG4bK[0-9a-f]{16}$/);
    expect(generateTag()).toMatch(/^[0-9a-f]{16}$/);
    expect(generateCallId("203.0.113.10")).toMatch(/^[0-9a-f]{32}@203\.0\.113\.10$/);
  });

  test("buildResponse copies Via/From/To/Call-ID/CSeq and adds the To-tag", () => {
    const invite = req(TRUNK_INVITE);
    const r = buildResponse(invite, 180, { toTag: "abc123", copyRecordRoute: true, headers: [["Contact", "<sip:agent@203.0.113.10:5060>"]] });
    expect(r).toBeInstanceOf(SipResponse);
    const text = messageToString(r);
    expect(text).toBe(
      wire([
        "SIP/2.0 180 Ringing",
        "Via: SIP/2.0/UDP 52.9.254.127:5060;branch=z9hG4bK9a1e.7c4f5d12.0;rport",
        "Via: SIP/2.0/UDP 10.10.5.21:5080;received=10.10.5.21;rport=5080;branch=z9hG4bKSmF7v1yXgNDtp",
        "Record-Route: <sip:52.9.254.127;lr;ftag=as4f2a1b3c;did=6a1.9c91>",
        "Record-Route: <sip:10.10.5.21;r2=on;lr;ftag=as4f2a1b3c>",
        "Record-Route: <sip:52.9.254.127;r2=on;lr;ftag=as4f2a1b3c>",
        'From: "+14155550123" <sip:+14155550123@52.9.254.127>;tag=as4f2a1b3c',
        "To: <sip:+14155550100@203.0.113.10>;tag=abc123",
        "Call-ID: 4c5b0b5e-ab7e-123a-9a5b-0242ac110002",
        "CSeq: 102 INVITE",
        "Contact: <sip:agent@203.0.113.10:5060>",
        "Content-Length: 0",
      ]),
    );
    // 100 Trying carries no tag (§8.2.6.2) but does copy Timestamp (§8.2.6.1)
    invite.headers.append("Timestamp", "54.2");
    const t = buildResponse(invite, 100, { toTag: "abc123" });
    expect(t.to.tag).toBeUndefined();
    expect(t.headers.get("Timestamp")).toBe("54.2");
    expect(t.reason).toBe("Trying");
    // a body gets its Content-Type and a right Content-Length
    const ok = buildResponse(invite, 200, { toTag: "abc123", body: "v=0\r\n", contentType: "application/sdp" });
    expect(messageToString(ok)).toContain("Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n");
  });

  test("headers setters reject CR/LF injection", () => {
    const m = req(SIPP_INVITE);
    expect(() => m.headers.set("Subject", "x\r\nInjected: 1")).toThrow(TypeError);
  });
});
