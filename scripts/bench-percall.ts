/**
 * bench-percall: the CPU one call's media costs the agent, part by part, measured as CPU time (not wall
 * time), so it holds on a shared machine where bench:load's CPU share does not (a starved agent skips
 * work). Each part runs 40 calls in lock-step, the way they share the process, old way and new way:
 *   - VAD: Silero + speech detector + echo decision per caller frame; the confirming stream fed every
 *     frame (before) or forked at the first echo frame (after; src/pipeline/speech-detector.ts);
 *   - Deepgram: 20 ms (before) or 100 ms (after) of audio per WebSocket message, to the local fake
 *     (in-process, so its receiving is counted too);
 *   - resampler: building a converter (before) or taking one from the pool (after; src/media/resample.ts);
 *   - echo decision alone, per second of the agent talking (every caller frame is then correlated with
 *     the last 300 ms we sent): the plain form (before; tests/support/echo-correlation-plain.ts) and
 *     src/pipeline/echo-correlation.ts (after), on the agent's speech coming back at −20 dB, 120 ms late;
 *   - echo reference, the agent silent: `noteSent` of the silence frame every 20 ms, the full ring
 *     update (before) or its silence shortcut (after; src/pipeline/echo-correlation.ts);
 *   - pacer: every call talking, each on its own schedule (Pacer.startNow at a random moment), one RTP
 *     packet per tick on a real loopback UDP socket: a timer per talking call (before: `ownPhases` 1000)
 *     or one per 5 ms phase (after: the default 4), wall-clock timers (SystemClock);
 *   - RTP send: building the packet — an object, `serializeRtp` with its DataView (before) or
 *     RtpPacketWriter (after) — on a socket that only counts, 50 packets per call-second;
 *   - RTP receive: reading a fresh datagram (as Bun hands each one over) and copying its payload out —
 *     `parseRtp` (an object, a CSRC list, a payload view) then `slice` (before), or `parseRtpHeader`
 *     into the session's own object then one `slice` of the datagram (after; src/rtp/session.ts).
 *
 *   - VAD in a conversation over an echoing line: agent turns (its speech sent, the line returning its
 *     echo at −20 dB, 120 ms late) alternating with caller turns (the agent silent), the calls staggered
 *     by one turn's fraction; the confirming stream, once forked, runs to the end of the call (before:
 *     rejoinMs null) or stops 500 ms after each agent turn (after: DetectorOptions.rejoinMs default).
 *   - VAD cadence: the calls' frames arrive spread over each 20 ms (each call on its own phase, wall
 *     clock), as real calls' packets do, so one event-loop turn holds few windows; Silero windows batched
 *     per turn only (VAD_BATCH_MS=0, before) or after waiting up to N ms for other calls' windows
 *     (after; src/media/vad/batcher.ts). Prints the mean batch and how long a window waited for its result.
 *
 *   bun run bench:percall [--calls 40] [--seconds 10] [--rounds 2] [--parts echo,vad,conversation,cadence,deepgram,resampler,pacer,rtp]
 *     [--dg-chunks 20,100]   (Deepgram message sizes compared, ms; the first is the "before")
 *     [--vad-wait 0,4]       (VAD_BATCH_MS values compared by the cadence part, ms; the first is the "before")
 */
import { parseArgs } from "node:util";
import { loadSileroVad, type VadStream } from "../src/media/vad/silero.ts";
import { SileroSpeechDetector } from "../src/pipeline/speech-detector.ts";
import { CorrelationEcho, type EchoDecision } from "../src/pipeline/echo-correlation.ts";
import { PlainCorrelationEcho } from "../tests/support/echo-correlation-plain.ts";
import { decodeG711, encodeG711 } from "../tests/support/g711.ts";
import { DeepgramStt } from "../src/providers/deepgram/provider.ts";
import { Resampler } from "../src/media/resample.ts";
import { speechPcm8k } from "../tests/support/speech.ts";
import { startFakeDeepgram } from "../tests/fakes/deepgram.ts";
import { run as bytesOf, toFrames } from "../tests/fakes/g711-frames.ts";
import { Pacer } from "../src/rtp/pacer.ts";
import { RtpPacketWriter, newRtpHeader, parseRtp, parseRtpHeader, rtpPacketSize, serializeRtp } from "../src/rtp/packet.ts";
import { SystemClock } from "../src/util/clock.ts";

