/**
 * Inbound call set-up (src/call/inbound.ts) on a fake clock: media and providers start on the ACK, not
 * when our 2xx leaves; an INVITE never ACKed costs only the 2xx retransmissions and its port returns at
 * Timer H (64·T1) exactly; every path out of set-up (CANCEL at each await, a failing prompt read, a
 * provider that fails to open) releases the port and the provider sessions.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { FakeLlm, FakeStt, FakeTts } from "../../src/providers/fake";
import { ProviderError } from "../../src/providers/types";
import { RtpPortPoolError } from "../../src/rtp/errors.ts";
import { createLogger } from "../../src/util/log";
import { cancelFor, countingVad, inboundHarness, invite, settle, T1 } from "./support.ts";

type H = Awaited<ReturnType<typeof inboundHarness>>;
let h: H | undefined;
afterEach(() => {
  h?.dispose();
  h = undefined;
});

describe("media and providers start on the ACK", () => {
  test("an INVITE never ACKed: 2xx retransmitted, no STT/LLM/TTS session nor VAD stream, port back in the pool at Timer H exactly", async () => {
    const vad = countingVad();
    h = await inboundHarness({ vad });
    const inv = invite(9);
    h.send(inv);
    await settle(); // port bound, prompt read, 200 sent at t = 0
    expect(h.finals(inv)).toEqual([200]);
    expect(h.pool.inUse).toBe(1);
    const t0 = h.times("200 INVITE")[0]!;
    h.clock.advance(64 * T1 - 1 - (h.clock.now() - t0));
    expect(h.pool.inUse).toBe(1);
    expect(h.inbound.size).toBe(1);
    expect(h.times("200 INVITE").length).toBeGreaterThan(5); // T1, 2T1 … capped at T2 (§13.3.1.4)
    h.clock.advance(1); // 64·T1 after the first 200: Timer H
    expect(h.pool.inUse).toBe(0);
    expect(h.inbound.size).toBe(0);
    // §13.3.1.4: "the dialog is confirmed, but the session SHOULD be terminated. This is accomplished with a BYE".
    expect(h.requests("BYE")).toHaveLength(1);
    const stt = h.stt as FakeStt;
    const tts = h.tts as FakeTts;
    expect(stt.streams).toHaveLength(0);
    expect(tts.contexts).toHaveLength(0);
    expect((h.llm as any).requests).toHaveLength(0);
    expect(vad.created).toBe(0);
    expect(h.observer.events).toEqual(["started inbound", "ended no_ack"]);
  });

  test("the ACK starts them: STT opened, VAD streams made, the greeting generated and synthesised, record connected", async () => {
    const vad = countingVad();
    let prepared = 0;
    const llm = Object.assign(new FakeLlm({ replies: ["Hello, how can I help?"] }), { prepare: () => void prepared++ });
    h = await inboundHarness({ vad, llm });
    const inv = invite(11);
    h.send(inv);
    await settle();
    // The LLM's connection is opened while the call is set up (before the ACK): the greeting needs no handshake.
    expect(prepared).toBe(1);
    expect(llm.requests).toHaveLength(0);
    expect((h.stt as FakeStt).streams).toHaveLength(0);
    expect(vad.created).toBe(0);
    h.ack(inv);
    await settle();
    expect((h.stt as FakeStt).streams).toHaveLength(1);
    expect(vad.created).toBe(2); // the detector's stream and its barge-in confirmation stream
    expect((h.llm as any).requests).toHaveLength(1);
    expect((h.tts as FakeTts).contexts.length).toBeGreaterThan(0);
    expect(h.observer.events.slice(0, 2)).toEqual(["started inbound", "answered connected"]);
    h.bye(inv);
    expect(h.pool.inUse).toBe(0);
    expect((h.stt as FakeStt).streams[0]!.closed).toBe(true);
    expect(h.observer.events.at(-1)).toBe("ended remote_bye");
    expect(h.observer.events).toContain("rtp-stats");
  });
});

describe("every path out of set-up releases what it took", () => {
  test("CANCEL while the port is being bound: 487, the port released as soon as it arrives, no 200", async () => {
    h = await inboundHarness({ gateAllocation: true });
    const inv = invite(13);
    h.send(inv);
    await settle();
    h.send(cancelFor(inv));
    expect(h.finals(inv)).toEqual([487]);
    h.allocations[0]!.open();
    await settle();
    expect(h.leases).toHaveLength(1);
    expect(h.leases[0]!.released).toBe(true);
    expect(h.pool.inUse).toBe(0);
    expect(h.finals(inv)).toEqual([487]);
    expect(h.observer.events).toEqual(["started inbound", "ended canceled"]);
  });

  test("CANCEL while the prompt is being read: 487, the port released at once, nothing sent after", async () => {
    let release!: (s: string) => void;
    h = await inboundHarness({ prompt: () => new Promise<string>((r) => (release = r)) });
    const inv = invite(15);
    h.send(inv);
    await settle();
    expect(h.pool.inUse).toBe(1);
    h.send(cancelFor(inv));
    expect(h.finals(inv)).toEqual([487]);
    expect(h.pool.inUse).toBe(0);
    release("late prompt");
    await settle();
    expect(h.finals(inv)).toEqual([487]);
    expect(h.observer.events).toEqual(["started inbound", "ended canceled"]);
  });

  test("a failing prompt read: 500, port released, reason error", async () => {
    h = await inboundHarness({ prompt: async () => Promise.reject(new Error("EACCES: prompt file unreadable")) });
    const inv = invite(17);
    h.send(inv);
    await settle();
    expect(h.finals(inv)).toEqual([500]);
    expect(h.pool.inUse).toBe(0);
    expect(h.inbound.size).toBe(0);
    expect(h.observer.events).toEqual(["started inbound", "ended error"]);
  });

  test("an STT that fails to open (and its fallback): the call goes on with the greeting; its BYE releases the port", async () => {
    const down = new ProviderError("fake-stt", "stt", "unavailable", "connection refused", true);
    const tts = new FakeTts();
    h = await inboundHarness({ stt: new FakeStt({ openError: down }), tts });
    const inv = invite(19);
    h.send(inv);
    await settle();
    h.ack(inv);
    await settle();
    expect(h.observer.events).toContain("provider-error");
    expect(tts.contexts.length).toBeGreaterThan(0);
    expect(h.inbound.size).toBe(1);
    h.bye(inv);
    expect(h.pool.inUse).toBe(0);
    expect(h.observer.events.at(-1)).toBe("ended remote_bye");
  });

  test("an STT that fails to open with a fallback that opens: the record names the fallback, persisted at once", async () => {
    const down = new ProviderError("fake-stt", "stt", "unavailable", "connection refused", true);
    const offline = new FakeStt({}, "offline-stt");
    h = await inboundHarness({ stt: new FakeStt({ openError: down }), fallback: { stt: offline } });
    const inv = invite(25);
    h.send(inv);
    await settle();
    h.ack(inv);
    await settle();
    expect(offline.streams).toHaveLength(1);
    // Persisted when the switch happened, before any turn (src/call/session.ts reportProviders).
    expect(h.observer.events).toContain("updated stt=offline-stt (fallback)");
    expect(h.observer.events.filter((e) => e.startsWith("turn"))).toEqual([]);
    h.bye(inv);
    expect(h.pool.inUse).toBe(0);
  });
});

describe("no RTP port at set-up", () => {
  test("no file descriptor left (EMFILE) → 503 + Retry-After: 5 through the INVITE's transaction, not 500; the range leased → Retry-After: 30", async () => {
    for (const [code, retryAfter] of [["no_descriptors", "5"], ["exhausted", "30"]] as const) {
      h = await inboundHarness({ allocateError: () => new RtpPortPoolError(code, `test: ${code}`, true) });
      const inv = invite(20200);
      h.send(inv);
      await settle();
      expect(h.finals(inv)).toEqual([503]);
      const res = h.responses(503).find((r) => r.callId === inv.callId)!;
      expect(res.headers.get("Retry-After")).toBe(retryAfter);
      expect(h.inbound.size).toBe(0);
    }
  });
});

describe("screening before any transaction (what a carrier SBC does)", () => {
  const statelessRefusals = (x: H) => x.transport.sent.filter((r) => r.message.kind === "response" && r.message.status === 503);
  test("a source at its limit of unconfirmed calls: the next INVITE gets 503 + Retry-After + Warning statelessly, no 100, no transaction", async () => {
    h = await inboundHarness({ capacity: 6 }); // pendingLimitPerSource(10, 6) = 3 (the pool has ports for 4 calls)
    const pending = [1, 2, 3].map((n) => invite(20000 + n * 2));
    for (const inv of pending) h.send(inv);
    await settle();
    for (const inv of pending) expect(h.finals(inv)).toEqual([200]);
    const transactions = h.ua.layer.size;
    const extra = invite(20100);
    h.send(extra);
    expect(h.finals(extra)).toEqual([503]);
    const res = statelessRefusals(h)[0]!.message as import("../../src/sip").SipResponse;
    expect(res.headers.get("Retry-After")).toBe("5");
    expect(res.headers.get("Warning")).toContain("too many unconfirmed calls from this source (limit 3)");
    expect(h.transport.sent.filter((r) => r.message.kind === "response" && r.message.callId === extra.callId).map((r) => (r.message as import("../../src/sip").SipResponse).status)).toEqual([503]);
    expect(h.ua.layer.size).toBe(transactions);
    expect(h.inbound.size).toBe(3);
    expect(h.observer.events.filter((e) => e.startsWith("refused"))).toEqual(["refused inbound pending_limit"]); // not "busy": the agent is not full
    // Once one of them is confirmed by its ACK, the source may offer another call.
    h.ack(pending[0]!);
    await settle();
    const next = invite(20102);
    h.send(next);
    await settle();
    expect(h.finals(next)).toEqual([200]);
  });

  test("the agent full (MAX_CALLS): 503 + Retry-After 30 statelessly; never resent (no Timer G), nothing held", async () => {
    h = await inboundHarness({ capacity: 2 }); // one unconfirmed call per source, two calls in all
    const first = invite(20200);
    h.send(first);
    await settle();
    h.ack(first);
    await settle();
    const second = invite(20202);
    h.send(second);
    await settle();
    h.ack(second);
    await settle();
    expect(h.inbound.size).toBe(2);
    const third = invite(20204);
    h.send(third);
    h.clock.advance(64 * T1);
    expect(h.finals(third)).toEqual([503]);
    expect((statelessRefusals(h)[0]!.message as import("../../src/sip").SipResponse).headers.get("Retry-After")).toBe("30");
    expect(h.inbound.size).toBe(2);
    expect(h.pool.inUse).toBe(2);
  });
});

describe("the log pairs every \"call offered\" with a \"call ended\"", () => {
  test("an INVITE refused for its offer (no common codec): 488, then \"call ended\" (reason rejected) for the same call", async () => {
    const lines: any[] = [];
    h = await inboundHarness({ log: createLogger({ level: "info", destination: { write: (s: string) => void lines.push(JSON.parse(s)) } as never }) });
    const g722 = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 20300 RTP/AVP 9", "a=rtpmap:9 G722/8000", ""];
    const refused = invite(20300, g722.join("\r\n"));
    h.send(refused);
    await settle();
    expect(h.finals(refused)).toEqual([488]);
    const offered = lines.filter((l) => l.msg === "call offered");
    const ended = lines.filter((l) => l.msg === "call ended");
    expect(offered).toHaveLength(1);
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ callId: offered[0].callId, reason: "rejected", turns: 0 });
    // An answered call's pair, for comparison: one more of each.
    const ok = invite(20302);
    h.send(ok);
    await settle();
    h.ack(ok);
    await settle();
    h.bye(ok);
    await settle();
    expect(lines.filter((l) => l.msg === "call offered")).toHaveLength(2);
    expect(lines.filter((l) => l.msg === "call ended").map((l) => l.reason)).toEqual(["rejected", "remote_bye"]);
  });
});
