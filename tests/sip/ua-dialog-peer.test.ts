/**
 * In-dialog requests only from the dialog's signalling peer (UserAgentOptions.dialogPeerOnly, the
 * agent's SIP_DIALOG_PEER_ONLY): a BYE, re-INVITE or ACK that names a live dialog (Call-ID and both
 * tags, RFC 3261 §12) but comes from another address is refused (403; an ACK dropped) and the call is
 * untouched; from the peer everything works as before; without the option the RFC's behaviour stays.
 */
import { describe, expect, test } from "bun:test";
import { parseMessage, type SipRequest, type SipResponse, type EndReason } from "../../src/sip/index.ts";
import { sipRefusedTotals } from "../../src/sip/transport/index.ts";
import { TRUNK_INVITE, TRUNK_SDP } from "./fixtures.ts";
import { ANSWER_SDP, TRUNK, ackFor, harness, inDialog } from "./ua-harness.ts";

const STRANGER = { host: "198.51.100.66", port: 5060 };
const trunkInvite = () => parseMessage(TRUNK_INVITE) as SipRequest;

function answered(dialogPeerOnly: boolean, ack = true, invite = TRUNK_INVITE) {
  const warns: object[] = [];
  const log = { debug() {}, info() {}, warn: (f: object) => warns.push(f), error() {} };
  const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP), dialogPeerOnly, log });
  h.send(invite);
  const ok = h.responses(200)[0]!;
  if (ack) h.send(ackFor(parseMessage(invite) as SipRequest, ok));
  const call = h.calls[0]!;
  const offers: string[] = [];
  call.media = { onOffer: (sdp) => (offers.push(sdp), { ok: true, sdp: ANSWER_SDP }), createOffer: () => ANSWER_SDP, onAnswer: () => {} };
  const ended: EndReason[] = [];
  call.on("ended", (r) => ended.push(r));
  return { h, ok, call, offers, ended, warns };
}

const lastStatus = (h: ReturnType<typeof harness>, method: string) => {
  const r = h.last() as SipResponse;
  expect(r.kind).toBe("response");
  expect(r.cseq.method).toBe(method);
  return r.status;
};