const { values: opt } = parseArgs({ options: { calls: { type: "string", default: "40" }, seconds: { type: "string", default: "10" }, rounds: { type: "string", default: "2" }, parts: { type: "string", default: "echo,vad,conversation,cadence,deepgram,resampler,pacer,rtp" }, "dg-chunks": { type: "string", default: "20,100" }, "vad-wait": { type: "string", default: "0,4" } } });
/** Deepgram message sizes compared, ms (--dg-chunks 100,200): the first is the "before". */
const dgChunks = opt["dg-chunks"]!.split(",").map(Number);
const parts = new Set(opt.parts!.split(","));
const calls = Number(opt.calls);
const seconds = Number(opt.seconds);
const frames = seconds * 50;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const turn = () => new Promise((r) => setImmediate(r));
const rows: string[] = [];
const row = (part: string, how: string, msPerCallS: number, extra: string) =>
  rows.push(`| ${part} | ${how} | ${msPerCallS.toFixed(2)} | ${(msPerCallS / 10).toFixed(3)} | ${extra} |`);

const vad = await loadSileroVad();
const speech = await speechPcm8k("I would like to book a table for two tonight, please.", { voice: "kal16" });
const line = new Int16Array(frames * 160);
line.set(speech.subarray(0, Math.min(speech.length, line.length - 8000)), 8000); // 1 s of digital silence, the caller, silence
/** The confirming stream without `copyFrom`: the detector feeds it every frame (the old way). */
const everyFrame = (s: VadStream): VadStream => ({ process: (f) => s.process(f), reset: () => s.reset(), get last() { return s.last; }, get stats() { return s.stats; } });

async function vadPart(lazy: boolean): Promise<void> {
  const ds = Array.from({ length: calls }, () => {
    const d = new SileroSpeechDetector(vad.createStream(), { echo: new CorrelationEcho("PCMU"), confirm: lazy ? vad.createStream() : everyFrame(vad.createStream()) });
    d.listen({ onSpeechStart() {}, onSpeechEnd() {} });
    return d;
  });
  const w0 = vad.runs.windows;
  const c0 = cpuMs();
  for (let k = 0; k < frames; k++) {
    const f = line.subarray(k * 160, k * 160 + 160);
    for (const d of ds) {
      d.setAgentSpeaking(k > frames / 2); // the agent talks in the second half (the line returns silence)
      d.push(f);
    }
    await turn();
  }
  for (let w = -1; w !== vad.runs.windows; ) {
    w = vad.runs.windows;
    await Bun.sleep(100);
  }
  const per = (cpuMs() - c0) / (calls * seconds);
  row("VAD (Silero, detector, echo decision)", lazy ? "after: one stream until an echo frame" : "before: two streams", per, `${((vad.runs.windows - w0) / (calls * seconds)).toFixed(1)} windows/call-s`);
  for (const d of ds) d.close();
}

/** VAD_BATCH_MS values the cadence part compares (--vad-wait 0,4), ms. */
const vadWaits = opt["vad-wait"]!.split(",").map(Number);
async function vadCadencePart(waitMs: number): Promise<void> {
  vad.batchWaitMs = waitMs;
  const waits: number[] = [];
  /** The detector's stream, timing each frame from push to its probability (frames completing a window). */
  const timed = (s: VadStream): VadStream =>
    Object.assign(Object.create(s), {
      process(f: Int16Array) {
        const w0 = s.stats.windows;
        const t0 = performance.now();
        const p = s.process(f);
        void p.then(() => s.stats.windows > w0 && waits.push(performance.now() - t0));
        return p;
      },
      copyFrom: (o: VadStream) => s.copyFrom?.(o),
    });
  const ds = Array.from({ length: calls }, () => {
    const d = new SileroSpeechDetector(timed(vad.createStream()), { echo: new CorrelationEcho("PCMU"), confirm: vad.createStream() });
    d.listen({ onSpeechStart() {}, onSpeechEnd() {} });
    return d;
  });
  const phase = ds.map((_, i) => (i * 20) / calls); // call i's packets arrive at i·20/N ms past each 20 ms
  const next = ds.map(() => 0); // frames pushed per call
  const w0 = vad.runs.windows;
  const r0 = vad.runs.runs;
  const c0 = cpuMs();
  const t0 = performance.now();
  while (next.some((n) => n < frames)) {
    const now = performance.now() - t0;
    for (let i = 0; i < ds.length; i++) {
      while (next[i]! < frames && next[i]! * 20 + phase[i]! <= now) {
        const k = next[i]!++;
        ds[i]!.setAgentSpeaking(k > frames / 2);
        ds[i]!.push(line.subarray(k * 160, k * 160 + 160));
      }
    }
    await Bun.sleep(1);
  }
  for (let w = -1; w !== vad.runs.windows; ) {
    w = vad.runs.windows;
    await Bun.sleep(100);
  }
  const per = (cpuMs() - c0) / (calls * seconds);
  const windows = vad.runs.windows - w0;
  waits.sort((a, b) => a - b);
  const q = (f: number) => waits[Math.min(waits.length - 1, Math.floor(f * waits.length))]!.toFixed(1);
  row(
    "VAD, calls on their own phases (wall clock)",
    `${waitMs === vadWaits[0] ? "before" : "after"}: VAD_BATCH_MS=${waitMs}`,
    per,
    `${(windows / (calls * seconds)).toFixed(1)} windows/call-s, batch ${(windows / (vad.runs.runs - r0)).toFixed(1)}, push→probability p50/p99 ${q(0.5)}/${q(0.99)} ms`,
  );
  for (const d of ds) d.close();
  vad.batchWaitMs = 0;
}

