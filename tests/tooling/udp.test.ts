/**
 * Raw UDP exchange and status-line parsing, against the stand-in UAS and a closed port.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { udpExchange, parseSipStatusLine, sipHeader } from "../support/udp.ts";
import { freeUdpPort } from "../support/ports.ts";
import { StandinUas } from "./standin-uas.ts";

let uas: StandinUas;
afterAll(() => uas?.stop());

const options = (port: number, local: number) =>
  [
    `OPTIONS sip:agent@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-raw-1`,
    "From: <sip:raw@127.0.0.1>;tag=raw1",
    `To: <sip:agent@127.0.0.1:${port}>`,
    "Call-ID: raw-udp-1@127.0.0.1",
    "CSeq: 1 OPTIONS",
    "Max-Forwards: 70",
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");

describe("udpExchange", () => {
  test("a hand-written OPTIONS gets 200 with Allow", async () => {
    uas = await new StandinUas().start();
    const local = await freeUdpPort();
    const r = await udpExchange({ target: { port: uas.sipPort }, payload: options(uas.sipPort, local), localPort: local, timeoutMs: 2000 });
    expect(r.replies.length).toBe(1);
    expect(r.localPort).toBe(local);
    expect(r.replies[0]!.from).toEqual({ address: "127.0.0.1", port: uas.sipPort });
    expect(parseSipStatusLine(r.replies[0]!.text)).toEqual({ version: "SIP/2.0", code: 200, reason: "OK" });
    expect(sipHeader(r.replies[0]!.text, "allow")).toContain("INVITE");
    expect(sipHeader(r.replies[0]!.text, "CSeq")).toBe("1 OPTIONS");
    expect(r.replies[0]!.atMs).toBeLessThan(2000);
  });

  test("garbage gets no reply: resolves empty after timeoutMs", async () => {
    const t0 = performance.now();
    const r = await udpExchange({ target: { port: uas.sipPort }, payload: [new Uint8Array([0, 1, 2, 255]), "\r\n\r\n", "INVITE"], timeoutMs: 300 });
    expect(r.replies).toEqual([]);
    expect(r.refused).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
  });

  test("a closed port is reported as refused (ICMP port unreachable)", async () => {
    const port = await freeUdpPort();
    const r = await udpExchange({ target: { port }, payload: "hello", timeoutMs: 300 });
    expect(r.replies).toEqual([]);
    expect(r.refused).toBe(true);
  });
});

describe("parseSipStatusLine / sipHeader", () => {
  const cases: Array<[string, ReturnType<typeof parseSipStatusLine>]> = [
    ["SIP/2.0 481 Call/Transaction Does Not Exist\r\nVia: x\r\n\r\n", { version: "SIP/2.0", code: 481, reason: "Call/Transaction Does Not Exist" }],
    ["SIP/2.0 200 OK", { version: "SIP/2.0", code: 200, reason: "OK" }],
    ["SIP/2.0 180 \r\n", { version: "SIP/2.0", code: 180, reason: "" }],
    ["SIP/2.0 099 Too low\r\n", null],
    ["SIP/2.0 700 Too high\r\n", null],
    ["INVITE sip:a@b SIP/2.0\r\n", null],
    ["HTTP/1.1 200 OK\r\n", null],
    ["", null],
  ];
  for (const [input, want] of cases) test(`status line of ${JSON.stringify(input.slice(0, 24))}`, () => expect(parseSipStatusLine(input)).toEqual(want));

  test("sipHeader reads only the header part", () => {
    const msg = "SIP/2.0 200 OK\r\nContent-Type: application/sdp\r\nAllow: INVITE, BYE\r\n\r\nAllow: not-a-header\r\n";
    expect(sipHeader(msg, "ALLOW")).toBe("INVITE, BYE");
    expect(sipHeader(msg, "Supported")).toBeUndefined();
  });
});
