/**
 * One message size limit for UDP and TCP (src/sip/transport/oversize.ts): 16 KB of headers, 64 KB of
 * body; a request over it gets a stateless 513 Message Too Large (RFC 3261 §21.5.14) when it carries
 * what a response copies, else it is dropped; counted in voice_agent_sip_refused_total{reason}.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { parseMessage, type SipMessage } from "../../src/sip/message/index.ts";
import { MAX_HEADER_BYTES, oversizeOf, tooLargeResponse } from "../../src/sip/transport/oversize.ts";
import { StreamTransport, UdpTransport, sipRefusedTotals } from "../../src/sip/transport/index.ts";
import { TRUNK_INVITE, TRUNK_SDP, wire } from "./fixtures.ts";

const enc = new TextEncoder();
const src = { host: "127.0.0.1", port: 5099 };
/** TRUNK_INVITE with an X-Pad header of `pad` bytes inserted after the request line. */
const padded = (pad: number) => TRUNK_INVITE.replace("\r\n", `\r\nX-Pad: ${"a".repeat(pad)}\r\n`);

const cleanup: Array<() => void> = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

describe("oversizeOf / tooLargeResponse", () => {
  test("within the limit → undefined; 60 KB of headers → headers; the 513 copies Via, From, To, Call-ID, CSeq", () => {
    expect(oversizeOf(enc.encode(TRUNK_INVITE))).toBeUndefined();
    expect(oversizeOf(enc.encode(padded(MAX_HEADER_BYTES - 2000)))).toBeUndefined();
    const big = enc.encode(padded(60_000));
    expect(oversizeOf(big)).toBe("headers");
    const r = tooLargeResponse(big, src)!;
    expect(r.status).toBe(513);
    expect(r.headers.get("Call-ID")).toBe("4c5b0b5e-ab7e-123a-9a5b-0242ac110002");
    expect(r.headers.get("CSeq")).toBe("102 INVITE");
    expect(r.headers.getAll("Via")).toHaveLength(2);
    expect(r.headers.get("Via")).toContain("received=127.0.0.1");
    expect(r.headers.get("To")).toMatch(/;tag=[0-9a-f]{16}/);
    // Stateless (§8.2.7): the same request gets the same To tag.
    expect(tooLargeResponse(big, src)!.headers.get("To")).toBe(r.headers.get("To"));
  });

  test("a response, an ACK, or a request without Call-ID is not answered", () => {
    expect(tooLargeResponse(enc.encode(`SIP/2.0 200 OK\r\nX-Pad: ${"a".repeat(20_000)}\r\n\r\n`), src)).toBeUndefined();
    expect(tooLargeResponse(enc.encode(padded(20_000).replace(/^INVITE/, "ACK").replace("102 INVITE", "102 ACK")), src)).toBeUndefined();
    expect(tooLargeResponse(enc.encode(padded(20_000).replace(/^Call-ID:.*\r\n/m, "")), src)).toBeUndefined();
  });
});