describe("dialogPeerOnly", () => {
  test("a BYE from another address → 403 with a Warning, the call goes on; the peer's BYE still ends it", () => {
    const { h, ok, call, ended, warns } = answered(true);
    h.send(inDialog(trunkInvite(), ok, "BYE", 120, "z9hG4bKspoof1"), STRANGER);
    expect(lastStatus(h, "BYE")).toBe(403);
    expect((h.last() as SipResponse).headers.get("Warning")).toContain("not from this dialog's peer");
    expect(ended).toEqual([]);
    expect(h.ua.activeCalls).toBe(1);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ sipCallId: call.callId, method: "BYE", peers: [TRUNK.host] });
    // The stranger's CSeq (120) did not count: the peer's BYE with a lower CSeq is in order.
    h.send(inDialog(trunkInvite(), ok, "BYE", 103, "z9hG4bKbye-real"), TRUNK);
    expect(lastStatus(h, "BYE")).toBe(200);
    expect(ended).toEqual(["remote_bye"]);
  });

  test("a re-INVITE from another address → 403, its offer never reaches the media layer; the peer's works", () => {
    const { h, ok, offers, warns } = answered(true);
    const moved = TRUNK_SDP.replace(/c=IN IP4 [\d.]+/, `c=IN IP4 ${STRANGER.host}`);
    h.send(inDialog(trunkInvite(), ok, "INVITE", 120, "z9hG4bKspoof2", moved), STRANGER);
    expect(lastStatus(h, "INVITE")).toBe(403);
    expect(offers).toEqual([]);
    h.send(inDialog(trunkInvite(), ok, "UPDATE", 121, "z9hG4bKspoof3"), STRANGER);
    expect(lastStatus(h, "UPDATE")).toBe(403);
    expect(warns).toHaveLength(1); // once per call at warn
    h.send(inDialog(trunkInvite(), ok, "INVITE", 103, "z9hG4bKre-real", TRUNK_SDP), TRUNK);
    expect(lastStatus(h, "INVITE")).toBe(200);
    expect(offers).toHaveLength(1);
  });

  // Through an INVITE server transaction, Timer G resent the 403 toward the (forgeable) source until Timer H:
  // ten datagrams out for one in. Stateless (§8.2.7): one for one, a retransmission answered the same way.
  test("a re-INVITE from another address gets one stateless 403, never retransmitted, and is counted", () => {
    const { h, ok } = answered(true);
    const before = sipRefusedTotals.dialog_stranger;
    const spoof = inDialog(trunkInvite(), ok, "INVITE", 120, "z9hG4bKspoof4", TRUNK_SDP);
    h.send(spoof, STRANGER);
    expect(lastStatus(h, "INVITE")).toBe(403);
    const first = h.last() as SipResponse;
    h.clock.advance(40_000); // past Timer H (64·T1 = 32 s): no Timer G resends
    expect(h.responses(403, "INVITE")).toHaveLength(1);
    h.send(spoof, STRANGER); // its retransmission: the same 403 (same To tag) once more
    const again = h.responses(403, "INVITE");
    expect(again).toHaveLength(2);
    expect(again[1]!.to.tag).toBe(first.to.tag!);
    h.send(ackFor(trunkInvite(), first), STRANGER); // an ACK for it is dropped, never answered
    expect(h.responses(403, "INVITE")).toHaveLength(2);
    expect(sipRefusedTotals.dialog_stranger - before).toBe(2);
    expect(h.ua.activeCalls).toBe(1);
  });

  test("an ACK from another address is dropped: our 200 keeps being retransmitted until the peer's ACK", () => {
    const { h, ok } = answered(true, false);
    h.send(ackFor(trunkInvite(), ok), STRANGER);
    h.clock.advance(1600);
    expect(h.times("200 INVITE")).toEqual([0, 500, 1500]);
    h.send(ackFor(trunkInvite(), ok), TRUNK);
    h.clock.advance(10_000);
    expect(h.times("200 INVITE")).toEqual([0, 500, 1500]);
  });

  test("a CANCEL of a ringing call from another address → one stateless 403, the call rings on; the peer's CANCEL ends it", () => {
    const warns: object[] = [];
    const log = { debug() {}, info() {}, warn: (f: object) => warns.push(f), error() {} };
    const h = harness({ dialogPeerOnly: true, answerDelayMs: 4000, log });
    h.send(TRUNK_INVITE);
    const call = h.calls[0]!;
    const ended: EndReason[] = [];
    call.on("ended", (r) => ended.push(r));
    const invite = trunkInvite();
    const cancel = TRUNK_INVITE.replace(/^INVITE /, "CANCEL ").replace(/^CSeq:\s*(\d+) INVITE/im, "CSeq: $1 CANCEL").replace(/\r\n\r\n[\s\S]*$/, "\r\n\r\n").replace(/^Content-Length:.*$/im, "Content-Length: 0").replace(/^Content-Type:.*\r\n/im, "");
    const before = sipRefusedTotals.dialog_stranger;
    h.send(cancel, STRANGER); // the same Via branch, Call-ID, From tag and CSeq, copied off the wire
    expect(lastStatus(h, "CANCEL")).toBe(403);
    expect(sipRefusedTotals.dialog_stranger - before).toBe(1);
    expect(ended).toEqual([]);
    expect(h.responses(487)).toHaveLength(0);
    expect(warns[0]).toMatchObject({ sipCallId: invite.callId, method: "CANCEL" });
    h.send(cancel, TRUNK);
    expect(h.responses(200, "CANCEL")).toHaveLength(1);
    expect(h.responses(487)).toHaveLength(1);
    expect(ended).toEqual(["canceled"]);
  });

  test("off (the RFC's behaviour): a BYE from another address that names the dialog ends the call", () => {
    const { h, ok, ended, warns } = answered(false);
    h.send(inDialog(trunkInvite(), ok, "BYE", 120, "z9hG4bKother"), STRANGER);
    expect(lastStatus(h, "BYE")).toBe(200);
    expect(ended).toEqual(["remote_bye"]);
    expect(warns).toEqual([]);
  });

  /** TRUNK_INVITE with its Record-Route rows replaced (none when `rows` is empty). */
  function withRoutes(rows: string[]): string {
    const lines = TRUNK_INVITE.split("\r\n").filter((l) => !l.startsWith("Record-Route:"));
    const at = lines.findIndex((l) => l.startsWith("From:"));
    lines.splice(at, 0, ...rows.map((r) => `Record-Route: ${r}`));
    return lines.join("\r\n");
  }
  const bye = (invite: string, ok: SipResponse, branch: string) => inDialog(parseMessage(invite) as SipRequest, ok, "BYE", 110, branch);

  test("the route set's nearest hop may send (a carrier whose edge proxy records another address than the INVITE's source)", () => {
    const invite = withRoutes(["<sip:52.9.254.200;lr>", "<sip:52.9.254.127;lr>"]);
    const { h, ok, ended } = answered(true, true, invite);
    h.send(bye(invite, ok, "z9hG4bKs1"), STRANGER);
    expect(lastStatus(h, "BYE")).toBe(403);
    h.send(bye(invite, ok, "z9hG4bKedge"), { host: "52.9.254.200", port: 5060 });
    expect(lastStatus(h, "BYE")).toBe(200);
    expect(ended).toEqual(["remote_bye"]);
  });

  test("without a route set the peer's Contact address may send (a proxy that did not record-route)", () => {
    const invite = withRoutes([]);
    const { h, ok, ended } = answered(true, true, invite);
    h.send(bye(invite, ok, "z9hG4bKs2"), STRANGER);
    expect(lastStatus(h, "BYE")).toBe(403);
    h.send(bye(invite, ok, "z9hG4bKua"), { host: "10.10.5.21", port: 5080 });
    expect(lastStatus(h, "BYE")).toBe(200);
    expect(ended).toEqual(["remote_bye"]);
  });

  test("a host name as the nearest hop: the senders cannot be known, nothing is refused", () => {
    const invite = withRoutes(["<sip:edge.carrier.example;lr>"]);
    const { h, ok, ended } = answered(true, true, invite);
    h.send(bye(invite, ok, "z9hG4bKs3"), STRANGER);
    expect(lastStatus(h, "BYE")).toBe(200);
    expect(ended).toEqual(["remote_bye"]);
  });
});
