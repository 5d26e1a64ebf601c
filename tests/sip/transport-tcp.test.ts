/**
 * SIP over TCP (RFC 3261 §18.3 framing, §18.2.2 responses on the connection, §18.1.1 large requests
 * over TCP with UDP fallback) through real sockets on 127.0.0.1.
 */
import { afterEach, expect, test } from "bun:test";
import { Headers, SipRequest, buildResponse, parseMessage, type SipMessage, type SipRequest as Req } from "../../src/sip/message/index.ts";
import { MultiTransport, StreamTransport, UdpTransport, sipRefusedTotals } from "../../src/sip/transport/index.ts";
import { InviteClientTransaction } from "../../src/sip/transaction/index.ts";
import { SystemClock } from "../../src/util/clock.ts";
import { freeTcpPort } from "../support/ports.ts";
import { TRUNK_INVITE, TRUNK_OPTIONS } from "./fixtures.ts";

const cleanup: Array<() => void> = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

/**
 * UDP and TCP on one port number, as the agent listens. The UDP port is the kernel's pick; its number may
 * be held on TCP by another process's connection (an ephemeral local port), so a taken one is retried.
 */
async function bindBoth(limits?: { messageDeadlineMs?: number; perSource?: number }): Promise<{ udp: UdpTransport; tcp: StreamTransport }> {
  for (let attempt = 1; ; attempt++) {
    const udp = await UdpTransport.bind({ host: "127.0.0.1", port: 0 });
    try {
      return { udp, tcp: await StreamTransport.listen({ host: "127.0.0.1", port: udp.local.port, limits }) };
    } catch (err) {
      udp.close();
      if (attempt >= 20) throw err;
    }
  }
}

async function setup() {
  const { udp, tcp } = await bindBoth();
  const multi = new MultiTransport(udp, [tcp]);
  cleanup.push(() => multi.close());
  const got: Array<{ m: SipMessage; port: number }> = [];
  multi.delegate = { onMessage: (m, source) => got.push({ m, port: source.port }) };
  return { udp, tcp, multi, got };
}

async function client(port: number) {
  let text = "";
  const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data: (_s, d) => void (text += new TextDecoder().decode(d)) } });
  cleanup.push(() => s.end());
  return { s, local: (s as unknown as { localPort: number }).localPort, text: () => text };
}

const until = async (f: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await Bun.sleep(10);
};

test("framing: two messages in one segment, one split mid-body, CRLF keep-alives between: each delivered whole", async () => {
  const { tcp, got } = await setup();
  const c = await client(tcp.local.port);
  c.s.write(`\r\n\r\n${TRUNK_OPTIONS}${TRUNK_INVITE.slice(0, 700)}`);
  await Bun.sleep(50);
  c.s.write(`${TRUNK_INVITE.slice(700)}\r\n\r\n`);
  await until(() => got.length === 2);
  expect(got.map((g) => (g.m as Req).method)).toEqual(["OPTIONS", "INVITE"]);
  expect(got[1]!.m.bodyText).toBe((parseMessage(TRUNK_INVITE) as Req).bodyText);
  expect(got[0]!.port).toBe(c.local);
  // §18.2.1: the top Via was stamped with the connection's source.
  expect(got[0]!.m.headers.get("Via")).toContain("received=127.0.0.1");
});

test("bare-LF header sections and a Content-Length folded after its colon frame like CRLF ones: 4 pipelined, 4 delivered, the connection kept", async () => {
  // Session 20 (fresheyes): the framer looked for CRLFCRLF only while the parser accepts LF LF, so a
  // bare-LF message swallowed the next one as its body; "Content-Length:" CRLF SP "0" (§25.1 LWS after
  // HCOLON) was not read, so the message was answered and the connection closed.
  const { tcp, got } = await setup();
  const c = await client(tcp.local.port);
  const opt = (cseq: number) => TRUNK_OPTIONS.replace("CSeq: 10 OPTIONS", `CSeq: ${cseq} OPTIONS`);
  const lfOnly = (t: string) => t.replaceAll("\r\n", "\n");
  c.s.write(lfOnly(opt(1)) + "\n" + lfOnly(opt(2)) + opt(3).replace("Content-Length: 0", "Content-Length:\r\n 0") + opt(4));
  await until(() => got.length === 4);
  expect(got.map((g) => g.m.headers.get("CSeq"))).toEqual(["1 OPTIONS", "2 OPTIONS", "3 OPTIONS", "4 OPTIONS"]);
  await Bun.sleep(50);
  expect(tcp.connections).toBe(1);
});

