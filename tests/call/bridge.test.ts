/**
 * The B2BUA transfer fallback in parts: the frame relay (passthrough, transcoding, each leg's own
 * SSRC/sequence/timestamp on real sockets), the bridge leg's signalling on a real UserAgent (486 → busy,
 * 200 → media, ring timeout → CANCEL, OUTBOUND_ALLOW_PREFIXES), bridgeTransfer's record, the transfer
 * hook falling back only on a refused REFER, and TRANSFER_FALLBACK in the configuration.
 * End to end on the binary: tests/e2e/transfer-bridge.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { FrameRelay, RtpBridge } from "../../src/call/rtp-bridge";
import { BridgeLegs, type DialRequest } from "../../src/call/bridge-leg";
import { RING_TIMEOUT_DRAIN_MAX_MS } from "../../src/sip";
import { bridgeTransfer, passKey, type BridgeableMedia } from "../../src/call/transfer-bridge";
import { DtmfSender } from "../../src/rtp";
import { transferHook } from "../../src/call/transfer";
import { decodeFrame, encodeFrame } from "../../src/media/g711";
import { Pacer, RtpPortPool, RtpSession } from "../../src/rtp";
import { loadConfig } from "../../src/cli/config";
import { silentLogger } from "../../src/util/log";
import { FakeClock } from "../../src/util/clock";
import type { CallObserver } from "../../src/call/observer";
import type { AudioFrame } from "../../src/media/constants";
import type { CallRecord, TransferRecord } from "../../src/pipeline/call-record";
import { freeUdpPortRange } from "../support/ports.ts";
import { rtpReceiver, waitFor } from "../rtp/helpers.ts";
import { harness, reply, TRUNK } from "../sip/ua-harness.ts";

const sine = (hz: number) => Int16Array.from({ length: 160 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * hz * i) / 8000)));
const frameOf = (codec: "PCMU" | "PCMA", pcm = sine(1000)): AudioFrame => ({ pcm, payload: encodeFrame(pcm, codec), codec });

describe("FrameRelay", () => {
  test("same law: the payload passes as it is; the marker only on the first frame sent", () => {
    const sent: Array<{ payload: Uint8Array; marker: boolean }> = [];
    const relay = new FrameRelay({ mediaCodec: "PCMU", sendFrame: (payload, marker) => (sent.push({ payload, marker }), true) });
    const a = frameOf("PCMU");
    const b = frameOf("PCMU", sine(500));
    relay.push(a);
    relay.push(b);
    expect(sent.map((s) => s.marker)).toEqual([true, false]);
    expect(sent[0]!.payload).toBe(a.payload);
    expect(relay).toMatchObject({ forwarded: 2, transcoded: 0 });
  });
  test("μ-law → A-law through PCM, into the relay's own buffer; a frame the leg cannot send is counted", () => {
    const sent: Uint8Array[] = [];
    let accept = false;
    const relay = new FrameRelay({ mediaCodec: "PCMA", sendFrame: (p) => (sent.push(p.slice()), accept) });
    const f = frameOf("PCMU");
    relay.push(f); // on hold: not sent, and the marker waits for the first frame that goes out
    accept = true;
    relay.push(f);
    expect(sent[1]).toEqual(encodeFrame(f.pcm, "PCMA"));
    expect(relay).toMatchObject({ forwarded: 1, transcoded: 2, notSent: 1 });
    relay.stop();
    relay.push(f);
    expect(sent.length).toBe(2);
  });
});

describe("RtpBridge on real sockets", () => {
  test("caller PCMU → target PCMA: re-sent with the target leg's SSRC, consecutive sequence and timestamps", async () => {
    const base = await freeUdpPortRange(4);
    const pool = new RtpPortPool(base, base + 3, "127.0.0.1");
    const caller = await rtpReceiver();
    const target = await rtpReceiver();
    const legA = new RtpSession({ lease: await pool.allocate(), remote: { address: "127.0.0.1", port: caller.port }, codec: "PCMU", payloadType: 0, initial: { ssrc: 0xaaaa, sequenceNumber: 65534, timestamp: 1000 } });
    const legB = new RtpSession({ lease: await pool.allocate(), remote: { address: "127.0.0.1", port: target.port }, codec: "PCMA", payloadType: 8, initial: { ssrc: 0xbbbb, sequenceNumber: 7, timestamp: 5000 } });
    const bridge = new RtpBridge(legA, legB);
    try {
      const frames = [frameOf("PCMU"), frameOf("PCMU", sine(700)), frameOf("PCMU", sine(300))];
      for (const f of frames) bridge.fromCaller(f);
      bridge.fromTarget(frameOf("PCMA"));
      await waitFor(() => target.got.length === 3 && caller.got.length === 1);
      expect(target.got.map((g) => [g.packet.ssrc, g.packet.payloadType, g.packet.sequenceNumber, g.packet.timestamp, g.packet.marker])).toEqual([
        [0xbbbb, 8, 7, 5000, true],
        [0xbbbb, 8, 8, 5160, false],
        [0xbbbb, 8, 9, 5320, false],
      ]);
      expect(decodeFrame(target.got[1]!.packet.payload, "PCMA")).toEqual(decodeFrame(encodeFrame(frames[1]!.pcm, "PCMA"), "PCMA"));
      expect(caller.got[0]!.packet).toMatchObject({ ssrc: 0xaaaa, payloadType: 0, sequenceNumber: 65534, timestamp: 1000 });
      expect(bridge.stats).toEqual({ toTarget: 3, toCaller: 1, transcoded: 4 });
    } finally {
      legA.close();
      legB.close();
      caller.socket.close();
      target.socket.close();
    }
  });
});

/** BridgeLegs on a real UserAgent (MemoryTransport, FakeClock) and a real port pool. */
async function legsHarness(o: { allow?: (n: string) => string | undefined } = {}) {
  const h = harness();
  const base = await freeUdpPortRange(4);
  const pool = new RtpPortPool(base, base + 3, "127.0.0.1");
  const ended: Array<[string, string]> = [];
  const observer: CallObserver = {
    callStarted() {},
    callUpdated() {},
    callAnswered() {},
    turn() {},
    bargeIn() {},
    providerError() {},
    rtpStats() {},
    callEnded: (r, result) => void ended.push([r.status!, result]),
    callRefused() {},
  };
  const pacer = new Pacer({ clock: h.clock });
  const legs = new BridgeLegs({
    ua: h.ua,
    trunk: TRUNK,
    callerId: "+14155550100",
    mediaAddress: "127.0.0.1",
    allocatePort: () => pool.allocate(),
    checkDestination: o.allow,
    ringTimeoutMs: 10_000,
    pacer,
    observer,
    log: silentLogger,
    clock: h.clock,
  });
  const ctl = new AbortController();
  const req = (uri: string): DialRequest => ({ parent: { id: "parent-1" } as CallRecord, target: "sales", uri, onFrame() {}, signal: ctl.signal });
  return { h, pool, legs, ended, req, ctl, invite: () => h.requests("INVITE")[0]! };
}

