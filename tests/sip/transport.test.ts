import { afterEach, describe, expect, test } from "bun:test";
import { SipRequest, parseMessage, parseVia, Headers, type SipMessage } from "../../src/sip/message/index.ts";
import {
  MemoryTransport,
  UdpTransport,
  processDatagram,
  responseDestination,
  type Address,
} from "../../src/sip/transport/index.ts";
import { OPTIONS_200, SIPP_INVITE, TRUNK_INVITE, TRUNK_OPTIONS } from "./fixtures.ts";

const enc = new TextEncoder();
const src = (host: string, port: number): Address => ({ host, port });

describe("processDatagram (§18.2.1, RFC 3581 §4)", () => {
  test("keep-alive is recognised and not parsed", () => {
    expect(processDatagram(enc.encode("\r\n\r\n"), src("1.2.3.4", 5060)).kind).toBe("keepalive");
  });

  test("rport present: filled with the source port, received always added", () => {
    const r = processDatagram(enc.encode(TRUNK_INVITE), src("52.9.254.127", 5062));
    expect(r.kind).toBe("message");
    const m = (r as { message: SipMessage }).message;
    expect(m.headers.getAll("Via")[0]).toBe("SIP/2.0/UDP 52.9.254.127:5060;branch=z9hG4bK9a1e.7c4f5d12.0;rport=5062;received=52.9.254.127");
    // the second Via is untouched
    expect(m.headers.getAll("Via")[1]).toBe("SIP/2.0/UDP 10.10.5.21:5080;received=10.10.5.21;rport=5080;branch=z9hG4bKSmF7v1yXgNDtp");
  });

  test("no rport: received added only when the host differs from the source", () => {
    const same = processDatagram(enc.encode(SIPP_INVITE), src("127.0.1.1", 5061));
    expect((same as { message: SipMessage }).message.headers.get("Via")).toBe("SIP/2.0/UDP 127.0.1.1:5061;branch=z9hG4bK-4242-1-0");
    const nat = processDatagram(enc.encode(SIPP_INVITE), src("198.51.100.9", 40000));
    expect((nat as { message: SipMessage }).message.headers.get("Via")).toBe("SIP/2.0/UDP 127.0.1.1:5061;branch=z9hG4bK-4242-1-0;received=198.51.100.9");
  });

  test("a received the sender wrote itself is replaced by the source address (no reflection)", () => {
    // sent-by = the real source, so no received would be added; the forged one must not survive
    const forged = SIPP_INVITE.replace("branch=z9hG4bK-4242-1-0", "received=203.0.113.66;branch=z9hG4bK-4242-1-0");
    const r = processDatagram(enc.encode(forged), src("127.0.1.1", 5061));
    const via = (r as { message: SipMessage }).message.headers.get("Via")!;
    expect(via).toBe("SIP/2.0/UDP 127.0.1.1:5061;received=127.0.1.1;branch=z9hG4bK-4242-1-0");
    expect(responseDestination(parseVia(via))).toEqual({ host: "127.0.1.1", port: 5061 });
    // with maddr too: the response still goes to the source
    const maddr = SIPP_INVITE.replace("branch=z9hG4bK-4242-1-0", "maddr=203.0.113.66;branch=z9hG4bK-4242-1-0");
    const m = processDatagram(enc.encode(maddr), src("198.51.100.9", 40000));
    expect(responseDestination(parseVia((m as { message: SipMessage }).message.headers.get("Via")!))).toEqual({ host: "198.51.100.9", port: 5061 });
  });

  test("responses are not stamped", () => {
    const r = processDatagram(enc.encode(OPTIONS_200), src("9.9.9.9", 1234));
    expect((r as { message: SipMessage }).message.headers.get("Via")).toContain(";received=52.9.254.127;rport=5060");
  });

  test("malformed request with Via/From/To/Call-ID/CSeq → 400 routed back, with To-tag and Warning", () => {
    const cut = TRUNK_INVITE.slice(0, TRUNK_INVITE.length - 30);
    const r = processDatagram(enc.encode(cut), src("52.9.254.127", 5062));
    expect(r.kind).toBe("reject");
    if (r.kind !== "reject") return;
    expect(r.response.status).toBe(400);
    expect(r.response.reason).toBe("Bad Request");
    expect(r.response.headers.get("Warning")).toMatch(/^399 - "body_truncated: body has \d+ bytes, Content-Length says \d+"$/);
    expect(r.response.to.tag).toMatch(/^[0-9a-f]{16}$/);
    expect(r.response.vias).toHaveLength(2);
    expect(responseDestination(r.response.topVia)).toEqual({ host: "52.9.254.127", port: 5062 });
    expect(r.response.cseq).toEqual({ seq: 102, method: "INVITE" });
  });

  test("a request framed off a TCP/TLS connection without Content-Length → 400 naming it (RFC 3261 §18.3)", () => {
    const bare = enc.encode(TRUNK_OPTIONS.replace("Content-Length: 0\r\n", ""));
    expect(processDatagram(bare, src("52.9.254.127", 5062)).kind).toBe("message"); // UDP: allowed
    const r = processDatagram(bare, src("52.9.254.127", 5062), true);
    expect(r.kind).toBe("reject");
    if (r.kind !== "reject") throw new Error(r.kind);
    expect(r.response.status).toBe(400);
    expect(r.response.headers.get("Warning")).toBe('399 - "content_length: no Content-Length on a stream transport (RFC 3261 section 18.3 MUST)"');
  });

  test("a NUL byte inside a header value → 400 naming it, the NUL line not echoed (RFC 3261 §25.1)", () => {
    // The bytes of last session's attack (atk.py "nul-bytes"): Max-Forwards: 7 NUL 0; answered 200 before.
    const bytes = enc.encode(TRUNK_OPTIONS.replace("Max-Forwards: 70", "Max-Forwards: 7\x000"));
    expect(bytes.includes(0)).toBe(true);
    const r = processDatagram(bytes, src("52.9.254.127", 5060));
    expect(r.kind).toBe("reject");
    if (r.kind !== "reject") return;
    expect(r.response.status).toBe(400);
    expect(r.response.headers.get("Warning")).toBe('399 - "header_syntax: NUL byte in header line 2"');
    expect(r.response.headers.get("Max-Forwards")).toBeUndefined();
    expect(r.response.cseq).toEqual({ seq: 10, method: "OPTIONS" });
  });

  test("a request missing Call-ID or with a bad CSeq still gets its 400 (RFC 4475 §3.1.2.18)", () => {
    const noCallId = TRUNK_OPTIONS.replace("Call-ID: 5b5e1f0c7d3a2b1e@52.9.254.127\r\n", "").replace("CSeq: 10 OPTIONS", "CSeq: x");
    const r = processDatagram(enc.encode(noCallId), src("52.9.254.127", 5060));
    expect(r.kind === "reject" && r.response.status).toBe(400);
    expect(r.kind === "reject" && r.response.headers.get("Warning")).toMatch(/^399 - "/);
    // A parse error that quotes the bad value: its quotes go out as ' (src/sip/message/warning.ts), never as '?'.
    const badCSeq = processDatagram(enc.encode(TRUNK_OPTIONS.replace("CSeq: 10 OPTIONS", 'CSeq: "x"')), src("52.9.254.127", 5060));
    expect(badCSeq.kind === "reject" && badCSeq.response.headers.get("Warning")).toBe(`399 - "cseq: bad CSeq ''x''"`);
  });

  test("SIP/3.0 request → 505", () => {
    const r = processDatagram(enc.encode(TRUNK_OPTIONS.replace("SIP/2.0\r\n", "SIP/3.0\r\n")), src("52.9.254.127", 5060));
    expect(r.kind === "reject" && r.response.status).toBe(505);
  });

  test("unanswerable input is dropped: garbage, malformed ACK, malformed response, bad top Via", () => {
    const ack = SIPP_INVITE.replace("INVITE sip:", "ACK sip:").replace("CSeq: 1 INVITE", "CSeq: 1 ACK").replace(/Content-Length: \d+/, "Content-Length: 9999");
    const cases = [
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
      ack,
      OPTIONS_200.replace("Content-Length: 0", "Content-Length: 5"),
      TRUNK_OPTIONS.replace("Via: SIP/2.0/UDP 52.9.254.127:5060", "Via: SIP/2.0/UDP"),
    ];
    for (const c of cases) expect(processDatagram(enc.encode(c), src("1.2.3.4", 5060)).kind).toBe("drop");
  });
});

describe("responseDestination (§18.2.2, RFC 3581 §4)", () => {
  const table: Array<[string, Address]> = [
    ["SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa;received=203.0.113.7;rport=40123", { host: "203.0.113.7", port: 40123 }],
    ["SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa;received=203.0.113.7", { host: "203.0.113.7", port: 5070 }],
    ["SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa;received=203.0.113.7", { host: "203.0.113.7", port: 5060 }],
    ["SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa", { host: "10.0.0.1", port: 5070 }],
    ["SIP/2.0/UDP pbx.example.com;branch=z9hG4bKa", { host: "pbx.example.com", port: 5060 }],
    // maddr is never followed (a reflection lever; see response-address.ts): back to the source
    ["SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa;maddr=224.0.1.75;received=1.1.1.1", { host: "1.1.1.1", port: 5070 }],
    ["SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa;maddr=victim.example;rport=5071", { host: "10.0.0.1", port: 5071 }],
    ["SIP/2.0/UDP [2001:db8::5]:5080;branch=z9hG4bKa", { host: "2001:db8::5", port: 5080 }],
  ];
  for (const [via, want] of table) test(via, () => expect(responseDestination(parseVia(via))).toEqual(want));
});

describe("MemoryTransport", () => {
  test("malformed request answered 400 through sendResponse; keep-alive ignored", () => {
    const t = new MemoryTransport();
    const got: SipMessage[] = [];
    t.delegate = { onMessage: (m) => got.push(m) };
    expect(t.receive("\r\n\r\n", src("5.5.5.5", 5060)).kind).toBe("keepalive");
    t.receive(TRUNK_OPTIONS.replace("CSeq: 10 OPTIONS", "CSeq: 10 INVITE"), src("52.9.254.127", 5060));
    expect(got).toHaveLength(0);
    expect(t.sent).toHaveLength(1);
    expect(t.sent[0]!.message.kind === "response" && t.sent[0]!.message.status).toBe(400);
    expect(t.sent[0]!.to).toEqual({ host: "52.9.254.127", port: 5060 });
    t.receive(TRUNK_OPTIONS, src("52.9.254.127", 5060));
    expect(got).toHaveLength(1);
  });
});

describe("UdpTransport on 127.0.0.1", () => {
  const open: UdpTransport[] = [];
  afterEach(() => {
    for (const t of open.splice(0)) t.close();
  });
  const bind = async () => {
    const t = await UdpTransport.bind({ host: "127.0.0.1", port: 0 });
    open.push(t);
    return t;
  };
  const nextMessage = (t: UdpTransport) =>
    new Promise<{ message: SipMessage; source: Address }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no datagram within 2 s")), 2000);
      t.delegate = {
        onMessage: (message, source) => {
          clearTimeout(timer);
          resolve({ message, source });
        },
      };
    });

  test("binds port 0, request and response travel both ways with rport routing", async () => {
    const a = await bind();
    const b = await bind();
    expect(a.local.port).toBeGreaterThan(0);
    expect(a.local.port).not.toBe(b.local.port);

    const h = new Headers([
      ["Via", `SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKudp1;rport`], // deliberately wrong port: rport must win
      ["From", "<sip:a@127.0.0.1>;tag=aa"],
      ["To", "<sip:b@127.0.0.1>"],
      ["Call-ID", "udp-test-1"],
      ["CSeq", "1 OPTIONS"],
      ["Max-Forwards", "70"],
    ]);
    const got = nextMessage(b);
    a.send(new SipRequest("OPTIONS", `sip:b@127.0.0.1:${b.local.port}`, h), b.local);
    const { message, source } = await got;
    expect(source).toEqual({ host: "127.0.0.1", port: a.local.port });
    expect(message.kind).toBe("request");
    expect(message.topVia.rport).toBe(a.local.port);
    expect(message.topVia.received).toBe("127.0.0.1");

    const { buildResponse } = await import("../../src/sip/message/index.ts");
    const back = nextMessage(a);
    b.sendResponse(buildResponse(message as SipRequest, 200, { toTag: "bb" }));
    const res = await back;
    expect(res.message.kind === "response" && res.message.status).toBe(200);
    expect(res.source.port).toBe(b.local.port);
    expect(b.stats.sent).toBe(1);
  });

  test("a starved receive path: afterReceived runs after a 200 OK already in the socket is handled; ACKs are counted while they wait (acksWaiting)", async () => {
    const agent = await bind();
    const peer = await bind();
    const seen: string[] = [];
    agent.delegate = {
      onMessage: (m) => seen.push(`${m.kind === "request" ? m.method : m.status} (ACKs waiting ${agent.acksWaiting()})`),
    };
    const row = (...lines: string[]) => enc.encode([...lines, "Content-Length: 0", "", ""].join("\r\n"));
    const dialog = ["From: <sip:trunk@127.0.0.1>;tag=f1", "To: <sip:agent@127.0.0.1>;tag=t1", "Call-ID: starved-1"];
    const ack = (n: number) => row(`ACK sip:agent@127.0.0.1 SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:${peer.local.port};branch=z9hG4bKack${n}`, "Max-Forwards: 70", ...dialog, "CSeq: 1 ACK");
    const ok = row("SIP/2.0 200 OK", `Via: SIP/2.0/UDP 127.0.0.1:${agent.local.port};branch=z9hG4bKinv1`, "From: <sip:agent@127.0.0.1>;tag=a1", "To: <sip:callee@127.0.0.1>;tag=c1", "Call-ID: starved-2", "CSeq: 1 INVITE");
    const raw = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    try {
      for (const d of [ack(1), ack(2), ok]) raw.send(d, agent.local.port, "127.0.0.1");
      const until = performance.now() + 30;
      while (performance.now() < until) {
        /* the agent's thread is busy: the three datagrams wait in its socket, unread */
      }
      let decided: string[] | undefined;
      agent.afterReceived(() => (decided = [...seen])); // e.g. the ring timeout, due now
      expect(decided).toBeUndefined(); // not before the socket is read
      for (let waited = 0; !decided && waited < 5000; waited += 5) await Bun.sleep(5); // slack for a busy machine
      expect(decided).toBeDefined();
      expect(decided![0]).toBe("200 (ACKs waiting 2)"); // the answer was handled before the decision (urgent lane first)
      for (let waited = 0; seen.length < 3 && waited < 5000; waited += 5) await Bun.sleep(5);
      expect(seen).toEqual(["200 (ACKs waiting 2)", "ACK (ACKs waiting 1)", "ACK (ACKs waiting 0)"]);
      expect(agent.acksWaiting()).toBe(0);
    } finally {
      raw.close();
    }
  });

  test("malformed datagram → 400 to the sender; keep-alive and garbage ignored; a throwing delegate does not stop the loop", async () => {
    const server = await bind();
    const client = await bind();
    let calls = 0;
    server.delegate = {
      onMessage: () => {
        calls++;
        throw new Error("upper layer bug");
      },
    };
    const bad = TRUNK_OPTIONS.replace("52.9.254.127:5060;branch", `127.0.0.1:${client.local.port};branch`).replace("Content-Length: 0", "Content-Length: 50");
    const reply = nextMessage(client);
    const raw = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    raw.send("\r\n\r\n", server.local.port, "127.0.0.1");
    raw.send("\x00\x01garbage", server.local.port, "127.0.0.1");
    raw.close();
    client.send(parseMessage(TRUNK_OPTIONS.replace("52.9.254.127:5060;branch", `127.0.0.1:${client.local.port};branch`)), server.local);
    // a raw malformed datagram from the client's own socket: send through a MemoryTransport-free path
    (client as unknown as { socket: { send(d: string, p: number, h: string): void } }).socket.send(bad, server.local.port, "127.0.0.1");
    const r = await reply;
    expect(r.message.kind === "response" && r.message.status).toBe(400);
    expect(calls).toBe(1);
    expect(server.stats.keepalives).toBe(1);
    expect(server.stats.dropped).toBe(1);
    expect(server.stats.rejected).toBe(1);
  });

  test("close() releases the port and is idempotent", async () => {
    const t = await UdpTransport.bind({ host: "127.0.0.1", port: 0 });
    const port = t.local.port;
    t.close();
    t.close();
    const again = await UdpTransport.bind({ host: "127.0.0.1", port });
    expect(again.local.port).toBe(port);
    again.close();
  });
});


