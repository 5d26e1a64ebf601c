/**
 * A re-INVITE that changes only `a=maxptime` (RFC 4566 §6: "the maximum amount of media that can be
 * encapsulated in each packet") — a carrier moving the call to a media server that takes 10 ms packets —
 * was answered 200 but not applied (s23 fresheyes3): our answer's bytes did not change, and the media was
 * re-applied only when the codec, payload types, direction or address did (src/sdp/renegotiation.ts
 * mediaChanged). On the compiled agent (loopback, raw UDP caller): the agent's packets carry 160 bytes of
 * PCMU; after a re-INVITE with `a=maxptime:10` (o= version 2) they carry 80, two per 20 ms; after one
 * without it (version 3) 160 again. A maxptime under 10 ms (src/sdp/answer.ts MIN_SEND_PTIME_MS) is refused
 * with 488 in a re-INVITE (the media goes on unchanged) and in an INVITE.
 * `VOICE_AGENT_E2E_BINARY=/path bun test …` runs it against another binary (the before/after).
 */
import { describe, expect, test } from "bun:test";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { startAgent, waitFor } from "./agent.ts";
import { sipRequest } from "./attack-support.ts";
import { closeAfterAll, placeRawCall, withBody } from "./raw-call.ts";

const { started, calls } = closeAfterAll();

const offer = (port: number, version: number, extra: string[]) =>
  [
    "v=0",
    `o=caller 7 ${version} IN IP4 127.0.0.1`,
    "s=-",
    "c=IN IP4 127.0.0.1",
    "t=0 0",
    `m=audio ${port} RTP/AVP 0 101`,
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:101 telephone-event/8000",
    ...extra,
    "",
  ].join("\r\n");

describe("a re-INVITE changing a=maxptime (compiled binary, loopback)", () => {
  test("maxptime:10 added → the agent's packets carry 80 bytes, two per 20 ms; removed → 160 again", async () => {
    const binary = process.env.VOICE_AGENT_E2E_BINARY;
    const agent = await startAgent({ IDLE_PROMPT_S: "3600", RTP_SILENCE_SUPPRESSION: "off" }, ["--mode", "inbound"], binary ? { binary } : {});
    started.push(agent);
    const sizes: { at: number; bytes: number }[] = [];
    const callId = `reinvite-maxptime-${process.pid}@127.0.0.1`;
    const call = await placeRawCall(agent, callId, {
      offer: (port) => offer(port, 1, []),
      onMedia: (d) => void (d[1]! < 200 && sizes.push({ at: performance.now(), bytes: d.length - 12 })),
    });
    calls.push(call);
    const { media, rtpPort } = call;
    let seq = 0;
    const timer = setInterval(() => {
      media.send(serializeRtp({ marker: seq === 0, payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc: 0x7e57, payload: new Uint8Array(160).fill(0xff) }), rtpPort, "127.0.0.1");
      seq++;
    }, 20);
    /** Payload sizes the agent sent over the next `ms`, and how many packets. */
    const window = async (ms: number) => {
      const t = performance.now();
      await Bun.sleep(ms);
      const got = sizes.filter((s) => s.at >= t);
      return { packets: got.length, sizes: [...new Set(got.map((s) => s.bytes))].sort((a, b) => a - b) };
    };
    const reInvite = async (cseq: number, version: number, extra: string[]) => {
      await call.request("INVITE", cseq, offer(media.port, version, extra));
      await Bun.sleep(300); // the next packets follow the new negotiation
    };
    try {
      await waitFor(() => sizes.length > 10 || undefined, 10_000, "the agent's RTP");
      const before = await window(1000);
      await reInvite(2, 2, ["a=maxptime:10"]);
      const ten = await window(1000);
      await reInvite(3, 3, []);
      const back = await window(1000);
      console.log(`reinvite-maxptime: before ${JSON.stringify(before)}, after maxptime:10 ${JSON.stringify(ten)}, after it was removed ${JSON.stringify(back)}`);
      expect(before.sizes).toEqual([160]);
      expect(ten.sizes).toEqual([80]);
      expect(ten.packets).toBeGreaterThan(1.5 * before.packets); // two packets per 20 ms frame (slack for a busy machine)
      expect(back.sizes).toEqual([160]);
      // A re-offer asking for packets under 10 ms (MIN_SEND_PTIME_MS) is refused; the media goes on as it was.
      call.signalling.send(withBody(sipRequest("INVITE", { to: call.to, from: call.from, callId, tag: "caller", toTag: call.toTag, cseq: 4 }), offer(media.port, 4, ["a=maxptime:1"])), call.to.port, call.to.host);
      const refused = await waitFor(() => call.sip.find((m) => /^CSeq:\s*4 INVITE/im.test(m) && /^SIP\/2\.0 [2-6]\d\d/.test(m)), 10_000, "the answer to the maxptime:1 re-INVITE");
      const kept = await window(1000);
      console.log(`reinvite-maxptime: maxptime:1 re-offer → ${refused.split("\r\n", 1)[0]}; then ${JSON.stringify(kept)}`);
      expect(refused).toStartWith("SIP/2.0 488");
      expect(refused).toMatch(/^Warning: 399 .*a=maxptime:1 /im);
      expect(kept.sizes).toEqual([160]);
      expect(kept.packets).toBeLessThan(1.5 * back.packets);
    } finally {
      clearInterval(timer);
    }
    await Bun.sleep(100);
    await call.request("BYE", 5);
  }, 60_000);

  test("an INVITE whose offer says a=maxptime:5 (under 10 ms) → 488 with a Warning naming it; the agent still takes a call", async () => {
    const binary = process.env.VOICE_AGENT_E2E_BINARY;
    const agent = await startAgent({ IDLE_PROMPT_S: "3600" }, ["--mode", "inbound"], binary ? { binary } : {});
    started.push(agent);
    const sip: string[] = [];
    const sock = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void sip.push(Buffer.from(d).toString()) } });
    try {
      const to = { host: "127.0.0.1", port: agent.sipPort };
      const from = { host: "127.0.0.1", port: sock.port };
      const callId = `maxptime-5-${process.pid}@127.0.0.1`;
      sock.send(withBody(sipRequest("INVITE", { to, from, callId, tag: "caller" }), offer(40_000, 1, ["a=maxptime:5"])), to.port, to.host);
      const final = await waitFor(() => sip.find((m) => m.includes(callId) && /^SIP\/2\.0 [2-6]\d\d/.test(m)), 10_000, "the final answer");
      expect(final).toStartWith("SIP/2.0 488");
      expect(final).toMatch(/^Warning: 399 .*a=maxptime:5 /im);
    } finally {
      sock.close();
    }
    const call = await placeRawCall(agent, `maxptime-ok-${process.pid}@127.0.0.1`, { offer: (port) => offer(port, 1, ["a=maxptime:10"]) });
    calls.push(call);
    await call.request("BYE", 2);
  }, 60_000);
});
