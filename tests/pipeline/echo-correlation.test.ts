/**
 * The correlation echo decision on real audio: the agent's words (flite kal16, as the agent speaks
 * them) sent as G.711 frames, coming back delayed and attenuated, with and without a caller (flite and
 * espeak-ng voices, quiet and loud) talking over it. Mixed and μ-law encoded as a line would.
 */
import { describe, expect, test } from "bun:test";
import { CorrelationEcho } from "../../src/pipeline/echo-correlation";
import { PlainCorrelationEcho } from "../support/echo-correlation-plain";
import { EchoReference } from "../../src/pipeline/echo-reference";
import { decodeG711, encodeG711 } from "../support/g711";
import { missingTools } from "../support/process";
import { mulberry32 } from "../support/prng";
import { speechPcm8k } from "../support/speech";
import { agentSpeech } from "../e2e/turn-support";

const noTools = missingTools(["flite", "sox", "espeak-ng"]).length > 0;
const AGENT = "Hello and thank you for calling the city library. I can help you renew books and reserve a study room.";

function peak(pcm: Int16Array, db: number): Int16Array {
  let p = 1;
  for (const v of pcm) p = Math.max(p, Math.abs(v));
  const g = (32767 * Math.pow(10, db / 20)) / p;
  return Int16Array.from(pcm, (v) => Math.round(v * g));
}

function frameRms(f: Int16Array): number {
  let e = 0;
  for (const v of f) e += v * v;
  return Math.sqrt(e / f.length);
}

/**
 * Feeds `agent` out frame by frame and the line's return (echo of it `delayMs` late at `echoDb`, plus
 * `caller` from `callerAtMs`) back in; returns per caller frame: echo decision and whether the caller
 * is audible in it (frame RMS ≥ −45 dBFS).
 */