describe("BridgeLegs", () => {
  test("E.164 targets go to the trunk; 486 → not connected, status busy, the port back", async () => {
    const t = await legsHarness();
    expect(t.legs.requestUri("+14155550123")).toBe(`sip:+14155550123@${TRUNK.host}`);
    const p = t.legs.dial(t.req(t.legs.requestUri("+14155550123")));
    await waitFor(() => t.h.requests("INVITE").length === 1);
    const inv = t.invite();
    expect(inv.uri).toBe(`sip:+14155550123@${TRUNK.host}`);
    expect(inv.headers.get("From")).toMatch(/^<sip:\+14155550100@52\.9\.254\.127>;tag=/);
    expect(t.legs.active).toBe(1);
    t.h.send(reply(inv, 486, { toTag: "busy1" }));
    expect(await p).toEqual({ ok: false, status: 486, reason: "486 Busy Here" });
    expect(t.ended.map(([status]) => status)).toEqual(["busy"]);
    expect(t.pool.inUse).toBe(0);
    expect(t.legs.active).toBe(0);
  });
  test("200 with SDP → connected, an RTP session towards the answer; no answer in time → CANCEL, no_answer", async () => {
    const t = await legsHarness();
    const p = t.legs.dial(t.req("sip:sales@pbx.example.com"));
    await waitFor(() => t.h.requests("INVITE").length === 1);
    const inv = t.invite();
    expect(inv.uri).toBe("sip:sales@pbx.example.com");
    const sdp = "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n";
    t.h.send(reply(inv, 200, { toTag: "ok1", headers: [["Contact", "<sip:sales@52.9.254.127>"]], body: sdp }));
    const r = await p;
    if (!r.ok) throw new Error(r.reason);
    expect(r.leg.record).toMatchObject({ direction: "outbound", status: "connected", codec: "PCMA", metadata: { bridge_of: "parent-1", transfer_target: "sales" } });
    expect(r.leg.rtp.remote).toEqual({ address: "127.0.0.1", port: 40002 });
    void r.leg.end("caller_hangup");
    await waitFor(() => t.h.requests("BYE").length === 1);
    t.h.send(reply(t.h.requests("BYE")[0]!, 200));
    expect(await r.leg.ended).toBe("caller_hangup");
    expect(t.ended.at(-1)).toEqual(["completed", "caller_hangup"]);

    const slow = await legsHarness();
    const q = slow.legs.dial(slow.req("sip:sales@pbx.example.com"));
    await waitFor(() => slow.h.requests("INVITE").length === 1);
    slow.h.send(reply(slow.invite(), 180, { toTag: "r1" }));
    slow.h.clock.advance(10_000);
    expect(slow.h.requests("CANCEL").length).toBe(1);
    slow.h.send(reply(slow.invite(), 487, { toTag: "r1" }));
    expect(await q).toMatchObject({ ok: false, status: 487 });
    expect(slow.ended.at(-1)?.[0]).toBe("no_answer");
    expect(slow.pool.inUse).toBe(0);
  });
  test("ring timeout with responses still in a starved agent's receive queue: a 200 handled from it is ACKed, not CANCELled; with none, CANCEL at most RING_TIMEOUT_DRAIN_MAX_MS late", async () => {
    const t = await legsHarness();
    const held: Array<() => void> = [];
    (t.h.transport as { afterReceived?: (cb: () => void) => void }).afterReceived = (cb) => void held.push(cb);
    const p = t.legs.dial(t.req("sip:sales@pbx.example.com"));
    await waitFor(() => t.h.requests("INVITE").length === 1);
    t.h.send(reply(t.invite(), 180, { toTag: "ok1" }));
    t.h.clock.advance(10_000);
    expect(held).toHaveLength(1);
    const sdp = "v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40002 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n";
    t.h.send(reply(t.invite(), 200, { toTag: "ok1", headers: [["Contact", "<sip:sales@52.9.254.127>"]], body: sdp }));
    held.shift()!();
    expect(t.h.requests("CANCEL")).toHaveLength(0);
    const r = await p;
    expect(r.ok).toBe(true);
    if (r.ok) void r.leg.end("caller_hangup");

    const slow = await legsHarness();
    (slow.h.transport as { afterReceived?: (cb: () => void) => void }).afterReceived = () => undefined; // never drains
    void slow.legs.dial(slow.req("sip:sales@pbx.example.com"));
    await waitFor(() => slow.h.requests("INVITE").length === 1);
    slow.h.send(reply(slow.invite(), 180, { toTag: "r1" }));
    slow.h.clock.advance(10_000 + RING_TIMEOUT_DRAIN_MAX_MS - 1);
    expect(slow.h.requests("CANCEL")).toHaveLength(0);
    slow.h.clock.advance(1);
    expect(slow.h.requests("CANCEL")).toHaveLength(1);
  });

  test("a number outside OUTBOUND_ALLOW_PREFIXES is not called", async () => {
    const t = await legsHarness({ allow: (n) => (n.startsWith("+1900") ? `${n} is in OUTBOUND_DENY_PREFIXES (+1900)` : undefined) });
    expect(await t.legs.dial(t.req(t.legs.requestUri("+19005550100")))).toEqual({ ok: false, reason: "destination not allowed: +19005550100 is in OUTBOUND_DENY_PREFIXES (+1900)" });
    expect(t.h.requests("INVITE").length).toBe(0);
    expect(t.pool.inUse).toBe(0);
  });
  test("the caller hangs up while the target rings: the leg is cancelled", async () => {
    const t = await legsHarness();
    const p = t.legs.dial(t.req("sip:sales@pbx.example.com"));
    await waitFor(() => t.h.requests("INVITE").length === 1);
    t.h.send(reply(t.invite(), 180, { toTag: "r2" }));
    t.ctl.abort();
    await waitFor(() => t.h.requests("CANCEL").length === 1);
    t.h.send(reply(t.invite(), 487, { toTag: "r2" }));
    expect(await p).toMatchObject({ ok: false });
    expect(t.ended.at(-1)?.[0]).toBe("canceled");
  });
});