describe("UdpTransport: ICMP unreachable (§18.4)", () => {
  test("sends to a closed port: the real error is logged once per destination, each report reaches the delegate with the address", async () => {
    const logs: Array<{ level: string; fields: any; msg: string }> = [];
    const rec = (level: string) => (fields: object, msg: string) => logs.push({ level, fields, msg });
    const log = { debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") };
    const t = await UdpTransport.bind({ host: "127.0.0.1", port: 0, log });
    const hold = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    const dead = { host: "127.0.0.1", port: hold.port };
    hold.close(); // nothing listens there now: the kernel answers with ICMP port unreachable
    const reports: Array<[Address, string]> = [];
    t.delegate = { onMessage() {}, onUnreachable: (to, code) => reports.push([to, code]) };
    const options = () =>
      new SipRequest(
        "OPTIONS",
        `sip:x@127.0.0.1:${dead.port}`,
        new Headers([
          ["Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-icmp"],
          ["From", "<sip:a@127.0.0.1>;tag=1"],
          ["To", "<sip:x@127.0.0.1>"],
          ["Call-ID", "icmp@127.0.0.1"],
          ["CSeq", "1 OPTIONS"],
        ]),
      );
    try {
      for (let i = 0; i < 5; i++) {
        t.send(options(), dead);
        await Bun.sleep(30);
      }
      const end = Date.now() + 3000;
      while (reports.length < 5 && Date.now() < end) await Bun.sleep(20);
      expect(reports.length).toBe(5);
      for (const [to, code] of reports) {
        expect(to).toEqual(dead);
        expect(code).toBe("ECONNREFUSED");
      }
      const lines = logs.filter((l) => l.msg === "sip udp socket error");
      expect(lines).toHaveLength(1);
      expect(lines[0]!.fields).toMatchObject({ code: "ECONNREFUSED", afterSendTo: `127.0.0.1:${dead.port}` });
      expect(String(lines[0]!.fields.err)).toMatch(/ECONNREFUSED|connection refused/i);
      expect(t.stats.socketErrors).toBe(5);
    } finally {
      t.close();
    }
  });
});

describe("UdpTransport: parse details are pii", () => {
  test("a malformed request is logged with its code; the parser's text (which may quote a number) only under pii", async () => {
    const logs: any[] = [];
    const rec = (level: string) => (fields: object, msg: string) => logs.push({ level, msg, ...fields });
    const log = { debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error") };
    const t = await UdpTransport.bind({ host: "127.0.0.1", port: 0, log });
    t.delegate = { onMessage() {} };
    const bad = [
      `INVITE sip:+14155550100@127.0.0.1:${t.local.port} SIP/2.0`,
      "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-pii",
      "From: <+14155550100>;tag=1",
      `To: <sip:+14155550100@127.0.0.1>`,
      "Call-ID: pii@127.0.0.1",
      "CSeq: 1 INVITE",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
    const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    try {
      s.send(new TextEncoder().encode(bad), t.local.port, "127.0.0.1");
      const end = Date.now() + 3000;
      while (!logs.some((l) => l.level === "warn") && Date.now() < end) await Bun.sleep(20);
      const line = logs.find((l) => l.level === "warn")!;
      expect(line).toBeDefined();
      const { pii, ...rest } = line;
      expect(JSON.stringify(rest)).not.toContain("4155550100");
      expect(pii?.detail).toBeDefined();
    } finally {
      s.close();
      t.close();
    }
  });
});
