/**
 * Key presses as a cost lever (s19 fresheyes finding): every DTMF key group is a caller turn and every turn an
 * LLM request carrying the whole history, so a caller pressing `#` as fast as RTP carries it made 291 LLM
 * requests in 10 s (the request growing from 1.1 to 8.2 K characters). Groups are now handed on at most one
 * a second (src/pipeline/digit-collector.ts, MIN_GROUP_GAP_MS), keys pressed meanwhile joining the next.
 * On the compiled agent with the cloud fakes (loopback): a call from raw SIP, then `#` ten times a second for
 * 5 s as RFC 4733 events → the Gemini fake sees the greeting and at most one request a second (7 with
 * slack), not ~50; and the keys still reach it (the last request names them).
 *
 * A key group's bound (src/pipeline/digit-collector.ts MAX_GROUP_KEYS, s22 fresheyes2 finding): a caller
 * pressing keys without `#` made one caller turn of every key of the call (up to ~270,000 characters,
 * stored whole); a group now keeps the newest 64 keys. Two more calls: A presses 100 keys without `#`
 * (20 a second), B presses 1, 2, # in the middle of it → A's turn (the Gemini fake's request) is exactly
 * A's last 64 keys, B's is exactly "12#", and no turn holds more than 64 (the start binary of session 23
 * fails it: A's turn held all 100 keys).
 * `VOICE_AGENT_E2E_BINARY=/path bun test …` runs it against another binary (the before/after).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { startCloudFakes, type CloudFakes } from "./cloud-support.ts";
import { rawDtmfCall, type RawDtmfCall } from "./raw-dtmf-call.ts";

let agent: RunningAgent | undefined;
let fakes: CloudFakes | undefined;
const closers: RawDtmfCall[] = [];
afterAll(async () => {
  for (const c of closers) c.close();
  await agent?.stop();
  await fakes?.close();
}, 30_000);
beforeAll(async () => {
  fakes = startCloudFakes({ script: [], direct: true });
  const binary = process.env.VOICE_AGENT_E2E_BINARY;
  agent = await startAgent(fakes.env({ IDLE_PROMPT_S: "3600" }), ["--mode", "inbound"], binary ? { binary } : {});
}, 30_000);

/** RFC 4733 §3.2 event codes and their keys, without 11 ('#'). */
const EVENTS: Array<[number, string]> = [...Array.from({ length: 10 }, (_, i): [number, string] => [i, String(i)]), [10, "*"], [12, "A"], [13, "B"], [14, "C"], [15, "D"]];

describe("DTMF key groups and LLM requests (compiled binary, cloud fakes, loopback)", () => {
  test("# pressed ten times a second for 5 s: at most one LLM request a second, the keys still reach the LLM", async () => {
    const call = await rawDtmfCall(agent!, { callId: `dtmf-rate-${process.pid}@127.0.0.1`, tag: "keys" });
    closers.push(call);
    await waitFor(() => fakes!.gemini.requests.length >= 1, 15_000, "the greeting's LLM request");
    const before = fakes!.gemini.requests.length;
    const started = Date.now();
    let keys = 0;
    while (Date.now() - started < 5000) {
      call.key(11); // '#'
      keys++;
      await Bun.sleep(100);
    }
    await Bun.sleep(2500); // the last held group is handed on within a second
    const during = fakes!.gemini.requests.length - before;
    const last = JSON.stringify(fakes!.gemini.requests.at(-1));
    console.log(`dtmf-turn-rate: ${keys} keys in 5 s → ${during} LLM requests after the greeting's`);
    expect(keys).toBeGreaterThanOrEqual(20); // ~50 on an idle machine; fewer when the test itself is starved
    expect(during).toBeGreaterThanOrEqual(3);
    expect(during).toBeLessThanOrEqual(8);
    expect(last).toContain("keys pressed: ");
    await call.hangUp(); // a call left up holds the agent's stop for its 8 s grace (DRAIN_TIMEOUT_S)
  }, 60_000);
  test("100 keys without # in one call: its turn is the newest 64 keys; another call's keys meanwhile make their own turn", async () => {
    const requests = fakes!.gemini.requests.length;
    const a = await rawDtmfCall(agent!, { callId: `dtmf-bound-a-${process.pid}@127.0.0.1`, tag: "flood", ssrc: 0xa1 });
    closers.push(a);
    const b = await rawDtmfCall(agent!, { callId: `dtmf-bound-b-${process.pid}@127.0.0.1`, tag: "keys", ssrc: 0xb2 });
    closers.push(b);
    await waitFor(() => fakes!.gemini.requests.length >= requests + 2, 15_000, "the two greetings' LLM requests");
    let sent = "";
    for (let i = 0; i < 100; i++) {
      const [event, key] = EVENTS[i % EVENTS.length]!;
      a.key(event);
      sent += key;
      if (i === 50) for (const e of [1, 2, 11]) b.key(e);
      await Bun.sleep(50);
    }
    const turns = () => fakes!.gemini.requests.slice(requests).flatMap((r) => [...JSON.stringify(r).matchAll(/\[keys pressed: ([0-9*#A-D]+)\]/g)].map((m) => m[1]!));
    // A's group ends 2 s after its last key (DTMF_INTER_DIGIT_MS); its turn is the next LLM request.
    await waitFor(() => turns().some((k) => k.length >= 64), 15_000, "call A's key turn");
    const seen = [...new Set(turns())];
    console.log(`dtmf-group-bound: A sent ${sent.length} keys; turns seen: ${seen.map((k) => `${k.length} keys`).join(", ")}`);
    expect(seen).toContain(sent.slice(-64));
    expect(seen).toContain("12#");
    expect(Math.max(...seen.map((k) => k.length))).toBe(64);
    await a.hangUp(); // a call left up holds the agent's stop for its 8 s grace (DRAIN_TIMEOUT_S)
    await b.hangUp();
  }, 90_000);
});