test("a Content-Length whose digits a fold splits is not 1*DIGIT: 400 naming it, then the connection closes", async () => {
  const { tcp, got } = await setup();
  const c = await client(tcp.local.port);
  c.s.write(TRUNK_OPTIONS.replace("Content-Length: 0", "Content-Length: 1\r\n 0") + TRUNK_OPTIONS);
  await until(() => c.text().includes("\r\n\r\n") && tcp.connections === 0);
  expect(c.text()).toMatch(/^SIP\/2\.0 400 Bad Request\r\n/);
  expect(c.text()).toMatch(/^Warning: 399 - ".*Content-Length/im);
  expect(got).toHaveLength(0);
  expect(tcp.connections).toBe(0);
});

test("a response goes back over the connection the request came on (§18.2.2), not over UDP", async () => {
  const { tcp, multi, got } = await setup();
  const c = await client(tcp.local.port);
  const req = TRUNK_OPTIONS.replace(/Via: SIP\/2\.0\/UDP [^\r\n]+/, `Via: SIP/2.0/TCP 192.0.2.7:5060;branch=z9hG4bKtcp1;rport`);
  c.s.write(req);
  await until(() => got.length === 1);
  multi.sendResponse(buildResponse(got[0]!.m as Req, 200, { toTag: "x" }));
  await until(() => c.text().length > 0);
  expect(c.text()).toMatch(/^SIP\/2\.0 200 OK\r\n/);
  expect(c.text()).toMatch(/CSeq: \d+ OPTIONS/);
});

test("…also when the Via has no rport: its sent-by port (the client's listening port) is not the connection's", async () => {
  // Asterisk, Kamailio and SBCs over TCP/TLS often send `Via: SIP/2.0/TCP <their address>:5060;branch=…`
  // from an ephemeral port, without rport: the response went out over UDP to sent-by instead.
  const { tcp, multi, got } = await setup();
  for (const via of ["SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKtcp2", "SIP/2.0/TCP 192.0.2.7:5060;branch=z9hG4bKtcp3"]) {
    const c = await client(tcp.local.port);
    c.s.write(TRUNK_OPTIONS.replace(/Via: SIP\/2\.0\/UDP [^\r\n]+/, `Via: ${via}`));
    await until(() => got.length === 1);
    const req = got.pop()!.m as Req;
    expect(req.headers.get("Via")).toBe(`${via};rport=${c.local};received=127.0.0.1`);
    multi.sendResponse(buildResponse(req, 200, { toTag: "x" }));
    await until(() => c.text().length > 0);
    expect(c.text()).toMatch(/^SIP\/2\.0 200 OK\r\n/);
  }
});

test("a request without Content-Length (§18.3 MUST on streams) → 400 naming it, then the connection closes; nothing delivered", async () => {
  // The bytes of session 19's tcpframe.py probe: an INVITE with a body and no Content-Length, then an
  // OPTIONS on the same connection. Before, the body was taken as empty and its SDP lines parsed as the
  // next message.
  const { tcp, got } = await setup();
  const c = await client(tcp.local.port);
  const invite = TRUNK_INVITE.replace(/Content-Length: \d+\r\n/, "");
  expect(invite).not.toMatch(/Content-Length|\r\nl:/i);
  c.s.write(invite + TRUNK_OPTIONS);
  await until(() => c.text().includes("\r\n\r\n") && tcp.connections === 0);
  expect(c.text()).toMatch(/^SIP\/2\.0 400 Bad Request\r\n/);
  expect(c.text()).toContain('Warning: 399 - "content_length: no Content-Length on a stream transport (RFC 3261 section 18.3 MUST)"');
  expect(c.text()).toMatch(/CSeq: \d+ INVITE/);
  expect(c.text().match(/^SIP\/2\.0 /gm)).toHaveLength(1); // the OPTIONS after it was not framed
  expect(got).toHaveLength(0);
  expect(tcp.connections).toBe(0);
});

test("a header block over 16 KB (no end in sight) closes the connection; nothing is delivered", async () => {
  const { tcp, got } = await setup();
  const before = sipRefusedTotals.oversize_dropped;
  const c = await client(tcp.local.port);
  c.s.write(`OPTIONS sip:a@b SIP/2.0\r\nX: ${"a".repeat(17_000)}`);
  await Bun.sleep(200);
  c.s.write("\r\n\r\n");
  await Bun.sleep(100);
  expect(got).toHaveLength(0);
  expect(tcp.connections).toBe(0);
  expect(sipRefusedTotals.oversize_dropped - before).toBe(1); // voice_agent_sip_refused_total{reason="oversize_dropped"}
});

test("a request over 1300 bytes to a TCP-listening peer goes over TCP with Via TCP; to a peer without TCP, over UDP", async () => {
  const { multi } = await setup();
  const big = parseMessage(TRUNK_INVITE.replace("Max-Forwards: 68", `Max-Forwards: 68\r\nX-Pad: ${"p".repeat(1500)}`)) as Req;
  // A peer listening on TCP.
  let received = "";
  const peer = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void (received += new TextDecoder().decode(d)) } });
  cleanup.push(() => peer.stop(true));
  multi.send(big.clone(), { host: "127.0.0.1", port: peer.port });
  await until(() => received.includes("X-Pad"));
  expect(received).toMatch(/^INVITE /);
  expect(received).toMatch(/\r\nVia: SIP\/2\.0\/TCP /);
  // A peer on UDP only: the TCP connect is refused, the request goes as a datagram.
  let datagram = "";
  const port = await freeTcpPort();
  const u = await Bun.udpSocket({ hostname: "127.0.0.1", port, socket: { data: (_s, d) => void (datagram = new TextDecoder().decode(d)) } });
  cleanup.push(() => u.close());
  multi.send(big.clone(), { host: "127.0.0.1", port });
  await until(() => datagram.length > 0);
  expect(datagram).toMatch(/\r\nVia: SIP\/2\.0\/UDP /);
  void Headers;
  void SipRequest;
});

