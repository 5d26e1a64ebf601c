/** SDP bodies used by the SDP tests. Lines joined with CRLF (RFC 4566 §5). */

const crlf = (lines: string[]) => `${lines.join("\r\n")}\r\n`;

/**
 * Plivo-like carrier offer (FreeSWITCH-style media gateway): PCMU, PCMA, telephone-event 101, CN.
 * Written from the usual shape of such offers, not captured.
 */
export const PLIVO_LIKE = crlf([
  "v=0",
  "o=FreeSWITCH 1731000000 1731000001 IN IP4 18.214.10.20",
  "s=FreeSWITCH",
  "c=IN IP4 18.214.10.20",
  "t=0 0",
  "m=audio 27890 RTP/AVP 0 8 101 13",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:8 PCMA/8000",
  "a=rtpmap:101 telephone-event/8000",
  "a=fmtp:101 0-16",
  "a=rtpmap:13 CN/8000",
  "a=ptime:20",
  "a=sendrecv",
  "a=rtcp:27891 IN IP4 18.214.10.20",
]);

/** SIPp 3.6.1 built-in `uac` scenario, captured on 127.0.0.1 (`sipp -sn uac -mp 26000`). */
export const SIPP_UAC =
  "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "m=audio 26000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/**
 * baresip 1.0.0 offer captured on 127.0.0.1 (modules opus g722 g711 l16 gsm): opus first, PCMU later,
 * PT 101 is L16 here and telephone-event is 105.
 */
export const BARESIP =
  "v=0\r\no=- 1427728491 1911356785 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
  "a=tool:baresip 1.0.0\r\nm=audio 20792 RTP/AVP 96 9 0 8 97 10 98 99 100 101 11 102 103 104 3 105\r\n" +
  "a=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1;sprop-stereo=1\r\na=rtpmap:9 G722/8000\r\n" +
  "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:97 L16/48000/2\r\na=rtpmap:10 L16/44100/2\r\n" +
  "a=rtpmap:98 L16/32000/2\r\na=rtpmap:99 L16/16000/2\r\na=rtpmap:100 L16/8000/2\r\na=rtpmap:101 L16/48000\r\n" +
  "a=rtpmap:11 L16/44100\r\na=rtpmap:102 L16/32000\r\na=rtpmap:103 L16/16000\r\na=rtpmap:104 L16/8000\r\n" +
  "a=rtpmap:3 GSM/8000\r\na=rtpmap:105 telephone-event/8000\r\na=fmtp:105 0-15\r\na=sendrecv\r\n" +
  "a=label:1\r\na=rtcp-rsize\r\na=ssrc:2470850366 cname:sip:alice@127.0.0.1:25060\r\na=minptime:4\r\n" +
  "a=ptime:20\r\n";

/** Builds a small offer around one m= section. */
export function offerWith(mediaLines: string[], sessionLines: string[] = ["c=IN IP4 203.0.113.7"]): string {
  return crlf([
    "v=0",
    "o=- 100 1 IN IP4 203.0.113.7",
    "s=-",
    ...sessionLines,
    "t=0 0",
    ...mediaLines,
  ]);
}

export const PCMA_ONLY = offerWith(["m=audio 40000 RTP/AVP 8", "a=ptime:20"]);
export const G729_ONLY = offerWith(["m=audio 40000 RTP/AVP 18 101", "a=rtpmap:18 G729/8000", "a=rtpmap:101 telephone-event/8000"]);

/** Session-level c= 198.51.100.1, media-level c= 198.51.100.99 (RFC 4566 §5.7). */
export const MEDIA_LEVEL_C = offerWith(
  ["m=audio 30000 RTP/AVP 0", "c=IN IP4 198.51.100.99", "a=rtpmap:0 PCMU/8000"],
  ["c=IN IP4 198.51.100.1"],
);
