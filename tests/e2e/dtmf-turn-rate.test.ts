/**
 * Key presses as a cost lever (s19 fresheyes finding): every DTMF key group is a caller turn and every turn an
 * LLM request carrying the whole history, so a caller pressing `#` as fast as RTP carries it made 291 LLM
 * requests in 10 s (the request growing from 1.1 to 8.2 K characters). Groups are now handed on at most one
 * a second (src/pipeline/digit-collector.ts, MIN_GROUP_GAP_MS), keys pressed meanwhile joining the next.
 * On the compiled agent with the cloud fakes (loopback): a call from raw SIP, then `#` ten times a second for
 * 5 s as RFC 4733 events → the Gemini fake sees the greeting and at most one request a second (7 with
 * slack), not ~50; and the keys still reach it (the last request names them).
 * `VOICE_AGENT_E2E_BINARY=/path bun test …` runs it against another binary (the before/after).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { sipRequest, type Udp } from "./attack-support.ts";
import { startCloudFakes, type CloudFakes } from "./cloud-support.ts";

let agent: RunningAgent | undefined;
let fakes: CloudFakes | undefined;
const sockets: Udp[] = [];
afterAll(async () => {
  for (const s of sockets) s.close();
  await agent?.stop();
  await fakes?.close();
}, 30_000);

describe("DTMF key groups and LLM requests (compiled binary, cloud fakes, loopback)", () => {
  test("# pressed ten times a second for 5 s: at most one LLM request a second, the keys still reach the LLM", async () => {
    fakes = startCloudFakes({ script: [], direct: true });
    const binary = process.env.VOICE_AGENT_E2E_BINARY;
    agent = await startAgent(fakes.env({ IDLE_PROMPT_S: "3600" }), ["--mode", "inbound"], binary ? { binary } : {});
    const to = { host: "127.0.0.1", port: agent.sipPort };
    const sip: string[] = [];
    const signalling = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void sip.push(Buffer.from(d).toString()) } });
    const media = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, binaryType: "uint8array" });
    sockets.push(signalling, media);
    const from = { host: "127.0.0.1", port: signalling.port };
    const callId = `dtmf-rate-${process.pid}@127.0.0.1`;
    // The INVITE offers PCMU and telephone-event on 101 (attack-support.ts); our media socket is its m= port.
    signalling.send(sipRequest("INVITE", { to, from, callId, tag: "keys" }).replace(/^m=audio \d+/m, `m=audio ${media.port}`), to.port, to.host);
    const ok = await waitFor(() => sip.find((m) => m.startsWith("SIP/2.0 200") && m.includes(callId)), 15_000, "the 200 OK");
    const toTag = /^To:.*;tag=([^;>\s]+)/im.exec(ok)![1]!;
    signalling.send(sipRequest("ACK", { to, from, callId, tag: "keys", toTag }), to.port, to.host);
    const rtpPort = Number(/^m=audio (\d+)/m.exec(ok)![1]);
    let seq = 0;
    let ts = 0;
    const send = (payloadType: number, payload: Uint8Array, marker = false) =>
      media.send(serializeRtp({ marker, payloadType, sequenceNumber: seq++ & 0xffff, timestamp: ts >>> 0, ssrc: 0x7e1, payload }), rtpPort, "127.0.0.1");
    for (let i = 0; i < 50; i++, ts += 160) {
      send(0, new Uint8Array(160).fill(0xff)); // 1 s of silence: the call's RTP is latched
      await Bun.sleep(20);
    }
    await waitFor(() => fakes!.gemini.requests.length >= 1, 15_000, "the greeting's LLM request");
    const before = fakes.gemini.requests.length;
    // RFC 4733 §2.3: event 11 ('#'), end bit on the last packet, volume 10; duration in timestamp units.
    const event = (duration: number, end: boolean) => Uint8Array.of(11, (end ? 0x80 : 0) | 10, duration >> 8, duration & 0xff);
    const started = Date.now();
    let keys = 0;
    while (Date.now() - started < 5000) {
      send(101, event(400, false), true);
      send(101, event(800, false));
      send(101, event(960, true));
      keys++;
      ts += 1600;
      await Bun.sleep(100);
    }
    await Bun.sleep(2500); // the last held group is handed on within a second
    const during = fakes.gemini.requests.length - before;
    const last = JSON.stringify(fakes.gemini.requests.at(-1));
    console.log(`dtmf-turn-rate: ${keys} keys in 5 s → ${during} LLM requests after the greeting's`);
    expect(keys).toBeGreaterThanOrEqual(20); // ~50 on an idle machine; fewer when the test itself is starved
    expect(during).toBeGreaterThanOrEqual(3);
    expect(during).toBeLessThanOrEqual(8);
    expect(last).toContain("keys pressed: ");
  }, 60_000);
});