describe("bridgeTransfer", () => {
  function fakes(dialResult: "ok" | "busy") {
    const events: string[] = [];
    let endedBy: ((by: "caller" | "target") => void) | undefined;
    const leg = { record: { id: "leg-1" }, rtp: {}, dtmfOut: {}, ended: new Promise<string>(() => {}), end: async () => void events.push("leg end") } as any;
    const legs = {
      dial: async (req: DialRequest) => {
        events.push(`dial ${req.uri}`);
        req.onPlaced?.("leg-1");
        return dialResult === "ok" ? { ok: true, leg } : { ok: false, status: 486, reason: "486 Busy Here" };
      },
    } as any;
    const media: BridgeableMedia = {
      bridgeTo: (_l, onEnded) => ((endedBy = onEnded), events.push("bridged"), true),
      fromTarget() {},
      fromTargetDtmf() {},
      closedSignal: new AbortController().signal,
    };
    const seen: TransferRecord[] = [];
    const rec: TransferRecord = { target: "sales", uri: "sip:sales@x", method: "refer", outcome: "refused", referStatus: 403, startedAt: new Date().toISOString(), endedAt: new Date().toISOString() };
    const run = () =>
      bridgeTransfer({ legs, media, parent: { id: "p" } as CallRecord, rec, uri: "sip:sales@trunk", onRecord: (r) => seen.push({ ...r }), bridging: () => events.push("line"), log: silentLogger });
    return { run, events, seen, rec, end: (by: "caller" | "target") => endedBy!(by) };
  }
  test("answered: the caller hears the line first, the record says bridged, then who hung up", async () => {
    const f = fakes("ok");
    expect(await f.run()).toBe(true);
    expect(f.events).toEqual(["line", "dial sip:sales@trunk", "bridged"]);
    expect(f.seen[0]).toMatchObject({ method: "bridge", outcome: "pending", referStatus: 403, uri: "sip:sales@trunk" });
    expect(f.seen[0]!.endedAt).toBeUndefined();
    expect(f.rec).toMatchObject({ outcome: "bridged", legCallId: "leg-1" });
    expect(f.rec.endedAt).toBeUndefined();
    f.end("target");
    expect(f.seen.at(-1)).toMatchObject({ outcome: "bridged", endedBy: "target" });
    expect(Date.parse(f.seen.at(-1)!.endedAt!)).toBeGreaterThanOrEqual(Date.parse(f.rec.bridgedAt!));
  });
  test("busy: failed with the leg's status, the leg's id kept", async () => {
    const f = fakes("busy");
    expect(await f.run()).toBe(false);
    expect(f.rec).toMatchObject({ method: "bridge", outcome: "failed", finalStatus: 486, failureReason: "486 Busy Here", legCallId: "leg-1" });
    expect(f.rec.endedAt).toBeDefined();
  });
});

