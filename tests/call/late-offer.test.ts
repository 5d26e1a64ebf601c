/**
 * A late-offer (delayed-offer) INVITE — no SDP body, what Cisco CUBE and other SBCs send by default —
 * gets our offer in the 200 (RFC 3261 §13.3.1.4: "If the INVITE did not contain an offer, the 2xx MUST
 * contain an offer") and its media starts from the answer in the ACK (§13.2.2.4: "If the 2xx contains
 * an offer, the ACK MUST carry an answer"). It was refused with 488 "an SDP offer in the INVITE is
 * required". An ACK without a usable answer ends the call with BYE.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { FakeStt } from "../../src/providers/fake";
import { lateOffer, sessionFromAck } from "../../src/call/late-offer";
import { parseMessage, serializeMessage, SipRequest, type SipRequest as Req } from "../../src/sip";
import { ackFor, inDialog } from "../sip/ua-harness.ts";
import { inboundHarness, invite, settle } from "./support.ts";

type H = Awaited<ReturnType<typeof inboundHarness>>;
let h: H | undefined;
afterEach(() => {
  h?.dispose();
  h = undefined;
});

/** `invite(port)` without its SDP body. */
function lateInvite(): Req {
  const inv = invite(20400);
  const req = parseMessage(serializeMessage(new SipRequest("INVITE", inv.uri, inv.headers.clone(), ""))) as Req;
  req.headers.delete("Content-Type");
  return req;
}

/** The caller's answer to our offer: PCMA only (the second codec we offered), telephone-event 101. */
const answer = (port: number) =>
  ["v=0", "o=trunk 7 7 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", `m=audio ${port} RTP/AVP 8 101`,
    "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=sendrecv", ""].join("\r\n");

describe("late-offer INVITE (no SDP)", () => {
  test("200 carries our offer; nothing starts before the ACK; the ACK's answer starts the media on its codec", async () => {
    h = await inboundHarness();
    const inv = lateInvite();
    h.send(inv);
    await settle();
    const ok = h.okFor(inv)!;
    expect(ok).toBeDefined();
    expect(ok.headers.get("Content-Type")).toBe("application/sdp");
    expect(ok.bodyText).toMatch(/\r\nm=audio \d+ RTP\/AVP 0 8 101\r\n/);
    expect(ok.bodyText).toContain("a=sendrecv");
    expect((h.stt as FakeStt).streams).toHaveLength(0);
    h.send(ackFor(inv, ok, "z9hG4bKlateack", answer(20402)));
    await settle();
    expect((h.stt as FakeStt).streams).toHaveLength(1);
    const live = h.inbound.live()[0]!;
    expect(live.record.state).toBe("connected");
    expect(live.record.codec).toBe("PCMA");
    expect((live.sip.media as { sdp: { media: { remote: unknown } } } | undefined)?.sdp.media.remote).toEqual({ address: "127.0.0.1", port: 20402 });
    expect(h.requests("BYE")).toHaveLength(0);
    h.bye(inv);
    await settle();
    expect(h.pool.inUse).toBe(0);
  });

  test("an ACK without an answer: BYE, end reason bad_answer_sdp, no STT session, port released", async () => {
    h = await inboundHarness();
    const inv = lateInvite();
    h.send(inv);
    await settle();
    const ok = h.okFor(inv)!;
    h.send(ackFor(inv, ok, "z9hG4bKlateack2"));
    await settle();
    expect(h.requests("BYE")).toHaveLength(1);
    expect((h.stt as FakeStt).streams).toHaveLength(0);
    expect(h.observer.events).toContain("ended bad_answer_sdp");
    expect(h.pool.inUse).toBe(0);
  });
});

describe("sessionFromAck", () => {
  const offer = lateOffer("127.0.0.1", 30000);
  const at = { localAddress: "127.0.0.1", localPort: 30000 };
  test("reads the answer: codec, telephone-event, remote address", () => {
    const s = sessionFromAck(offer, answer(4000), at);
    expect(s.media).toMatchObject({ codec: "PCMA", payloadType: 8, telephoneEventPt: 101, remote: { address: "127.0.0.1", port: 4000 } });
    expect(s.sdp).toBe(offer.sdp);
  });
  test("no answer, a refused stream, a codec we did not offer: SdpError with its code", () => {
    const code = (sdp: string | undefined) => {
      try {
        sessionFromAck(offer, sdp, at);
        return "ok";
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(code(undefined)).toBe("malformed");
    expect(code("  ")).toBe("malformed");
    expect(code(answer(0))).toBe("rejected");
    expect(code(answer(4000).replace("RTP/AVP 8 101", "RTP/AVP 9").replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:9 G722/8000"))).toBe("no_common_codec");
  });
});

describe("codec switch by re-INVITE", () => {
  test("PCMU → PCMA: the call record names the codec in use", async () => {
    h = await inboundHarness();
    const inv = invite(20410);
    h.send(inv);
    await settle();
    h.ack(inv);
    await settle();
    const live = h.inbound.live()[0]!;
    expect(live.record.codec).toBe("PCMU");
    h.send(inDialog(inv, h.okFor(inv)!, "INVITE", 3, "z9hG4bKswitch", answer(20410).replace("o=trunk 7 7", "o=trunk 1 2")));
    await settle();
    expect(h.finals(inv)).toEqual([200, 200]); // the INVITE's and the re-INVITE's (answer: PCMA)
    expect(live.record.codec).toBe("PCMA");
    h.bye(inv);
    await settle();
  });
});
