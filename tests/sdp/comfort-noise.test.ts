/**
 * Comfort noise in our answer (RFC 3389; RTP_SILENCE_SUPPRESSION=on, src/sdp/answer.ts `comfortNoise`):
 * CN/8000 under the static PT 13 is accepted when the offer lists it, so our keep-alives in silence can
 * be CN packets; never when not offered, never when not asked for (the answer stays byte for byte as
 * before), and a re-offer in the dialog keeps the rule (SdpSession.answer).
 */
import { describe, expect, test } from "bun:test";
import { createAnswer, SdpSession } from "../../src/sdp/index.ts";
import { PLIVO_LIKE, SIPP_UAC } from "./fixtures.ts";

const LOCAL = { localAddress: "192.0.2.10", localPort: 20000, sessionId: "4242", sessionVersion: 1 };

describe("createAnswer with comfortNoise", () => {
  test("offer lists 13 CN/8000 (a FreeSWITCH-like trunk) → our m-line lists 13 with a=rtpmap:13 CN/8000", () => {
    const a = createAnswer({ offer: PLIVO_LIKE, ...LOCAL, comfortNoise: true });
    const lines = a.sdp.split("\r\n");
    expect(lines).toContain("m=audio 20000 RTP/AVP 0 101 13");
    expect(lines).toContain("a=rtpmap:13 CN/8000");
    expect(a.comfortNoise).toBe(true);
  });

  test("not asked for: the answer is the one we always sent (no 13)", () => {
    const off = createAnswer({ offer: PLIVO_LIKE, ...LOCAL });
    expect(off.sdp).toBe(createAnswer({ offer: PLIVO_LIKE, ...LOCAL, comfortNoise: false }).sdp);
    expect(off.sdp).toContain("m=audio 20000 RTP/AVP 0 101\r\n");
    expect(off.sdp).not.toContain("CN/8000");
    expect(off.comfortNoise).toBeUndefined();
  });

  test("not offered (SIPp's uac: PCMU only) → no CN, the keep-alive is a G.711 frame", () => {
    const a = createAnswer({ offer: SIPP_UAC, ...LOCAL, comfortNoise: true });
    expect(a.sdp).not.toContain("CN");
    expect(a.comfortNoise).toBeUndefined();
  });

  test("a re-offer in the dialog keeps CN when it is still offered, drops it when not", () => {
    const endpoint = { localAddress: "192.0.2.10", localPort: 20000, comfortNoise: true };
    const s = SdpSession.fromAnswer(createAnswer({ offer: PLIVO_LIKE, ...endpoint }), endpoint, PLIVO_LIKE);
    expect(s.media.comfortNoise).toBe(true);
    const bump = (sdp: string, v: string, m: string) => sdp.replace("1731000001", v).replace("m=audio 27890 RTP/AVP 0 8 101 13", m);
    const again = s.answer(bump(PLIVO_LIKE, "1731000002", "m=audio 27890 RTP/AVP 0 8 101 13"));
    expect(again.media.comfortNoise).toBe(true);
    const without = s.answer(bump(PLIVO_LIKE, "1731000003", "m=audio 27890 RTP/AVP 0 8 101").replace("a=rtpmap:13 CN/8000\r\n", ""));
    expect(without.media.comfortNoise).toBeUndefined();
    expect(without.sdp).not.toContain("CN/8000");
  });
});
