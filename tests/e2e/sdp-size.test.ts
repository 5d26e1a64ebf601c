/**
 * An SDP body over 8 KB is refused unread (s23 fresheyes3): reading a 50 KB offer (2,400 m= lines or 4,000
 * attributes) took 5–8 ms of the thread that paces every call's RTP, so one INVITE, re-INVITE or UPDATE
 * like it stalled all calls' audio that long (src/sdp/parse.ts MAX_SDP_BYTES). On the compiled agent
 * (loopback, raw UDP): a new INVITE whose offer is 20 KB gets 488 with a Warning naming the size; in a
 * live call a 20 KB re-INVITE gets 488 and the call's media goes on; an ordinary re-INVITE still gets 200.
 * `VOICE_AGENT_E2E_BINARY=/path bun test …` runs it against another binary (the before/after).
 */
import { describe, expect, test } from "bun:test";
import { startAgent, waitFor } from "./agent.ts";
import { sipRequest } from "./attack-support.ts";
import { closeAfterAll, placeRawCall, withBody, type RawCall } from "./raw-call.ts";

const { started, calls } = closeAfterAll();

/** An offer for `port`, padded with `a=x-…` attributes to about `bytes`. */
const offer = (port: number, version: number, bytes = 0) => {
  const base = ["v=0", `o=caller 9 ${version} IN IP4 127.0.0.1`, "s=-", "c=IN IP4 127.0.0.1", "t=0 0", `m=audio ${port} RTP/AVP 0`, "a=rtpmap:0 PCMU/8000", ""].join("\r\n");
  const pad: string[] = [];
  for (let n = base.length, i = 0; n < bytes; i++) n += pad[pad.push(`a=x-${i}:${"p".repeat(40)}`) - 1]!.length + 2;
  return base + pad.map((l) => `${l}\r\n`).join("");
};
const status = (m: string) => m.split("\r\n")[0]!;

describe("SDP bodies over 8 KB (compiled binary, loopback)", () => {
  test("a 20 KB offer in a new INVITE → 488 with a Warning naming the size; in a re-INVITE → 488, the call goes on", async () => {
    const binary = process.env.VOICE_AGENT_E2E_BINARY;
    const agent = await startAgent({ IDLE_PROMPT_S: "3600" }, ["--mode", "inbound"], binary ? { binary } : {});
    started.push(agent);
    // A new call with a 20 KB offer.
    const sip: string[] = [];
    const sock = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void sip.push(Buffer.from(d).toString()) } });
    calls.push({ close: () => sock.close() } as RawCall);
    const to = { host: "127.0.0.1", port: agent.sipPort };
    const bigCallId = `sdp-size-new-${process.pid}@127.0.0.1`;
    const big = offer(40_000, 1, 20_000);
    expect(big.length).toBeGreaterThan(20_000);
    sock.send(withBody(sipRequest("INVITE", { to, from: { host: "127.0.0.1", port: sock.port }, callId: bigCallId }), big), to.port, to.host);
    const final = await waitFor(() => sip.find((m) => /^SIP\/2.0 [2-6]/.test(m) && m.includes(bigCallId)), 15_000, "a final response to the 20 KB INVITE");
    // In a live call: the caller's RTP flowing, then a 20 KB re-INVITE and an ordinary one.
    let received = 0;
    const call = await placeRawCall(agent, `sdp-size-live-${process.pid}@127.0.0.1`, { offer: (port) => offer(port, 1), onMedia: () => void received++ });
    calls.push(call);
    call.signalling.send(withBody(sipRequest("INVITE", { to, from: call.from, callId: call.callId, tag: "caller", toTag: call.toTag, cseq: 2 }), offer(call.media.port, 2, 20_000)), to.port, to.host);
    const reFinal = await waitFor(() => call.sip.find((m) => /^SIP\/2.0 [2-6]/.test(m) && /^CSeq:\s*2 INVITE/im.test(m)), 10_000, "a final response to the 20 KB re-INVITE");
    if (reFinal.startsWith("SIP/2.0 2")) call.signalling.send(sipRequest("ACK", { to, from: call.from, callId: call.callId, tag: "caller", toTag: call.toTag, cseq: 2 }), to.port, to.host);
    else call.signalling.send(sipRequest("ACK", { to, from: call.from, callId: call.callId, tag: "caller", toTag: call.toTag, cseq: 2, branch: /branch=([^;\r\n]+)/.exec(reFinal)![1] }), to.port, to.host);
    const before = received;
    await Bun.sleep(1000);
    const perSecond = received - before;
    await call.request("INVITE", 3, offer(call.media.port, 3));
    console.log(`sdp-size: new INVITE → "${status(final)}" ${/^Warning:.*$/im.exec(final)?.[0] ?? ""}; re-INVITE → "${status(reFinal)}"; agent packets in the next second ${perSecond}`);
    expect(status(final)).toBe("SIP/2.0 488 Not Acceptable Here");
    expect(final).toMatch(/^Warning: 399 \S+ "SDP body of \d{5} bytes is over 8192"/im);
    expect(status(reFinal)).toMatch(/^SIP\/2.0 488 /);
    expect(reFinal).toMatch(/^Warning: 399 \S+ "SDP body of \d{5} bytes is over 8192"/im);
    expect(perSecond).toBeGreaterThan(25); // the call's media went on (50 a second)
    await call.request("BYE", 4);
  }, 60_000);
});
