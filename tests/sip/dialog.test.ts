import { describe, expect, test } from "bun:test";
import { Dialog, dialogKeyOfRequest } from "../../src/sip/dialog/index.ts";
import { SipParseError, parseMessage, type SipRequest, type SipResponse } from "../../src/sip/message/index.ts";
import { RINGING_180, TRUNK_BYE, TRUNK_INVITE, wire } from "./fixtures.ts";
import { request, response } from "./helpers.ts";

const trunkInvite = () => parseMessage(TRUNK_INVITE) as SipRequest;

describe("UAS dialog (§12.1.1)", () => {
  test("from the trunk INVITE: route set as-is, remote target = Contact, remote CSeq", () => {
    const d = Dialog.createUas(trunkInvite(), "8d2f0c1b9e7a6d54");
    expect(d.callId).toBe("4c5b0b5e-ab7e-123a-9a5b-0242ac110002");
    expect([d.localTag, d.remoteTag]).toEqual(["8d2f0c1b9e7a6d54", "as4f2a1b3c"]);
    expect(d.routeSet).toEqual([
      "<sip:52.9.254.127;lr;ftag=as4f2a1b3c;did=6a1.9c91>",
      "<sip:10.10.5.21;r2=on;lr;ftag=as4f2a1b3c>",
      "<sip:52.9.254.127;r2=on;lr;ftag=as4f2a1b3c>",
    ]);
    expect(d.remoteTarget.toString()).toBe("sip:+14155550123@10.10.5.21:5080;transport=udp");
    expect(d.remoteSeq).toBe(102);
    expect(d.localSeq).toBeUndefined();
    // the trunk's BYE lands on this dialog
    expect(dialogKeyOfRequest(parseMessage(TRUNK_BYE) as SipRequest)).toBe(d.key);
  });

  test("a dialog created over a TCP/TLS connection sends over it while it is open, then by its route set", () => {
    const d = Dialog.createUas(trunkInvite(), "t");
    let open = true;
    d.connection = { peer: { host: "52.9.254.127", port: 40123 }, open: () => open };
    const bye = d.createRequest("BYE");
    expect(d.nextHop(bye)).toEqual({ host: "52.9.254.127", port: 40123 });
    open = false;
    expect(d.nextHop(bye)).toEqual({ host: "52.9.254.127", port: 5060 });
  });

  test("BYE: Request-URI = remote target, Route = route set (loose), CSeq grows, next hop = first route", () => {
    const d = Dialog.createUas(trunkInvite(), "8d2f0c1b9e7a6d54");
    const bye = d.createRequest("BYE", { headers: [["Reason", "Q.850;cause=16"]] });
    expect(bye.method).toBe("BYE");
    expect(bye.uri).toBe("sip:+14155550123@10.10.5.21:5080;transport=udp");
    expect(bye.headers.getAll("Route")).toEqual(d.routeSet as string[]);
    expect(bye.headers.get("From")).toBe("<sip:+14155550100@203.0.113.10>;tag=8d2f0c1b9e7a6d54");
    expect(bye.headers.get("To")).toBe('"+14155550123" <sip:+14155550123@52.9.254.127>;tag=as4f2a1b3c');
    expect(bye.cseq).toEqual({ seq: 1, method: "BYE" });
    expect(bye.headers.get("Max-Forwards")).toBe("70");
    expect(bye.headers.get("Reason")).toBe("Q.850;cause=16");
    expect(d.nextHop(bye)).toEqual({ host: "52.9.254.127", port: 5060 });
    expect(d.createRequest("BYE").cseq.seq).toBe(2);
  });

  test("remote CSeq: lower is rejected (§12.2.2), equal or higher accepted", () => {
    const d = Dialog.createUas(trunkInvite(), "t");
    expect(d.acceptRemoteCSeq(101)).toBe(false);
    expect(d.acceptRemoteCSeq(103)).toBe(true);
    expect(d.remoteSeq).toBe(103);
    expect(d.acceptRemoteCSeq(102)).toBe(false);
  });

  test("INVITE without Contact cannot create a dialog", () => {
    const inv = parseMessage(TRUNK_INVITE.replace("Contact: <sip:+14155550123@10.10.5.21:5080;transport=udp>\r\n", "")) as SipRequest;
    expect(() => Dialog.createUas(inv, "t")).toThrow(SipParseError);
  });
});