const fake = startFakeDeepgram({ vocabulary: {} });
const dgFrames = toFrames(bytesOf(0xff, seconds * 1000));
async function deepgramPart(chunkMs: number): Promise<void> {
  const p = new DeepgramStt({ apiKey: "test-key", baseUrl: fake.url, chunkMs });
  const ss = await Promise.all(Array.from({ length: calls }, (_, i) => p.open({ callId: `c${i}`, signal: new AbortController().signal, codec: "PCMU" })));
  await Bun.sleep(200);
  const sent0 = fake.connections.reduce((n, c) => n + c.binary.length, 0);
  const c0 = cpuMs();
  for (const f of dgFrames) {
    for (const s of ss) s.push(f);
    await turn();
  }
  await Bun.sleep(300);
  const per = (cpuMs() - c0 - 0) / (calls * seconds);
  const msgs = fake.connections.reduce((n, c) => n + c.binary.length, 0) - sent0;
  row("Deepgram audio (incl. the fake's receiving)", `${chunkMs === dgChunks[0] ? "before" : "after"}: ${chunkMs} ms per message`, per, `${(msgs / (calls * seconds)).toFixed(0)} messages/call-s`);
  for (const s of ss) s.close();
  await Bun.sleep(200);
}

async function resamplerPart(pooled: boolean): Promise<void> {
  if (pooled) await Resampler.prewarm(8000, 16000, 5);
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    // A new rate pair each time is never in the pool: a converter is built.
    const c0 = cpuMs();
    const r = await Resampler.create(8000, pooled ? 16000 : 20000 + 1000 * i + Math.floor(Math.random() * 900));
    r.process(new Int16Array(160));
    xs.push(cpuMs() - c0);
    if (pooled) r.close();
  }
  xs.sort((a, b) => a - b);
  rows.push(`| resampler at an offline call's start | ${pooled ? "after: from the pool" : "before: built"} | – | – | ${xs[2]!.toFixed(1)} ms CPU (median of 5), synchronous |`);
}

