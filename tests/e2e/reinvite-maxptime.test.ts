/**
 * A re-INVITE that changes only `a=maxptime` (RFC 4566 §6: "the maximum amount of media that can be
 * encapsulated in each packet") — a carrier moving the call to a media server that takes 10 ms packets —
 * was answered 200 but not applied (s23 fresheyes3): our answer's bytes did not change, and the media was
 * re-applied only when the codec, payload types, direction or address did (src/sdp/renegotiation.ts
 * mediaChanged). On the compiled agent (loopback, raw UDP caller): the agent's packets carry 160 bytes of
 * PCMU; after a re-INVITE with `a=maxptime:10` (o= version 2) they carry 80, two per 20 ms; after one
 * without it (version 3) 160 again.
 * `VOICE_AGENT_E2E_BINARY=/path bun test …` runs it against another binary (the before/after).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { sipRequest, type Udp } from "./attack-support.ts";

const started: RunningAgent[] = [];
const sockets: Udp[] = [];
afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.all(started.map((a) => a.stop()));
}, 30_000);

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
    const to = { host: "127.0.0.1", port: agent.sipPort };
    const sip: string[] = [];
    const signalling = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void sip.push(Buffer.from(d).toString()) } });
    const sizes: { at: number; bytes: number }[] = [];
    const media = await Bun.udpSocket({
      hostname: "127.0.0.1",
      port: 0,
      binaryType: "uint8array",
      socket: { data: (_s, d) => void (d[1]! < 200 && sizes.push({ at: performance.now(), bytes: d.length - 12 })) },
    });
    sockets.push(signalling, media);
    const from = { host: "127.0.0.1", port: signalling.port };
    const callId = `reinvite-maxptime-${process.pid}@127.0.0.1`;
    const withBody = (msg: string, body: string) => msg.replace(/Content-Length: \d+\r\n\r\n[\s\S]*$/, `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    signalling.send(withBody(sipRequest("INVITE", { to, from, callId, tag: "caller" }), offer(media.port, 1, [])), to.port, to.host);
    const ok = await waitFor(() => sip.find((m) => m.startsWith("SIP/2.0 200") && m.includes(callId)), 15_000, "the 200 OK");
    const toTag = /^To:.*;tag=([^;>\s]+)/im.exec(ok)![1]!;
    signalling.send(sipRequest("ACK", { to, from, callId, tag: "caller", toTag }), to.port, to.host);
    const rtpPort = Number(/^m=audio (\d+)/m.exec(ok)![1]);
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
      const msg = withBody(sipRequest("INVITE", { to, from, callId, tag: "caller", toTag, cseq }), offer(media.port, version, extra));
      signalling.send(msg, to.port, to.host);
      await waitFor(() => sip.find((m) => m.startsWith("SIP/2.0 200") && m.includes(callId) && new RegExp(`^CSeq:\\s*${cseq} INVITE`, "im").test(m)), 10_000, `the 200 to re-INVITE ${cseq}`);
      signalling.send(sipRequest("ACK", { to, from, callId, tag: "caller", toTag, cseq }), to.port, to.host);
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
    } finally {
      clearInterval(timer);
    }
    await Bun.sleep(100);
    signalling.send(sipRequest("BYE", { to, from, callId, tag: "caller", toTag, cseq: 4 }), to.port, to.host);
    await waitFor(() => sip.find((m) => m.startsWith("SIP/2.0 200") && m.includes(callId) && /^CSeq:\s*4 BYE/im.test(m)), 5000, "the 200 to our BYE");
  }, 60_000);
});
