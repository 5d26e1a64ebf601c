/**
 * RFC 4475 §3.1.1 valid torture messages the agent must process normally (not 400): line folding,
 * odd whitespace around every separator, compact header names, unknown headers and parameters, escaped
 * quotes, leading zeros, a multipart body (§3.1.1.11). Sent as datagrams to the UA core.
 */
import { expect, test } from "bun:test";
import { ANSWER_SDP, harness } from "./ua-harness.ts";

const crlf = (lines: string[]) => lines.join("\r\n");

/** RFC 4475 §3.1.1.1 "A Short Tortuous INVITE" (wsinv), byte for byte. */
const WSINV = crlf([
  "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0",
  "TO :",
  " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
  'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>',
  "  ;",
  "  tag = 98asjd8",
  "MaX-fOrWaRdS: 0068",
  "Call-ID: wsinv.ndaksdj@192.0.2.1",
  "Content-Length   : 150",
  "cseq: 0009",
  "  INVITE",
  "Via  : SIP  /   2.0",
  " /UDP",
  "    192.0.2.2;branch=390skdjuw",
  "s :",
  "NewFangledHeader:   newfangled value",
  " continued newfangled value",
  "UnknownHeaderWithUnusualValue: ;;,,;;,;",
  "Content-Type: application/sdp",
  "Route:",
  " <sip:services.example.com;lr;unknownwith=value;unknown-no-value>",
  "v:  SIP  / 2.0  / TCP     spindle.example.com   ;",
  "  branch  =   z9hG4bK9ikj8  ,",
  " SIP  /    2.0   / UDP  192.168.255.111   ; branch=",
  " z9hG4bK30239",
  'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
  "      newvalue ;",
  "  secondparam ; q = 0.33",
  "",
  "v=0",
  "o=mhandley 29739 7272939 IN IP4 192.0.2.3",
  "s=-",
  "c=IN IP4 192.0.2.4",
  "t=0 0",
  "m=audio 49217 RTP/AVP 0 12",
  "m=video 3227 RTP/AVP 31",
  "a=rtpmap:31 LPC",
  "",
]);

test("RFC 4475 §3.1.1.1 wsinv: parsed through folding and whitespace; its To tag matches no dialog, so 481 (§12.2.2), never 400", () => {
  expect(new TextEncoder().encode(WSINV.split("\r\n\r\n")[1]).length).toBe(150);
  const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
  h.send(WSINV);
  expect(h.responses(400)).toHaveLength(0);
  const r = h.responses(481)[0]!;
  expect(r.headers.get("Call-ID")).toBe("wsinv.ndaksdj@192.0.2.1");
  expect(r.cseq).toEqual({ seq: 9, method: "INVITE" });
  expect(r.to.tag).toBe("1918181833n");
});

test("the same tortuous INVITE without the To tag (a new call): offered to the agent and answered 200", () => {
  const body = WSINV.split("\r\n\r\n")[1]!;
  const inv = WSINV.replace(" ;   tag    = 1918181833n", "");
  const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
  h.send(inv);
  expect(h.calls).toHaveLength(1);
  const c = h.calls[0]!;
  expect(c.from.uri).toBe("sip:jdrosen@example.com");
  expect(c.from.displayName).toBe('J Rosenberg \\"');
  expect(c.invite.cseq).toEqual({ seq: 9, method: "INVITE" });
  expect(c.offerSdp).toBe(body);
  expect(h.responses(200)).toHaveLength(1);
});

/** RFC 4475 §3.1.1.3 (esc01): escaped characters in the Request-URI and user part are valid. */
test("RFC 4475 §3.1.1.3-style escaped Request-URI and a 3.1.1.12-style OPTIONS with unknown parameters: answered, never 400", () => {
  const h = harness();
  h.send(
    crlf([
      "OPTIONS sip:sips%3Auser%40example.com@example.net SIP/2.0",
      "To: sip:%75se%72@example.com",
      "From: <sip:I%20have%20spaces@example.net>;tag=938",
      "Max-Forwards: 87",
      "i: esc01.239409asdfakjkn23onasd0-3234",
      "CSeq: 234234 OPTIONS",
      "Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw;unknownparam",
      "C: application/sdp",
      "Contact:",
      "  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>",
      "Content-Length: 0",
      "",
      "",
    ]),
  );
  expect(h.responses(400, "OPTIONS")).toHaveLength(0);
  expect(h.responses(200, "OPTIONS")).toHaveLength(1);
});