describe("transferHook with TRANSFER_FALLBACK=bridge", () => {
  function hook(referStatus: number, notify?: number) {
    const dialled: string[] = [];
    let listener: ((n: { status: number | undefined; terminated: boolean }) => void) | undefined;
    const call = {
      refer: async () => {
        if (notify !== undefined) queueMicrotask(() => listener?.({ status: notify, terminated: true }));
        return referStatus;
      },
      on: (_e: "referNotify", fn: typeof listener) => ((listener = fn), () => (listener = undefined)),
    };
    const legs = {
      requestUri: (t: string) => `sip:${t}@trunk`,
      dial: async (req: DialRequest) => (dialled.push(req.uri), { ok: false, status: 480, reason: "480 Temporarily Unavailable" }),
    } as any;
    const media: BridgeableMedia = { bridgeTo: () => true, fromTarget() {}, fromTargetDtmf() {}, closedSignal: new AbortController().signal };
    const record = { id: "c1" } as CallRecord;
    const h = transferHook({ call, targets: new Map([["desk", "+14155550123"]]), peerHost: "peer", clock: new FakeClock(), record, onRecordChanged() {}, log: silentLogger, fallback: { legs, media: () => media } })!;
    return { h, dialled, record };
  }
  test("a refused REFER (403, 405, 501 …) falls back to a call to the target at the trunk", async () => {
    for (const status of [403, 405, 501]) {
      const t = hook(status);
      expect(await t.h.run("desk")).toBe(false);
      expect(t.dialled).toEqual(["sip:+14155550123@trunk"]);
      expect(t.record.transfer).toMatchObject({ method: "bridge", outcome: "failed", referStatus: status, finalStatus: 480 });
    }
  });
  test("a REFER accepted whose NOTIFY says 486 does not (the target itself refused)", async () => {
    const t = hook(202, 486);
    expect(await t.h.run("desk")).toBe(false);
    expect(t.dialled).toEqual([]);
    expect(t.record.transfer).toMatchObject({ method: "refer", outcome: "failed", finalStatus: 486 });
  });
});

