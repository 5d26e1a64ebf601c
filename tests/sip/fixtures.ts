/**
 * SIP messages as they appear on the wire (CRLF line ends). `{LEN}` is replaced by the body's byte length
 * so every fixture carries a correct Content-Length. Shapes follow captures of a FreeSWITCH/Kamailio
 * based trunk (Plivo-like: two Record-Route hops, an rport'ed inner Via, X- headers), SIPp's uac.xml
 * scenario, and a Linphone-style compact-form INVITE.
 */

export function wire(lines: string[], body = ""): string {
  const text = `${lines.join("\r\n")}\r\n\r\n${body}`;
  return text.replace("{LEN}", String(new TextEncoder().encode(body).length));
}

export const TRUNK_SDP = [
  "v=0",
  "o=FreeSWITCH 1732100000 1732100001 IN IP4 52.9.254.130",
  "s=FreeSWITCH",
  "c=IN IP4 52.9.254.130",
  "t=0 0",
  "m=audio 24680 RTP/AVP 0 8 101",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:8 PCMA/8000",
  "a=rtpmap:101 telephone-event/8000",
  "a=fmtp:101 0-16",
  "a=ptime:20",
  "a=sendrecv",
  "",
].join("\r\n");

/** An inbound INVITE from a carrier trunk: two Via, three Record-Route, SDP offer. Canonical form. */
export const TRUNK_INVITE = wire(
  [
    "INVITE sip:+14155550100@203.0.113.10:5060 SIP/2.0",
    "Record-Route: <sip:52.9.254.127;lr;ftag=as4f2a1b3c;did=6a1.9c91>",
    "Record-Route: <sip:10.10.5.21;r2=on;lr;ftag=as4f2a1b3c>",
    "Record-Route: <sip:52.9.254.127;r2=on;lr;ftag=as4f2a1b3c>",
    "Via: SIP/2.0/UDP 52.9.254.127:5060;branch=z9hG4bK9a1e.7c4f5d12.0;rport",
    "Via: SIP/2.0/UDP 10.10.5.21:5080;received=10.10.5.21;rport=5080;branch=z9hG4bKSmF7v1yXgNDtp",
    "Max-Forwards: 68",
    'From: "+14155550123" <sip:+14155550123@52.9.254.127>;tag=as4f2a1b3c',
    "To: <sip:+14155550100@203.0.113.10>",
    "Call-ID: 4c5b0b5e-ab7e-123a-9a5b-0242ac110002",
    "CSeq: 102 INVITE",
    "Contact: <sip:+14155550123@10.10.5.21:5080;transport=udp>",
    "User-Agent: Plivo",
    "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REFER, NOTIFY",
    "Supported: timer, path, replaces",
    "Allow-Events: talk, hold, conference, refer",
    "X-PH-CallUUID: 0f5e3c1a-9b8e-4c55-8a7d-3b1f2e4d5c6a",
    "P-Asserted-Identity: <sip:+14155550123@52.9.254.127>",
    "Content-Type: application/sdp",
    "Content-Disposition: session",
    "Content-Length: {LEN}",
  ],
  TRUNK_SDP,
);

/** The same trunk INVITE with the Record-Route and Via rows comma-joined, as some proxies send them. */
export const TRUNK_INVITE_JOINED = wire(
  [
    "INVITE sip:+14155550100@203.0.113.10:5060 SIP/2.0",
    "Record-Route: <sip:52.9.254.127;lr;ftag=as4f2a1b3c;did=6a1.9c91>, <sip:10.10.5.21;r2=on;lr;ftag=as4f2a1b3c>,<sip:52.9.254.127;r2=on;lr;ftag=as4f2a1b3c>",
    "Via: SIP/2.0/UDP 52.9.254.127:5060;branch=z9hG4bK9a1e.7c4f5d12.0;rport, SIP/2.0/UDP 10.10.5.21:5080;received=10.10.5.21;rport=5080;branch=z9hG4bKSmF7v1yXgNDtp",
    "Max-Forwards: 68",
    'From: "+14155550123" <sip:+14155550123@52.9.254.127>;tag=as4f2a1b3c',
    "To: <sip:+14155550100@203.0.113.10>",
    "Call-ID: 4c5b0b5e-ab7e-123a-9a5b-0242ac110002",
    "CSeq: 102 INVITE",
    "Contact: <sip:+14155550123@10.10.5.21:5080;transport=udp>",
    "User-Agent: Plivo",
    "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REFER, NOTIFY",
    "Supported: timer, path, replaces",
    "Allow-Events: talk, hold, conference, refer",
    "X-PH-CallUUID: 0f5e3c1a-9b8e-4c55-8a7d-3b1f2e4d5c6a",
    "P-Asserted-Identity: <sip:+14155550123@52.9.254.127>",
    "Content-Type: application/sdp",
    "Content-Disposition: session",
    "Content-Length: {LEN}",
  ],
  TRUNK_SDP,
);

export const SIPP_SDP = [
  "v=0",
  "o=user1 53655765 2353687637 IN IP4 127.0.1.1",
  "s=-",
  "c=IN IP4 127.0.1.1",
  "t=0 0",
  "m=audio 6000 RTP/AVP 0",
  "a=rtpmap:0 PCMU/8000",
  "",
].join("\r\n");