/** The agent's speech as sent (μ-law) and the line: its echo at −20 dB, 120 ms late, plus low noise, μ-law round trip. */
const agentPcm = await speechPcm8k("Thank you, I can help with that booking. Let me check which tables are still free tonight.", { voice: "kal16" });
const sentUlaw = encodeG711(agentPcm.subarray(0, Math.floor(agentPcm.length / 160) * 160), "mulaw");
const echoLine = (() => {
  const back = decodeG711(sentUlaw, "mulaw");
  const mix = new Int16Array(back.length);
  for (let i = 0; i < mix.length; i++) mix[i] = Math.round((i >= 960 ? back[i - 960]! * 0.1 : 0) + (((i * 7919) % 13) - 6));
  return decodeG711(encodeG711(mix, "mulaw"), "mulaw");
})();
async function conversationPart(rejoin: boolean): Promise<void> {
  const agentFrames = sentUlaw.length / 160;
  const callerFrames = Math.ceil(speech.length / 160) + 25; // the caller's sentence, then 500 ms
  const period = agentFrames + callerFrames;
  const ds = Array.from({ length: calls }, () => {
    const echo = new CorrelationEcho("PCMU");
    const d = new SileroSpeechDetector(vad.createStream(), { echo, confirm: vad.createStream(), ...(rejoin ? {} : { rejoinMs: null }) });
    d.listen({ onSpeechStart() {}, onSpeechEnd() {} });
    return { d, echo };
  });
  const silent = new Uint8Array(160).fill(0xff);
  const w0 = vad.runs.windows;
  const c0 = cpuMs();
  for (let k = 0; k < frames; k++) {
    for (let i = 0; i < ds.length; i++) {
      const t = (k + Math.floor((i * period) / ds.length)) % period;
      const { d, echo } = ds[i]!;
      const talking = t < agentFrames;
      echo.noteSent(talking ? sentUlaw.subarray(t * 160, t * 160 + 160) : silent);
      d.setAgentSpeaking(talking);
      const c = (t - agentFrames) * 160;
      d.push(talking ? echoLine.subarray(t * 160, t * 160 + 160) : c + 160 <= speech.length ? speech.subarray(c, c + 160) : new Int16Array(160));
    }
    await turn();
  }
  for (let w = -1; w !== vad.runs.windows; ) {
    w = vad.runs.windows;
    await Bun.sleep(100);
  }
  const per = (cpuMs() - c0) / (calls * seconds);
  row("VAD in a conversation over an echoing line", rejoin ? "after: rejoinMs 500 (default)" : "before: both streams to the end", per, `${((vad.runs.windows - w0) / (calls * seconds)).toFixed(1)} windows/call-s; agent ${((agentFrames * 20) / 1000).toFixed(1)} s, caller ${((callerFrames * 20) / 1000).toFixed(1)} s per exchange`);
  for (const { d } of ds) d.close();
}

async function echoPart(plain: boolean): Promise<void> {
  const es: EchoDecision[] = Array.from({ length: calls }, () => (plain ? new PlainCorrelationEcho("PCMU") : new CorrelationEcho("PCMU")));
  const nf = sentUlaw.length / 160;
  let echoes = 0;
  const c0 = cpuMs();
  for (let k = 0; k < frames; k++) {
    const at = (k % nf) * 160;
    const sentFrame = sentUlaw.subarray(at, at + 160);
    const lineFrame = echoLine.subarray(at, at + 160);
    for (const e of es) {
      e.noteSent(sentFrame);
      if (e.isLikelyEcho(lineFrame, true)) echoes++;
    }
    if (k % 50 === 49) await turn();
  }
  const per = (cpuMs() - c0) / (calls * seconds);
  row("echo decision, the agent talking", plain ? "before: plain correlation" : "after: contiguous rings, energies kept, 4 sums", per, `${((per * 1000) / 50).toFixed(1)} µs per caller frame; ${((100 * echoes) / (calls * frames)).toFixed(0)} % echo`);
}

function echoSilentPart(shortcut: boolean): void {
  const es = Array.from({ length: calls }, () => new CorrelationEcho("PCMU"));
  const silence = new Uint8Array(160).fill(0xff);
  // The full update alone: what noteSent did for every frame before the shortcut (private methods; the
  // decimated ring and <y, y> are owed until a search since session 18, so caught up here at once).
  // What we sent lives in the call's SentRing (src/pipeline/echo-sent-ring.ts) since session 22.
  const full = (e: CorrelationEcho) => {
    const ring = (e as unknown as { ring: { noteFully(p: Uint8Array): number; catchUp(): void } }).ring;
    ring.noteFully(silence);
    ring.catchUp();
  };
  const c0 = cpuMs();
  for (let k = 0; k < frames; k++) for (const e of es) shortcut ? e.noteSent(silence) : full(e);
  const per = (cpuMs() - c0) / (calls * seconds);
  row("echo reference, the agent silent (noteSent)", shortcut ? "after: silence shortcut" : "before: full ring update", per, `${((per * 1000) / 50).toFixed(2)} µs per sent frame`);
}

async function pacerPart(ownPhases: number): Promise<void> {
  let received = 0;
  const sink = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data: () => void received++ } });
  const out = await Bun.udpSocket({ hostname: "127.0.0.1" });
  const pacer = new Pacer({ clock: new SystemClock(), ownPhases });
  const payload = new Uint8Array(160).fill(0xff);
  const sources = Array.from({ length: calls }, (_, i) => {
    const w = new RtpPacketWriter(i + 1, i);
    let ts = 0;
    return { onTick: () => void w.send(out, 0, payload, false, (ts += 160), sink.port, "127.0.0.1") };
  });
  for (const s of sources) pacer.add(s);
  await Bun.sleep(30);
  for (const s of sources) {
    await Bun.sleep(Math.random() * 2); // talkspurts start at random moments, as replies do
    pacer.startNow(s);
  }
  await Bun.sleep(200);
  const r0 = received;
  const c0 = cpuMs();
  const t0 = performance.now();
  await Bun.sleep(seconds * 1000);
  const per = (cpuMs() - c0) / (calls * seconds);
  const rate = ((received - r0) * 1000) / (calls * (performance.now() - t0));
  pacer.stop();
  sink.close();
  out.close();
  row("pacer: every call talking, own schedules, 1 packet per tick", ownPhases > 100 ? "before: a timer per talking call" : `after: a timer per ${20 / ownPhases} ms phase`, per, `${rate.toFixed(1)} packets/call-s received`);
}

