import { describe, expect, test } from "bun:test";
import { grantedExpires } from "../../src/sip/ua/registration.ts";
import { parseMessage, type SipResponse } from "../../src/sip/index.ts";
import { loadConfig } from "../../src/cli/config.ts";

const ok = (extra: string) =>
  parseMessage(
    `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:a@h>;tag=2\r\nCall-ID: c\r\nCSeq: 2 REGISTER\r\n${extra}Content-Length: 0\r\n\r\n`,
  ) as SipResponse;

describe("REGISTER 200: the lifetime granted (RFC 3261 §10.2.4)", () => {
  test("our Contact's expires wins over the Expires header and over other bindings", () => {
    const r = ok("Contact: <sip:other@10.0.0.1:5060>;expires=3600, <sip:127.0.0.1:5080>;expires=120\r\nExpires: 600\r\n");
    expect(grantedExpires(r, "<sip:127.0.0.1:5080>")).toBe(120);
    expect(grantedExpires(ok("Expires: 600\r\n"), "<sip:127.0.0.1:5080>")).toBe(600);
    expect(grantedExpires(ok(""), "<sip:127.0.0.1:5080>")).toBeUndefined();
  });
});

describe("SIP_REGISTRAR configuration", () => {
  test("host[:port] with SIP_USERNAME; errors name the variable", () => {
    const c = loadConfig({ SIP_REGISTRAR: "pbx.example.com:5070", SIP_USERNAME: "agent", SIP_PASSWORD: "x" });
    expect(c.register).toEqual({ host: "pbx.example.com", port: 5070, aor: "sip:agent@pbx.example.com", expiresS: 600 });
    expect(loadConfig({}).register).toBeUndefined();
    expect(() => loadConfig({ SIP_REGISTRAR: "pbx.example.com" })).toThrow(/SIP_USERNAME/);
    expect(() => loadConfig({ SIP_REGISTRAR: "bad host" })).toThrow(/SIP_REGISTRAR/);
    expect(() => loadConfig({ SIP_REGISTRAR: "h", SIP_USERNAME: "a", SIP_PASSWORD: "x", SIP_REGISTER_EXPIRES: "5" })).toThrow(/SIP_REGISTER_EXPIRES/);
  });
});