/** SIPp 3.6 `uac` scenario INVITE. */
export const SIPP_INVITE = wire(
  [
    "INVITE sip:service@127.0.0.1:5060 SIP/2.0",
    "Via: SIP/2.0/UDP 127.0.1.1:5061;branch=z9hG4bK-4242-1-0",
    "From: sipp <sip:sipp@127.0.1.1:5061>;tag=4242SIPpTag001",
    "To: service <sip:service@127.0.0.1:5060>",
    "Call-ID: 1-4242@127.0.1.1",
    "CSeq: 1 INVITE",
    "Contact: sip:sipp@127.0.1.1:5061",
    "Max-Forwards: 70",
    "Subject: Performance Test",
    "Content-Type: application/sdp",
    "Content-Length: {LEN}",
  ],
  SIPP_SDP,
);

/** An in-dialog BYE from the trunk towards us (after we answered TRUNK_INVITE with To-tag 8d2f...). */
export const TRUNK_BYE = wire([
  "BYE sip:agent@203.0.113.10:5060 SIP/2.0",
  "Via: SIP/2.0/UDP 52.9.254.127:5060;branch=z9hG4bK9a1e.8d3e1a77.0;rport",
  "Via: SIP/2.0/UDP 10.10.5.21:5080;received=10.10.5.21;rport=5080;branch=z9hG4bK0xQ3pLmZ7cH2y",
  "Max-Forwards: 68",
  'From: "+14155550123" <sip:+14155550123@52.9.254.127>;tag=as4f2a1b3c',
  "To: <sip:+14155550100@203.0.113.10>;tag=8d2f0c1b9e7a6d54",
  "Call-ID: 4c5b0b5e-ab7e-123a-9a5b-0242ac110002",
  "CSeq: 103 BYE",
  "User-Agent: Plivo",
  "Reason: Q.850;cause=16;text=\"NORMAL_CLEARING\"",
  "Content-Length: 0",
]);

/** A trunk's OPTIONS keep-alive ping. */
export const TRUNK_OPTIONS = wire([
  "OPTIONS sip:203.0.113.10:5060 SIP/2.0",
  "Via: SIP/2.0/UDP 52.9.254.127:5060;branch=z9hG4bK2b4d.0c1f9e3a.0",
  "Max-Forwards: 70",
  "From: <sip:ping@52.9.254.127>;tag=b7f1c2d3",
  "To: <sip:203.0.113.10:5060>",
  "Call-ID: 5b5e1f0c7d3a2b1e@52.9.254.127",
  "CSeq: 10 OPTIONS",
  "Accept: application/sdp",
  "Content-Length: 0",
]);

/** A 200 OK to an OPTIONS, with a Server header and empty body. */
export const OPTIONS_200 = wire([
  "SIP/2.0 200 OK",
  "Via: SIP/2.0/UDP 52.9.254.127:5060;branch=z9hG4bK2b4d.0c1f9e3a.0;received=52.9.254.127;rport=5060",
  "From: <sip:ping@52.9.254.127>;tag=b7f1c2d3",
  "To: <sip:203.0.113.10:5060>;tag=1f2e3d4c5b6a7980",
  "Call-ID: 5b5e1f0c7d3a2b1e@52.9.254.127",
  "CSeq: 10 OPTIONS",
  "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS",
  "Accept: application/sdp",
  "Server: voice-agent/0.1",
  "Content-Length: 0",
]);

/** A 180 Ringing response with a To-tag and Record-Route (dialog-creating provisional). */
export const RINGING_180 = wire([
  "SIP/2.0 180 Ringing",
  "Via: SIP/2.0/UDP 127.0.1.1:5061;branch=z9hG4bK-4242-1-0",
  "Record-Route: <sip:198.51.100.1;lr>",
  "From: sipp <sip:sipp@127.0.1.1:5061>;tag=4242SIPpTag001",
  "To: service <sip:service@127.0.0.1:5060>;tag=a6c85cf",
  "Call-ID: 1-4242@127.0.1.1",
  "CSeq: 1 INVITE",
  "Contact: <sip:service@127.0.0.1:5060>",
  "Content-Length: 0",
]);

/** A Linphone-style INVITE written with compact header names. */
export const COMPACT_INVITE = wire(
  [
    "INVITE sip:bob@192.0.2.4 SIP/2.0",
    "v: SIP/2.0/UDP 192.0.2.33:5060;branch=z9hG4bK.Jq1e2;rport",
    "f: <sip:alice@example.org>;tag=Xk1Lm2",
    "t: <sip:bob@192.0.2.4>",
    "i: 3f2a1c0e9b",
    "CSeq: 20 INVITE",
    "m: <sip:alice@192.0.2.33:5060>;+sip.instance=\"<urn:uuid:1234>\"",
    "k: replaces, outbound",
    "s: hello",
    "c: application/sdp",
    "l: {LEN}",
  ],
  SIPP_SDP,
);

/** The canonical serialisation of COMPACT_INVITE. */
export const COMPACT_INVITE_CANONICAL = wire(
  [
    "INVITE sip:bob@192.0.2.4 SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.33:5060;branch=z9hG4bK.Jq1e2;rport",
    "From: <sip:alice@example.org>;tag=Xk1Lm2",
    "To: <sip:bob@192.0.2.4>",
    "Call-ID: 3f2a1c0e9b",
    "CSeq: 20 INVITE",
    "Contact: <sip:alice@192.0.2.33:5060>;+sip.instance=\"<urn:uuid:1234>\"",
    "Supported: replaces, outbound",
    "Subject: hello",
    "Content-Type: application/sdp",
    "Content-Length: {LEN}",
  ],
  SIPP_SDP,
);

/** Every fixture that serialises back to identical bytes. */
export const CANONICAL_FIXTURES: Record<string, string> = {
  TRUNK_INVITE,
  SIPP_INVITE,
  TRUNK_BYE,
  TRUNK_OPTIONS,
  OPTIONS_200,
  RINGING_180,
  COMPACT_INVITE_CANONICAL,
};
