/**
 * The call boundary: a throw or a rejection inside one call's code (here its providers breaking their
 * contract) ends that call with the recorded reason "error" and a BYE; the other call goes on, and
 * nothing reaches the process as an unhandled error.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { FakeStt, FakeTts } from "../../src/providers/fake";
import type { SttOpenOptions, TtsStream } from "../../src/providers/types";
import { inboundHarness, invite, settle } from "./support.ts";

type H = Awaited<ReturnType<typeof inboundHarness>>;
let h: H | undefined;
const escaped: unknown[] = [];
const onEscape = (err: unknown) => void escaped.push(err);
beforeEach(() => {
  escaped.length = 0;
  process.on("unhandledRejection", onEscape);
  process.on("uncaughtException", onEscape);
});
afterEach(() => {
  process.off("unhandledRejection", onEscape);
  process.off("uncaughtException", onEscape);
  h?.dispose();
  h = undefined;
});

/** Two calls up (INVITE, 200, ACK each); returns their INVITEs, the first one first. */
async function twoCalls(x: H) {
  const a = invite(21);
  const b = invite(23);
  x.send(a);
  await settle();
  x.ack(a);
  await settle();
  x.send(b);
  await settle();
  x.ack(b);
  await settle();
  return { a, b };
}

function byeTo(x: H, callId: string) {
  return x.requests("BYE").filter((r) => r.callId === callId);
}

describe("one call's failure ends that call only", () => {
  test("synchronous: the first call's STT throws from push() on the media path; that call ends (error, BYE), the second goes on", async () => {
    const stt = new FakeStt();
    let opened = 0;
    const broken = {
      name: "broken-stt",
      async open(opts: SttOpenOptions) {
        const s = await stt.open(opts);
        if (opened++ === 0) s.push = () => { throw new TypeError("push on a broken stream"); };
        return s;
      },
    };
    h = await inboundHarness({ stt: broken, fallback: { stt: broken } });
    const { a, b } = await twoCalls(h);
    expect(h.inbound.size).toBe(2);
    h.clock.advance(200); // pacer ticks; with no caller RTP the media feeds silence frames to the STT
    await settle();
    expect(byeTo(h, a.callId)).toHaveLength(1);
    expect(byeTo(h, b.callId)).toHaveLength(0);
    expect(h.inbound.live().map((c) => c.sip.callId)).toEqual([b.callId]);
    expect(h.observer.events.filter((e) => e.startsWith("ended"))).toEqual(["ended error"]);
    const framesB = stt.streams[1]!.frames;
    h.clock.advance(200);
    await settle(); // the silence fill is taken after the thread's next socket poll (src/rtp/missing-media.ts)
    expect(stt.streams[1]!.frames).toBeGreaterThan(framesB); // the second call still hears (silence) frames
    expect(escaped).toEqual([]);
  });

  test("asynchronous: the first call's TTS throws from open(), so its reply's promise rejects; that call ends (error, BYE), the second goes on", async () => {
    const tts = new FakeTts();
    let opened = 0;
    const broken = {
      name: "broken-tts",
      open(opts: { signal: AbortSignal; callId: string }): TtsStream {
        if (opened++ === 0) throw new RangeError("tts context limit");
        return tts.open(opts);
      },
    };
    h = await inboundHarness({ tts: broken, fallback: { tts: broken } });
    const { a, b } = await twoCalls(h);
    await settle();
    expect(byeTo(h, a.callId)).toHaveLength(1);
    expect(byeTo(h, b.callId)).toHaveLength(0);
    expect(h.inbound.live().map((c) => c.sip.callId)).toEqual([b.callId]);
    expect(h.observer.events.filter((e) => e.startsWith("ended"))).toEqual(["ended error"]);
    expect(tts.contexts.length).toBeGreaterThan(0); // the second call's greeting was synthesised
    expect(escaped).toEqual([]);
  });
});
