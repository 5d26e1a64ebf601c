/**
 * Outbound calls to a real softphone: baresip 1.0.0 auto-answers and records what it hears. The agent
 * (in this process, real UDP/RTP/HTTP/SQLite) must be heard saying its opening — checked by the
 * normalised cross-correlation of the recording with flite's synthesis of the opening text (flite is
 * deterministic, so the agent's audio is predictable sample for sample, up to G.711). Both ways of
 * ending: the callee hangs up (baresip's BYE when its WAV ends) and the agent hangs up (end_call after
 * the callee spoke).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createFliteTts } from "../../src/providers/flite/flite-tts";
import { SentenceSplitter } from "../../src/pipeline/sentence-splitter";
import { concatInt16 } from "../../src/util/concat";
import { matchAudio, segmentTalkspurts, trimSilence } from "../support/audio-match.ts";
import { g711RoundTrip } from "../support/g711.ts";
import { stopAllManaged } from "../support/process.ts";
import { speechPcm8k } from "../support/speech.ts";
import { saveArtifactWav } from "../support/wav.ts";
import { startBaresipCallee } from "./support/baresip.ts";
import { startTestAgent } from "./support/agent.ts";

const hasBaresip = !!Bun.which("baresip");
const OPENING = "Hello! I'm calling about your order. Do you have a moment?";
const CALL = { phone_number: "+14155550100", opening_reason: "about your order", objective: "Tell them it ships tomorrow." };

const silence = (ms: number) => new Int16Array((ms * 8000) / 1000);
const concat = (...parts: Int16Array[]): Int16Array => concatInt16(parts);

/**
 * What the agent's audio for `text` must look like at the far end: the reply is cut into chunks by the
 * same SentenceSplitter the conversation uses, each chunk synthesised on its own by flite (its audio
 * does not depend on its neighbours), played back to back, then μ-law-encoded and decoded.
 */
async function expected(text: string): Promise<Int16Array> {
  const tts = createFliteTts();
  const splitter = new SentenceSplitter();
  const chunks = [...splitter.push(text), ...splitter.flush()];
  const parts: Int16Array[] = [];
  for (const c of chunks) parts.push(await tts.synthesize8k(c));
  return g711RoundTrip(trimSilence(concat(...parts)));
}

afterAll(() => stopAllManaged());

describe.skipIf(!hasBaresip)("outbound to baresip (auto-answer, recording)", () => {
  test("the callee hears the opening; the callee's BYE ends the call: completed, remote BYE", async () => {
    const callee = await startBaresipCallee({ user: "+14155550100", micPcm: silence(7500) });
    const agent = await startTestAgent({ env: { SIP_TRUNK_HOST: "127.0.0.1", SIP_TRUNK_PORT: String(callee.port) } });
    try {
      const placed = await agent.api("POST", "/outbound/call", CALL);
      expect(placed.status).toBe(201);
      const done = await agent.waitForCall(placed.body.call_id, (c) => c.status === "completed", 20_000);
      expect(done).toMatchObject({ end_reason: "remote_bye", hangup_cause: { code: null, reason: "BYE from the callee", source: "remote" } });
      expect(done.transcript[0]).toMatchObject({ speaker: "agent", text: OPENING });
      await callee.proc.waitForLine(/terminated \(duration/, { timeoutMs: 3000 });
      const heard = callee.recording();
      expect(heard).toBeDefined();
      saveArtifactWav("outbound-baresip-callee-bye", heard!);
      const spurts = segmentTalkspurts(heard!);
      expect(spurts.length).toBeGreaterThanOrEqual(1);
      const m = matchAudio(heard!, await expected(OPENING));
      console.log(`baresip heard ${(heard!.length / 8000).toFixed(2)} s, ${spurts.length} talkspurt(s); opening match ${m.score.toFixed(3)} at ${m.offsetMs.toFixed(0)} ms`);
      expect(m.score).toBeGreaterThan(0.9);
      expect(m.offsetMs).toBeLessThan(1500); // the agent speaks first, right after the answer
    } finally {
      await agent.stop();
      await callee.stop();
    }
  }, 40_000);

  test("the callee answers the opening; the agent says goodbye and sends BYE: completed, outcome recorded", async () => {
    const answer = await speechPcm8k("Yes, that works for me.");
    const callee = await startBaresipCallee({ user: "+14155550100", micPcm: concat(silence(7000), answer, silence(9000)) });
    const agent = await startTestAgent({ env: { SIP_TRUNK_HOST: "127.0.0.1", SIP_TRUNK_PORT: String(callee.port) } });
    try {
      const placed = await agent.api("POST", "/outbound/call", CALL);
      const done = await agent.waitForCall(placed.body.call_id, (c) => c.status === "completed", 25_000);
      expect(done).toMatchObject({
        end_reason: "end_call",
        outcome: "the callee confirmed",
        outcome_source: "end_call",
        hangup_cause: { code: null, reason: "the agent ended the call", source: "local" },
      });
      expect(done.transcript.map((t: any) => `${t.speaker}: ${t.text}`)).toEqual([`agent: ${OPENING}`, "callee: Yes, that works for me.", "agent: Thank you. Goodbye."]);
      await callee.proc.waitForLine(/terminated \(duration/, { timeoutMs: 3000 });
      expect(callee.proc.stdout() + callee.proc.stderr()).toMatch(/session closed|terminated/);
      const heard = callee.recording()!;
      saveArtifactWav("outbound-baresip-agent-bye", heard);
      const opening = matchAudio(heard, await expected(OPENING));
      const goodbye = matchAudio(heard, await expected("Thank you. Goodbye."));
      console.log(`opening match ${opening.score.toFixed(3)} at ${opening.offsetMs.toFixed(0)} ms; goodbye ${goodbye.score.toFixed(3)} at ${goodbye.offsetMs.toFixed(0)} ms`);
      expect(opening.score).toBeGreaterThan(0.9);
      expect(goodbye.score).toBeGreaterThan(0.9);
      expect(goodbye.offsetMs).toBeGreaterThan(opening.offsetMs + 4000); // after the opening and the callee's answer
      // The agent's BYE came well before baresip's WAV ran out (7 + 1.5 + 9 s).
      expect(Date.parse(done.ended_at) - Date.parse(done.answered_at)).toBeLessThan(14_500);
    } finally {
      await agent.stop();
      await callee.stop();
    }
  }, 40_000);
});