describe("the limit on real sockets", () => {
  test("UDP: a 60 KB INVITE is answered 513 statelessly (no 100, never delivered) and counted", async () => {
    const udp = await UdpTransport.bind({ host: "127.0.0.1", port: 0 });
    cleanup.push(() => udp.close());
    const got: SipMessage[] = [];
    udp.delegate = { onMessage: (m) => got.push(m) };
    const answers: string[] = [];
    const peer = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void answers.push(new TextDecoder().decode(d)) } });
    cleanup.push(() => peer.close());
    const before = { ...sipRefusedTotals };
    peer.send(padded(60_000), udp.local.port, "127.0.0.1");
    peer.send(`SIP/2.0 200 OK\r\nX-Pad: ${"a".repeat(20_000)}\r\n\r\n`, udp.local.port, "127.0.0.1");
    for (let i = 0; i < 100 && sipRefusedTotals.oversize_dropped === before.oversize_dropped; i++) await Bun.sleep(20);
    await Bun.sleep(100);
    expect(answers.map((a) => a.split("\r\n")[0])).toEqual(["SIP/2.0 513 Message Too Large"]);
    expect(got).toHaveLength(0);
    expect(sipRefusedTotals.oversize_rejected - before.oversize_rejected).toBe(1);
    expect(sipRefusedTotals.oversize_dropped - before.oversize_dropped).toBe(1);
    expect(udp.stats.oversize).toBe(2);
  });

  test("TCP: a body over 64 KB gets 513 and the connection closes; headers over 16 KB in one segment close it too", async () => {
    const tcp = await StreamTransport.listen({ host: "127.0.0.1", port: 0 });
    cleanup.push(() => tcp.close());
    const got: SipMessage[] = [];
    tcp.onMessage = (m) => got.push(m);
    const before = { ...sipRefusedTotals };
    const open = async () => {
      const s = { text: "", closed: false };
      const sock = await Bun.connect({
        hostname: "127.0.0.1",
        port: tcp.local.port,
        socket: { data: (_s, d) => void (s.text += new TextDecoder().decode(d)), close: () => void (s.closed = true) },
      });
      cleanup.push(() => sock.end());
      return { s, sock };
    };
    const a = await open();
    a.sock.write(TRUNK_INVITE.replace(/Content-Length: \d+/, "Content-Length: 70000"));
    const b = await open();
    b.sock.write(wire(padded(20_000).split("\r\n\r\n")[0]!.split("\r\n"), TRUNK_SDP));
    for (let i = 0; i < 150 && !(a.s.closed && b.s.closed); i++) await Bun.sleep(20);
    expect(a.s.closed && b.s.closed).toBe(true);
    expect((parseMessage(enc.encode(a.s.text)) as { status: number }).status).toBe(513);
    expect(b.s.text).toBe("");
    expect(got).toHaveLength(0);
    expect(sipRefusedTotals.oversize_rejected - before.oversize_rejected).toBe(1);
    expect(sipRefusedTotals.oversize_dropped - before.oversize_dropped).toBe(1);
  });

  test("TCP: a 20 KB header after the ones a response copies gets 513 then the close — whole, or cut mid-header across segments", async () => {
    const tcp = await StreamTransport.listen({ host: "127.0.0.1", port: 0 });
    cleanup.push(() => tcp.close());
    const got: SipMessage[] = [];
    tcp.onMessage = (m) => got.push(m);
    const before = { ...sipRefusedTotals };
    const late = (pad: number) => TRUNK_INVITE.replace("\r\nContent-Type:", `\r\nX-Pad: ${"a".repeat(pad)}\r\nContent-Type:`);
    const open = async () => {
      const s = { text: "", closed: false };
      const sock = await Bun.connect({
        hostname: "127.0.0.1",
        port: tcp.local.port,
        socket: { data: (_s, d) => void (s.text += new TextDecoder().decode(d)), close: () => void (s.closed = true) },
      });
      cleanup.push(() => sock.end());
      return { s, sock };
    };
    const whole = await open();
    whole.sock.write(late(20_000)); // header block 20 KB, ended, with its body
    const cut = await open();
    const bytes = late(40_000);
    cut.sock.write(bytes.slice(0, 9000)); // no blank line yet: the header block goes past 16 KB unfinished
    await Bun.sleep(50);
    cut.sock.write(bytes.slice(9000, 25_000));
    for (let i = 0; i < 150 && !(whole.s.closed && cut.s.closed); i++) await Bun.sleep(20);
    expect(whole.s.closed && cut.s.closed).toBe(true);
    for (const c of [whole, cut]) {
      const r = parseMessage(enc.encode(c.s.text)) as { status: number; headers: { get(n: string): string | undefined } };
      expect(r.status).toBe(513);
      expect(r.headers.get("Call-ID")).toBe("4c5b0b5e-ab7e-123a-9a5b-0242ac110002");
      expect(r.headers.get("Warning")).toContain("message larger than 16384 bytes of headers");
    }
    expect(got).toHaveLength(0);
    expect(sipRefusedTotals.oversize_rejected - before.oversize_rejected).toBe(2);
  });
});
