/**
 * A refused offer's 488 says why in a Warning (RFC 3261 §21.4.26: "SHOULD include a Warning header field
 * value explaining why the offer was rejected"), and the reason — which quotes the offer — goes out as a
 * clean §25.1 quoted-string: no control bytes, no nested quotes, whatever the offer held.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { SipResponse } from "../../src/sip";
import { inboundHarness, invite, settle } from "./support.ts";

type H = Awaited<ReturnType<typeof inboundHarness>>;
let h: H | undefined;
afterEach(() => {
  h?.dispose();
  h = undefined;
});

const QUOTED_STRING = /^(305|399) voice-agent "[\x20\x21\x23-\x5b\x5d-\x7e]*"$/;

async function refusal(body: string): Promise<{ status: number; warning: string | undefined }> {
  h = await inboundHarness();
  const inv = invite(9, body);
  h.send(inv);
  await settle();
  const res = h.transport.sent
    .map((s) => s.message)
    .find((m): m is SipResponse => m.kind === "response" && m.callId === inv.callId && m.status >= 200);
  expect(h.pool.inUse).toBe(0);
  return { status: res!.status, warning: res!.headers.get("Warning") };
}

describe("488 Warning for a refused offer", () => {
  test("binary bytes in the offer's first line: the Warning quotes them as '?' and uses ' for quotes", async () => {
    const r = await refusal("\x00\x01\x02\xff\x7f\x1b[31m\"x\"\\\r\n");
    expect(r.status).toBe(488);
    expect(r.warning).toMatch(QUOTED_STRING);
    expect(r.warning).toBe(`399 voice-agent "first line must be v=0, got '??????[31m'x'?'"`);
  });

  test("PCMU at 16000 Hz: 305 naming the clock rate, not 'no PCMU' with PCMU in the list", async () => {
    const sdp = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 4000 RTP/AVP 0 101",
      "a=rtpmap:0 PCMU/16000", "a=rtpmap:101 telephone-event/8000", ""].join("\r\n");
    const r = await refusal(sdp);
    expect(r.status).toBe(488);
    expect(r.warning).toBe('305 voice-agent "offer lists no PCMU/PCMA at 8000 Hz mono (has: PCMU/16000, telephone-event)"');
  });

  test("c=IN IP6 to an agent whose RTP socket is IPv4: 488 naming both families (was 200, then no audio ever reached the caller)", async () => {
    const sdp = ["v=0", "o=- 1 1 IN IP6 ::1", "s=-", "c=IN IP6 ::1", "t=0 0", "m=audio 4000 RTP/AVP 0", ""].join("\r\n");
    const r = await refusal(sdp);
    expect(r.status).toBe(488);
    expect(r.warning).toBe('399 voice-agent "c= address ::1 is IPv6; this agent sends media over IPv4 only"');
  });
});
