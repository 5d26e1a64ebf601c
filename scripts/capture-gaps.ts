/**
 * capture-gaps: read a capture kept by `bench:load --keep-capture DIR` (the agent's RTP, pcap) and list
 *   1. every silence frame inside a phrase (what bench:load counts as "silence in phrases"), with its call, time,
 *      talkspurt position, the inter-arrival gap before it and the sequence/timestamp steps;
 *   2. the instants the agent's sending stopped for many calls at once (a stall of the whole call thread, not of
 *      one call): inside a talkspurt (sequence +1, timestamp +160, no marker) an inter-arrival gap ≥ --min-gap ms
 *      (default 40), clustered across calls within 20 ms, at least --min-calls calls (default 3).
 * Times are wall clock (epoch ms and ISO, from the capture), to line up with the agent's log (`--agent-log`:
 * pacer tick late, BUN_JSC_logGC collections).
 * With the TTS fake's timeline (`--tts`, default CAPTURE.tts.json, written by bench:load beside the capture:
 * when each chunk left the fake), each silence frame also says which reply sentence (transcript) and chunk
 * held the audio it needed, and when that chunk left the fake: before the frame was due (the agent had the
 * audio and still sent silence) or after it (the reply's audio itself came late).
 *
 *   bun scripts/capture-gaps.ts /tmp/caps/cloud-200-after-0.pcap [--min-gap 40] [--min-calls 3] [--tts FILE]
 */
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { udpDatagramsFromFile } from "../tests/support/pcap.ts";
import { rtpStreamsFromDatagrams } from "../tests/support/rtp-streams.ts";
import { PHRASE_GAP_MS } from "../tests/support/load-gate.ts";
import { ttsSourceOf } from "../tests/support/tts-timeline.ts";

const { values: opt, positionals } = parseArgs({ allowPositionals: true, options: { "min-gap": { type: "string", default: "40" }, "min-calls": { type: "string", default: "3" }, tts: { type: "string" } } });
const file = positionals[0];
if (!file) throw new Error("usage: bun scripts/capture-gaps.ts CAPTURE.pcap [--min-gap MS] [--min-calls N]");
const minGap = Number(opt["min-gap"]);
const minCalls = Number(opt["min-calls"]);
const streams = rtpStreamsFromDatagrams(udpDatagramsFromFile(new Uint8Array(readFileSync(file)))).filter((s) => s.audioPackets.length > 50);
/** A G.711 silence frame: every byte the same μ-law or A-law zero (0xff/0x7f μ-law, 0xd5/0x55 A-law). */
const isSilence = (p: Uint8Array) => {
  const s = p[0];
  if (s !== 0xff && s !== 0x7f && s !== 0xd5 && s !== 0x55) return false;
  for (let i = 1; i < p.length; i++) if (p[i] !== s) return false;
  return true;
};
const ttsFile = opt.tts ?? `${file}.tts.json`;
const tts = existsSync(ttsFile) ? ttsSourceOf(JSON.parse(readFileSync(ttsFile, "utf8")), streams) : undefined;
const t00 = Math.min(...streams.map((s) => s.audioPackets[0]!.arrivalMs));
const iso = (ms: number) => new Date(ms).toISOString().slice(11, 23);

let silenceFrames = 0;
const stallGaps: { t: number; gap: number; call: number }[] = [];
for (const [si, s] of streams.entries()) {
  const pk = s.audioPackets;
  const n = pk.length;
  for (let i = 1; i < n; i++) {
    const a = pk[i - 1]!, b = pk[i]!;
    const gap = b.arrivalMs - a.arrivalMs;
    if (!b.marker && b.extSeq === a.extSeq + 1 && b.extTimestamp === a.extTimestamp + 160 && gap >= minGap) stallGaps.push({ t: b.arrivalMs, gap, call: si });
  }
  for (let i = 0; i < n; ) {
    if (!isSilence(pk[i]!.payload)) { i++; continue; }
    let j = i;
    while (j < n && isSilence(pk[j]!.payload)) j++;
    // As load-gate.ts counts them: sent silence (the run ends at a marker frame) between audio, shorter than
    // PHRASE_GAP_MS, so it sits inside a phrase.
    if (i > 0 && j < n && pk[j]!.marker && (j - i) * 20 < PHRASE_GAP_MS) {
      let k = i - 1;
      while (k > 0 && !pk[k]!.marker) k--;
      silenceFrames += j - i;
      const p = pk[i]!, q = pk[i - 1]!;
      console.log(`silence: call ${si} ${iso(p.arrivalMs)} (+${(p.arrivalMs - t00).toFixed(0)} ms) ${j - i} frames, ${i - k} frames into the talkspurt; gap before ${(p.arrivalMs - q.arrivalMs).toFixed(1)} ms; seq step ${p.extSeq - q.extSeq}, ts step ${p.extTimestamp - q.extTimestamp}`);
      const src = tts?.(si, i, isSilence);
      if (src) console.log(`  ${src}`);
    }
    i = j;
  }
}
console.log(`silence frames inside phrases: ${silenceFrames} in ${streams.length} streams`);

stallGaps.sort((a, b) => a.t - b.t);
let stalls = 0;
for (let i = 0; i < stallGaps.length; ) {
  let j = i + 1;
  while (j < stallGaps.length && stallGaps[j]!.t - stallGaps[i]!.t <= 20) j++;
  const group = stallGaps.slice(i, j);
  const calls = new Set(group.map((g) => g.call)).size;
  if (calls >= minCalls) {
    stalls++;
    const gaps = group.map((g) => g.gap).sort((a, b) => a - b);
    console.log(`stall: ${iso(group[0]!.t)} epoch ${group[0]!.t.toFixed(0)} (+${(group[0]!.t - t00).toFixed(0)} ms) ${calls} calls, gap ${gaps[0]!.toFixed(1)}–${gaps[gaps.length - 1]!.toFixed(1)} ms`);
  }
  i = j;
}
console.log(`instants with a gap >= ${minGap} ms in >= ${minCalls} calls at once: ${stalls}`);