test("a request on a new TCP connection (over 1300 bytes) is sent once: no Timer A copies on the stream (§17.1.1.2)", async () => {
  // Session 19's carrier engineer saw the INVITE repeated at 0.5 and 1.5 s on the TCP connection.
  const { multi } = await setup();
  const big = parseMessage(TRUNK_INVITE.replace("Max-Forwards: 68", `Max-Forwards: 68\r\nX-Pad: ${"p".repeat(1500)}`)) as Req;
  let received = "";
  const peer = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void (received += new TextDecoder().decode(d)) } });
  cleanup.push(() => peer.stop(true));
  const tx = new InviteClientTransaction("k", big, { host: "127.0.0.1", port: peer.port }, multi, new SystemClock(), { onResponse: () => {} });
  cleanup.push(() => tx.dispose());
  tx.start();
  await Bun.sleep(1700); // past Timer A's first two firings (0.5 s, 1.5 s)
  expect(received.match(/^INVITE /gm)).toHaveLength(1);
  expect(received).toMatch(/\r\nVia: SIP\/2\.0\/TCP /);
});

test("inbound connections are bounded per source IP; a closed one frees its place", async () => {
  const { udp, tcp } = await bindBoth({ perSource: 3 });
  cleanup.push(() => (tcp.close(), udp.close()));
  const closed: number[] = [];
  const open = async (i: number) => {
    const s = await Bun.connect({ hostname: "127.0.0.1", port: tcp.local.port, socket: { data: () => {}, close: () => void closed.push(i) } });
    cleanup.push(() => s.end());
    return s;
  };
  const before = sipRefusedTotals.tcp_connection_limit;
  const first = [await open(0), await open(1), await open(2)];
  await until(() => tcp.connections === 3);
  await open(3);
  await until(() => closed.includes(3));
  expect(closed).toEqual([3]);
  expect(tcp.connections).toBe(3);
  first[0]!.end();
  await until(() => tcp.connections === 2);
  await open(4);
  await until(() => tcp.connections === 3);
  await Bun.sleep(100);
  expect(closed.sort()).toEqual([0, 3]);
  expect(sipRefusedTotals.tcp_connection_limit - before).toBe(1); // voice_agent_sip_refused_total{reason="tcp_connection_limit"}
});

test("a connection whose message never completes (slow or silent) is closed at the deadline; one that delivered stays", async () => {
  const { udp, tcp } = await bindBoth({ messageDeadlineMs: 1000 }); // a taken TCP port number is retried (EADDRINUSE in batch runs)
  cleanup.push(() => (tcp.close(), udp.close()));
  const got: SipMessage[] = [];
  tcp.onMessage = (m) => got.push(m);
  const closed = new Set<string>();
  const open = async (name: string) => {
    const s = await Bun.connect({ hostname: "127.0.0.1", port: tcp.local.port, socket: { data: () => {}, close: () => void closed.add(name) } });
    cleanup.push(() => s.end());
    return s;
  };
  const before = sipRefusedTotals.tcp_message_timeout;
  const silent = await open("silent");
  const slow = await open("slow");
  const good = await open("good");
  good.write(TRUNK_OPTIONS);
  slow.write(TRUNK_INVITE.slice(0, 40));
  // The slow one keeps trickling bytes (bytes do not reset the deadline: the message as a whole is late).
  for (let i = 0; i < 20 && !closed.has("slow"); i++) {
    await Bun.sleep(150);
    slow.write("X");
  }
  await until(() => closed.has("silent") && closed.has("slow"), 3000);
  expect([...closed].sort()).toEqual(["silent", "slow"]);
  expect(got).toHaveLength(1);
  expect(tcp.connections).toBe(1);
  expect(sipRefusedTotals.tcp_message_timeout - before).toBe(2); // voice_agent_sip_refused_total{reason="tcp_message_timeout"}
  void silent;
});
