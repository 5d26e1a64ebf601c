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

describe("DTMF key groups and LLM requests (compiled binary, cloud fakes, loopback)", () => {
  test("# pressed ten times a second for 5 s: at most one LLM request a second, the keys still reach the LLM", async () => {
    fakes = startCloudFakes({ script: [], direct: true });
    const binary = process.env.VOICE_AGENT_E2E_BINARY;
    agent = await startAgent(fakes.env({ IDLE_PROMPT_S: "3600" }), ["--mode", "inbound"], binary ? { binary } : {});
    const call = await rawDtmfCall(agent, { callId: `dtmf-rate-${process.pid}@127.0.0.1`, tag: "keys" });
    closers.push(call);
    await waitFor(() => fakes!.gemini.requests.length >= 1, 15_000, "the greeting's LLM request");
    const before = fakes.gemini.requests.length;
    const started = Date.now();
    let keys = 0;
    while (Date.now() - started < 5000) {
      call.key(11); // '#'
      keys++;
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
    await call.hangUp(); // a call left up holds the agent's stop for its 8 s grace (DRAIN_TIMEOUT_S)
  }, 60_000);
});