function rtpSendPart(writer: boolean): void {
  let n = 0;
  const socket = { send: (d: Uint8Array) => ((n += d.length), true) };
  const payload = new Uint8Array(160).fill(0xff);
  const ws = Array.from({ length: calls }, (_, i) => new RtpPacketWriter(i + 1, i));
  const bufs = Array.from({ length: calls }, () => new Uint8Array(172));
  const c0 = cpuMs();
  for (let k = 0; k < frames; k++) {
    for (let i = 0; i < calls; i++) {
      if (writer) ws[i]!.send(socket, 0, payload, false, k * 160, 4000, "127.0.0.1");
      else {
        // What LocalSendPath.transmit did before RtpPacketWriter.
        const packet = { marker: false, payloadType: 0, sequenceNumber: k & 0xffff, timestamp: k * 160, ssrc: i + 1, payload };
        const size = rtpPacketSize(packet);
        socket.send(serializeRtp(packet, bufs[i]!.length < size ? new Uint8Array(size) : bufs[i]));
      }
    }
  }
  const per = (cpuMs() - c0) / (calls * seconds);
  row("RTP send: building the packet (socket stubbed)", writer ? "after: RtpPacketWriter" : "before: object + serializeRtp (DataView)", per, `${((per * 1000) / 50).toFixed(2)} µs per packet`);
}

function rtpReceivePart(inPlace: boolean): void {
  const packets = Array.from({ length: calls }, (_, i) => serializeRtp({ marker: false, payloadType: 0, sequenceNumber: i, timestamp: 0, ssrc: i + 1, payload: new Uint8Array(160).fill(0x55) }));
  const h = newRtpHeader();
  let sum = 0;
  const c0 = cpuMs();
  for (let k = 0; k < frames; k++) {
    for (let i = 0; i < calls; i++) {
      const data = new Uint8Array(packets[i]!); // a datagram of its own, as Bun's socket gives it
      if (inPlace) {
        parseRtpHeader(data, h);
        sum += data.slice(h.payloadOffset, h.payloadEnd)[0]! + h.sequenceNumber;
      } else {
        const p = parseRtp(data);
        sum += p.payload.slice()[0]! + p.sequenceNumber;
      }
    }
  }
  const per = (cpuMs() - c0) / (calls * seconds);
  row("RTP receive: parse + payload copy (a fresh datagram each)", inPlace ? "after: parseRtpHeader in place + slice" : "before: parseRtp + payload view + slice", per, `${((per * 1000) / 50).toFixed(2)} µs per packet${sum < 0 ? "" : ""}`);
}

for (let r = 0; r < Number(opt.rounds); r++) {
  if (parts.has("pacer")) {
    await pacerPart(1000);
    await pacerPart(4);
  }
  if (parts.has("rtp")) {
    rtpSendPart(false);
    rtpSendPart(true);
    rtpReceivePart(false);
    rtpReceivePart(true);
  }
  if (parts.has("echo")) {
    await echoPart(true);
    await echoPart(false);
    echoSilentPart(false);
    echoSilentPart(true);
  }
  if (parts.has("vad")) {
    await vadPart(false);
    await vadPart(true);
  }
  if (parts.has("conversation")) {
    await conversationPart(false);
    await conversationPart(true);
  }
  if (parts.has("cadence")) {
    for (const ms of vadWaits) await vadCadencePart(ms);
  }
  if (parts.has("deepgram")) {
    for (const ms of dgChunks) await deepgramPart(ms);
  }
}
if (parts.has("resampler")) {
  await resamplerPart(false);
  await resamplerPart(true);
}
await fake.close();
console.log(`\n${calls} calls in lock-step, ${seconds} s each; CPU time of this process\n`);
console.log("| part | how | ms CPU per call-second | % of a core per call | |");
console.log("|---|---|---|---|---|");
for (const l of rows) console.log(l);
process.exit(0);