describe("UAC dialog (§12.1.2)", () => {
  test("route set is the reversed Record-Route; local CSeq from the INVITE; no Route → next hop = target", () => {
    const invite = request("INVITE", { cseq: 7, fromTag: "mine" });
    const ok = response(invite, 200, "theirs", [
      ["Record-Route", "<sip:p2.example.com;lr>"],
      ["Record-Route", "<sip:p1.example.com:5070;lr>"],
    ]);
    // buildResponse put the extra rows after To: move Contact for the peer
    ok.headers.append("Contact", "<sip:uas@192.0.2.50:5090>");
    const d = Dialog.createUac(invite, ok);
    expect(d.routeSet).toEqual(["<sip:p1.example.com:5070;lr>", "<sip:p2.example.com;lr>"]);
    expect([d.localTag, d.remoteTag, d.localSeq]).toEqual(["mine", "theirs", 7]);
    const bye = d.createRequest("BYE");
    expect(bye.cseq.seq).toBe(8);
    expect(bye.uri).toBe("sip:uas@192.0.2.50:5090");
    expect(d.nextHop(bye)).toEqual({ host: "p1.example.com", port: 5070 });
    const ack = d.createRequest("ACK", { ackFor: 7 });
    expect(ack.cseq).toEqual({ seq: 7, method: "ACK" });
    expect(d.localSeq).toBe(8);

    const bare = response(invite, 200, "x");
    bare.headers.append("Contact", "<sip:uas@192.0.2.50:5090>");
    const d2 = Dialog.createUac(invite, bare);
    const bye2 = d2.createRequest("BYE");
    expect(bye2.headers.has("Route")).toBe(false);
    expect(d2.nextHop(bye2)).toEqual({ host: "192.0.2.50", port: 5090 });
  });

  test("strict routing: first route without ;lr becomes the Request-URI, target appended to Route", () => {
    const invite = request("INVITE");
    const r180 = parseMessage(RINGING_180.replace("<sip:198.51.100.1;lr>", "<sip:198.51.100.1:5080;maddr=198.51.100.2>, <sip:198.51.100.9;lr>")) as SipResponse;
    // A UAC dialog from the 180 of another INVITE: only the Record-Route handling matters here.
    const d = Dialog.createUac(invite, r180, "early");
    expect(d.routeSet).toEqual(["<sip:198.51.100.9;lr>", "<sip:198.51.100.1:5080;maddr=198.51.100.2>"]);
    const invite2 = request("INVITE", { extra: [["Record-Route", "<sip:strict.example.com:5080;transport=udp>"], ["Record-Route", "<sip:loose.example.com;lr>"]] });
    const uas = Dialog.createUas(invite2, "t");
    const bye = uas.createRequest("BYE");
    expect(bye.uri).toBe("sip:strict.example.com:5080;transport=udp");
    expect(bye.headers.getAll("Route")).toEqual(["<sip:loose.example.com;lr>", "<sip:+15550001@198.51.100.7:5060>"]);
    expect(uas.nextHop(bye)).toEqual({ host: "strict.example.com", port: 5080 });
  });

  test("a remote target with URI headers or a method parameter: neither rides into the Request-URI (§19.1.1 Table 1)", () => {
    // s22 fresheyes2: the agent's BYE went out as "BYE sip:att@127.0.0.1:59696;maddr=127.0.0.99?Call-ID=evil&Subject=x SIP/2.0".
    const invite = request("INVITE");
    invite.headers.set("Contact", "<sip:att@198.51.100.7:5062;maddr=198.51.100.8;method=REGISTER?Call-ID=evil&Subject=x>");
    const uas = Dialog.createUas(invite, "t");
    const bye = uas.createRequest("BYE");
    expect(bye.uri).toBe("sip:att@198.51.100.7:5062;maddr=198.51.100.8");
    expect(bye.headers.get("Call-ID")).toBe(invite.headers.get("Call-ID"));
    expect(uas.nextHop(bye)).toEqual({ host: "198.51.100.8", port: 5062 });
    const invite2 = request("INVITE", { extra: [["Record-Route", "<sip:p.example.com;lr>"]] });
    invite2.headers.set("Contact", "<sip:b@198.51.100.7?X-Inj=1>");
    const loose = Dialog.createUas(invite2, "t");
    expect(loose.createRequest("BYE").uri).toBe("sip:b@198.51.100.7");
    expect(loose.remoteTarget.headers).toBe("X-Inj=1"); // the target itself is kept as the peer sent it
  });

  test("a response without To tag cannot create a dialog", () => {
    const invite = request("INVITE");
    const r = parseMessage(wire(["SIP/2.0 200 OK", `Via: ${invite.headers.get("Via")}`, `From: ${invite.headers.get("From")}`, "To: <sip:agent@203.0.113.10>", "Call-ID: c", "CSeq: 1 INVITE", "Contact: <sip:x@1.2.3.4>", "Content-Length: 0"])) as SipResponse;
    expect(() => Dialog.createUac(invite, r)).toThrow(/To tag/);
  });
});