function run(
  decide: { noteSent(p: Uint8Array): void; isLikelyEcho(pcm: Int16Array): boolean },
  agent: Int16Array,
  echo: { delayMs: number; db: number } | null,
  caller: Int16Array | null,
  callerAtMs = 2000,
): { echo: boolean; callerAudible: boolean; lineRms: number }[] {
  const frames = Math.floor(agent.length / 160);
  const sent = encodeG711(agent.subarray(0, frames * 160), "mulaw");
  const sentPcm = decodeG711(sent, "mulaw");
  const d = echo ? Math.round(echo.delayMs * 8) : 0;
  const g = echo ? Math.pow(10, echo.db / 20) : 0;
  const at = callerAtMs * 8;
  const out: { echo: boolean; callerAudible: boolean; lineRms: number }[] = [];
  for (let f = 0; f < frames; f++) {
    decide.noteSent(sent.subarray(f * 160, f * 160 + 160));
    const mix = new Int16Array(160);
    const c = new Int16Array(160);
    for (let i = 0; i < 160; i++) {
      const n = f * 160 + i;
      let v = echo && n - d >= 0 ? sentPcm[n - d]! * g : 0;
      if (caller && n >= at && n - at < caller.length) {
        c[i] = caller[n - at]!;
        v += c[i]!;
      }
      mix[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
    }
    const line = decodeG711(encodeG711(mix, "mulaw"), "mulaw");
    out.push({ echo: decide.isLikelyEcho(line), callerAudible: frameRms(c) >= 32768 * Math.pow(10, -45 / 20), lineRms: frameRms(line) });
  }
  return out;
}

describe.skipIf(noTools)("CorrelationEcho on real speech", () => {
  for (const [delayMs, db] of [
    [40, -20],
    [120, -15],
    [200, -12],
    [250, -6],
  ] as const) {
    test(`the agent's own voice ${-db} dB down, ${delayMs} ms late, is echo (≥ 97 % of audible frames)`, async () => {
      const agent = await agentSpeech(AGENT);
      const r = run(new CorrelationEcho("PCMU"), agent, { delayMs, db }, null);
      const audible = r.filter((x) => x.lineRms >= 32768 * Math.pow(10, -50 / 20));
      expect(audible.length).toBeGreaterThan(100);
      expect(audible.filter((x) => x.echo).length / audible.length).toBeGreaterThanOrEqual(0.97);
    });
  }

  const callers = [
    { engine: "flite" as const, voice: "slt", text: "Sorry." },
    { engine: "flite" as const, voice: "awb", text: "Sorry, can I ask something?" },
    { engine: "espeak-ng" as const, voice: "en-us", text: "Sorry, can I ask something?" },
  ];
  for (const c of callers) {
    test(`a quiet caller (${c.engine} ${c.voice}, peak −22 dBFS) over −20 dB echo is not echo; the level rule took it for echo`, async () => {
      const agent = await agentSpeech(AGENT);
      const caller = peak(await speechPcm8k(c.text, { engine: c.engine, voice: c.voice }), -22);
      const echo = { delayMs: 120, db: -20 };
      const xc = run(new CorrelationEcho("PCMU"), agent, echo, caller).filter((x) => x.callerAudible);
      const lv = run(new EchoReference("PCMU"), agent, echo, caller).filter((x) => x.callerAudible);
      const callerShare = (r: typeof xc) => r.filter((x) => !x.echo).length / r.length;
      expect(xc.length).toBeGreaterThan(10);
      expect(callerShare(xc)).toBeGreaterThanOrEqual(0.8);
      // The level rule's verdict on the same frames, for the record (it hid most of this caller).
      expect(callerShare(lv)).toBeLessThan(callerShare(xc));
    });
  }

  test("a caller on a line without echo is never taken for echo; neither is anything while we send silence", async () => {
    const agent = await agentSpeech(AGENT);
    const caller = peak(await speechPcm8k("Excuse me, I have a question.", { voice: "rms" }), -20);
    const r = run(new CorrelationEcho("PCMU"), agent, null, caller).filter((x) => x.callerAudible);
    expect(r.filter((x) => x.echo).length / r.length).toBeLessThanOrEqual(0.05);
    const silent = run(new CorrelationEcho("PCMU"), new Int16Array(agent.length), null, caller).filter((x) => x.callerAudible);
    expect(silent.every((x) => !x.echo)).toBe(true);
  });

  test("while the agent talks, a distant voice 30 dB below it is ignored (quiet floor); once it stopped, it is not", async () => {
    const agent = await agentSpeech(AGENT);
    let peakAgent = 1;
    for (const v of agent) peakAgent = Math.max(peakAgent, Math.abs(v));
    const distant = peak(await speechPcm8k("What time do you close today?", { voice: "kal" }), 20 * Math.log10(peakAgent / 32767) - 30);
    const e = new CorrelationEcho("PCMU");
    const frames = Math.floor(agent.length / 160);
    let ignored = 0;
    let audible = 0;
    let correlated = 0;
    for (let f = 0; f < frames; f++) {
      e.noteSent(encodeG711(agent.subarray(f * 160, f * 160 + 160), "mulaw"));
      const k = (f - 100) * 160;
      if (k < 0 || k + 160 > distant.length) continue;
      const line = decodeG711(encodeG711(distant.subarray(k, k + 160), "mulaw"), "mulaw");
      if (frameRms(line) < 32768 * Math.pow(10, -60 / 20)) continue;
      audible++;
      if (e.isLikelyEcho(line, true)) ignored++;
      if (e.isLikelyEcho(line, false)) correlated++; // no echo in it: only the floor should hide it
    }
    expect(audible).toBeGreaterThan(20);
    expect(ignored).toBe(audible);
    expect(correlated / audible).toBeLessThan(0.1); // a chance match of a quiet frame, now and then
  });

  test("line noise while the agent talks: at −65 dBFS taken by the quiet floor without a search, at −50 dBFS by the line-noise rule", async () => {
    const agent = await agentSpeech(AGENT);
    const frames = Math.floor(agent.length / 160);
    const noise = (dbfs: number, seed: number): Int16Array => {
      const r = mulberry32(seed);
      const a = 32768 * Math.pow(10, dbfs / 20) * Math.sqrt(3); // uniform in ±a: RMS a/√3
      const pcm = Int16Array.from({ length: frames * 160 }, () => Math.round((r() * 2 - 1) * a));
      return decodeG711(encodeG711(pcm, "mulaw"), "mulaw");
    };
    for (const [dbfs, shortcut] of [[-65, true], [-50, false]] as const) {
      // The same line searched as before the line-noise rule (session 18's plain form with the rule off).
      const searched = new PlainCorrelationEcho("PCMU", undefined, false);
      let differ = 0;
      const line = noise(dbfs, 7);
      const e = new CorrelationEcho("PCMU");
      let judged = 0;
      let taken = 0;
      let notTalking = 0;
      for (let f = 0; f < frames; f++) {
        e.noteSent(encodeG711(agent.subarray(f * 160, f * 160 + 160), "mulaw"));
        const x = line.subarray(f * 160, f * 160 + 160);
        // Once the agent stopped (no quiet floor), noise is searched and is not echo.
        searched.noteSent(encodeG711(agent.subarray(f * 160, f * 160 + 160), "mulaw"));
        if (e.isLikelyEcho(x, false)) notTalking++;
        searched.isLikelyEcho(x, false);
        const t = e.isLikelyEcho(x, true);
        if (searched.isLikelyEcho(x, true) !== t || searched.lastQuiet !== e.lastQuiet) differ++;
        if (e.lastLevelDb === undefined || e.lastLevelDb > -20) continue; // the floor is 17 dB under the agent's loudest frame
        judged++;
        if (t) taken++;
      }
      expect(judged).toBeGreaterThan(100);
      expect(taken).toBe(judged); // far under the agent: the quiet floor takes every frame, searched or not
      expect(notTalking).toBeLessThan(judged * 0.05);
      if (shortcut) expect(e.quietShortcutFrames).toBeGreaterThan(judged * 0.5);
      else expect(e.quietShortcutFrames).toBe(0);
      // Louder than SILENT_RMS (−61 dBFS): the line-noise rule, unsearched, decides as the search does.
      if (shortcut) expect(e.lineNoiseFrames).toBe(0);
      else expect(e.lineNoiseFrames).toBeGreaterThan(judged * 0.5);
      expect(differ).toBe(0);
    }
  });

  test.each([
    [-20, -50, 9],
    [-26, -50, 10],
    [-32, -50, 11],
    [-20, -55, 12],
    [-26, -45, 13],
  ])("a noisy line that returns our voice (echo %i dB, noise %i dBFS): decided as searched before the line-noise rule", async (echoDb, noiseDbfs, seed) => {
    const agent = await agentSpeech(AGENT);
    const frames = Math.floor(agent.length / 160);
    const r = mulberry32(seed);
    const a = 32768 * Math.pow(10, noiseDbfs / 20) * Math.sqrt(3);
    const sent = encodeG711(agent.subarray(0, frames * 160), "mulaw");
    const heard = decodeG711(sent, "mulaw");
    const d = 120 * 8; // 120 ms echo delay
    const g = Math.pow(10, echoDb / 20);
    const line = decodeG711(encodeG711(Int16Array.from({ length: frames * 160 }, (_, k) => Math.round((k >= d ? heard[k - d]! * g : 0) + (r() * 2 - 1) * a)), "mulaw"), "mulaw");
    const e = new CorrelationEcho("PCMU");
    const searched = new PlainCorrelationEcho("PCMU", undefined, false);
    let differ = 0;
    let echo = 0;
    let ruleAfterPath = 0;
    let pathAt = -1;
    for (let f = 0; f < frames; f++) {
      e.noteSent(sent.subarray(f * 160, f * 160 + 160));
      searched.noteSent(sent.subarray(f * 160, f * 160 + 160));
      const x = line.subarray(f * 160, f * 160 + 160);
      const before = e.lineNoiseFrames;
      const t = e.isLikelyEcho(x, true);
      if (pathAt >= 0 && e.lineNoiseFrames > before) ruleAfterPath++;
      if (pathAt < 0 && e.last.share >= 0.9 && e.last.gain <= 0.7) pathAt = f;
      if (t && !e.lastQuiet) echo++;
      if (searched.isLikelyEcho(x, true) !== t || searched.lastQuiet !== e.lastQuiet) differ++;
    }
    if (echoDb === -20 && noiseDbfs === -50) expect(echo).toBeGreaterThan(20); // our voice found in the line
    expect(e.lineNoiseFrames).toBeGreaterThan(0); // the rule ran (between our words, and where the echo drowns in the noise)
    expect(ruleAfterPath).toBe(0);
    expect(differ).toBe(0); // a 180-line sweep (echo −14…−34 dB, noise −58…−42 dBFS): 0 of 56,880 frames at 2 dB, 1 at 2.5, 27 at 3
  });

  test("something louder than what we sent is not our echo (G.168: echo loss ≥ 6 dB)", async () => {
    const agent = await agentSpeech(AGENT);
    const r = run(new CorrelationEcho("PCMU"), agent, { delayMs: 80, db: 3 }, null);
    const audible = r.filter((x) => x.lineRms >= 32768 * Math.pow(10, -50 / 20));
    expect(audible.filter((x) => x.echo).length).toBe(0);
  });
});
