/**
 * The malformed-SIP fixtures are well-formed as fixtures: unique names, answerable cases carry a Via
 * back to the sender, and each goes over the wire through udpExchange.
 */
import { describe, expect, test } from "bun:test";
import { MALFORMED_CASES } from "../fixtures/sip-malformed.ts";
import { udpExchange, sipHeader } from "../support/udp.ts";

const P = { host: "127.0.0.1", port: 5060, local: 40000 };

describe("MALFORMED_CASES", () => {
  test("names are unique and every case cites its source", () => {
    const names = MALFORMED_CASES.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const c of MALFORMED_CASES) expect(c.ref).toMatch(/RFC \d+ §/);
  });

  for (const c of MALFORMED_CASES) {
    test(`${c.name}: ${c.expect === "no-reply" ? "unanswerable" : `answerable (${c.expect.status})`}`, () => {
      const b = c.build(P);
      const text = typeof b === "string" ? b : new TextDecoder().decode(b);
      expect(text.length).toBeLessThan(1300);
      if (c.expect !== "no-reply") {
        expect(text).toMatch(/^[A-Z]+ sip:\S+ SIP\/\d\.\d\r\n/);
        expect(sipHeader(text, "Via")).toContain(`127.0.0.1:${P.local};branch=z9hG4bK-`);
      } else {
        expect(sipHeader(text, "Via")).toBeUndefined();
      }
    });
  }

  test("each case can be sent as one datagram (empty included)", async () => {
    const sink = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data: () => void got++ } });
    let got = 0;
    for (const c of MALFORMED_CASES) await udpExchange({ target: { port: sink.port }, payload: c.build({ ...P, port: sink.port }), timeoutMs: 5 });
    await Bun.sleep(50);
    sink.close();
    expect(got).toBe(MALFORMED_CASES.length);
  });
});
