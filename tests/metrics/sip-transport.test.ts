import { describe, expect, test } from "bun:test";
import { createMetrics } from "../../src/metrics/index.ts";
import { instrumentTransport } from "../../src/metrics/sip-transport.ts";
import { MemoryTransport, serializeMessage, UserAgent, type InboundCall } from "../../src/sip/index.ts";
import { FakeClock } from "../../src/util/clock.ts";
import { request } from "../sip/helpers.ts";
import { parseExposition, valueOf } from "./exposition-parser.ts";

const PEER = { host: "198.51.100.7", port: 5060 };

function setup(onInvite: (call: InboundCall) => void = (c) => c.reject(486, "Busy Here")) {
  const metrics = createMetrics({ defaultMetrics: false });
  const inner = new MemoryTransport({ local: { host: "203.0.113.10", port: 5060 } });
  const transport = instrumentTransport(inner, metrics);
  const clock = new FakeClock();
  const ua = new UserAgent({ transport, clock, contact: { host: "203.0.113.10", port: 5060 }, delegate: { onInvite } });
  const deliver = (text: string | Uint8Array) => inner.receive(text, PEER);
  const count = async (name: string, labels: Record<string, string>) => valueOf(parseExposition(await metrics.render()), name, labels);
  return { metrics, inner, transport, clock, ua, deliver, count };
}

describe("instrumentTransport under the real UserAgent", () => {
  test("OPTIONS in, 200 out: both counted; the wrapper is transparent (same bytes on the wire)", async () => {
    const t = setup();
    t.deliver(serializeMessage(request("OPTIONS")));
    expect(t.inner.sent.map((s) => [s.message.kind === "response" ? s.message.status : 0, s.to])).toEqual([[200, PEER]]);
    expect(t.transport.local).toEqual({ host: "203.0.113.10", port: 5060 });
    expect(await t.count("voice_agent_sip_requests_total", { method: "OPTIONS" })).toBe(1);
    expect(await t.count("voice_agent_sip_responses_total", { code: "200", method: "OPTIONS" })).toBe(1);
    t.ua.dispose();
  });

  test("INVITE rejected 486: 100 and 486 counted, the ACK for 486 counted as a request", async () => {
    const t = setup();
    const invite = request("INVITE", { body: "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n" });
    t.deliver(serializeMessage(invite));
    const codes = t.inner.sent.map((s) => (s.message.kind === "response" ? s.message.status : 0));
    expect(codes).toContain(486);
    for (const code of new Set(codes)) {
      expect(await t.count("voice_agent_sip_responses_total", { code: String(code), method: "INVITE" })).toBe(codes.filter((c) => c === code).length);
    }
    // §17.1.1.3: the peer ACKs the non-2xx final response within the same transaction.
    const ack = request("ACK", { toTag: /tag=([^;>\s]+)/.exec(t.inner.sent.at(-1)!.message.headers.get("To")!)![1] });
    t.deliver(serializeMessage(ack));
    expect(await t.count("voice_agent_sip_requests_total", { method: "INVITE" })).toBe(1);
    expect(await t.count("voice_agent_sip_requests_total", { method: "ACK" })).toBe(1);
    t.ua.dispose();
  });

  test("a request retransmission is counted again; the transaction layer answers it from its cache", async () => {
    const t = setup();
    const opt = serializeMessage(request("OPTIONS", { branch: "z9hG4bK-retx" }));
    t.deliver(opt);
    t.deliver(opt);
    expect(await t.count("voice_agent_sip_requests_total", { method: "OPTIONS" })).toBe(2);
    expect(await t.count("voice_agent_sip_responses_total", { code: "200", method: "OPTIONS" })).toBe(t.inner.sent.length);
    t.ua.dispose();
  });

  test("a request the transport rejects by itself (here 505, §21.5.7) is not counted (documented)", async () => {
    const t = setup();
    const bad = new TextDecoder().decode(serializeMessage(request("OPTIONS"))).replace("SIP/2.0\r\n", "SIP/3.0\r\n");
    const r = t.deliver(bad);
    expect(r.kind).toBe("reject");
    expect(t.inner.sent.map((s) => (s.message.kind === "response" ? s.message.status : 0))).toEqual([505]);
    const f = parseExposition(await t.metrics.render());
    expect(f.get("voice_agent_sip_responses_total")!.samples).toEqual([]);
    expect(f.get("voice_agent_sip_requests_total")!.samples).toEqual([]);
    t.ua.dispose();
  });

  test("delegate set on the wrapper is what the wrapper reports; clearing it clears the inner one", () => {
    const t = setup();
    expect(t.transport.delegate).toBeDefined();
    expect(t.inner.delegate).toBeDefined();
    expect(t.inner.delegate).not.toBe(t.transport.delegate);
    t.transport.delegate = undefined;
    expect(t.inner.delegate).toBeUndefined();
    t.transport.close();
    expect(t.inner.closed).toBe(true);
    t.ua.dispose();
  });
});