describe("keys across the bridge", () => {
  test("tones pass on as RFC 4733; a hook flash (event 16) is dropped, never thrown (it would end the call)", () => {
    const sent: number[] = [];
    const out = new DtmfSender({ next: { timestamp: 0 }, sendEvent: (p) => (sent.push(p[0]!), true) });
    expect(passKey(out, "flash")).toBe(false);
    expect(["5", "#", "a"].map((k) => passKey(out, k))).toEqual([true, true, true]);
    for (let i = 0; i < 60; i++) out.tick();
    expect([...new Set(sent)]).toEqual([5, 11, 12]);
  });
});

describe("TRANSFER_FALLBACK", () => {
  const trunk = { SIP_TRUNK_HOST: "127.0.0.1", SIP_CALLER_ID: "+14155550100" };
  test("default none; bridge needs the trunk; other values name the variable", () => {
    expect(loadConfig({}).transferFallback).toBe("none");
    expect(loadConfig({ ...trunk, TRANSFER_FALLBACK: "bridge" }).transferFallback).toBe("bridge");
    expect(() => loadConfig({ TRANSFER_FALLBACK: "bridge" })).toThrow(/TRANSFER_FALLBACK.*SIP_TRUNK_HOST/);
    expect(() => loadConfig({ ...trunk, TRANSFER_FALLBACK: "b2bua" })).toThrow(/TRANSFER_FALLBACK/);
  });
});
