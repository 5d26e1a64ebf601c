/**
 * bench-alloc: bytes the call thread allocates per RTP packet, stage by stage, so each cut of per-packet
 * garbage shows (issue 13: Eden collections at 200 calls hold the pacer 4–8 ms late).
 *
 * Each stage runs in a child process of its own with `BUN_JSC_logGC=1` and `BUN_JSC_largeHeapSize=1 MB`,
 * so JavaScriptCore collects every ~1 MB and logs "bytes allocated this cycle: N" (normal + oversized,
 * i.e. cells and typed-array backing stores) at each collection it requests; the sum over the measured
 * ticks, divided by the packets, is the allocation per packet (the last partial cycle, < 1 MB, is not
 * counted: at the default sizes that is < 2 %). The stages drive the real code with real bytes, C calls in
 * lock-step, one caller packet in and one tick (one packet out) per call per 20 ms of a FakeClock:
 *   - `loop`:     the harness alone (one macrotask per tick), the floor the others include;
 *   - `receive`:  RtpSession.receive of a caller's RTP datagram (µ-law speech, one 160-byte frame) to an
 *                 `onAudio` that keeps the last frame: parse, latch, reception stats, copy, decode;
 *   - `playout`:  the agent talking: Playout (1 s of speech pushed every 50 ticks) → encode → RtpSession
 *                 → RtpPacketWriter → a socket that only counts;
 *   - `call`:     the whole CallMedia as src/call/inbound.ts builds it: RTP receive → the conversation
 *                 (FakeStt, Silero VAD with its confirming stream and the echo gate, real model) and the
 *                 Pacer → playout → send path on every tick (greeting, then silence frames);
 *   - `call-novad`: the same without Silero (what the VAD's share is);
 *   - `vad`:      one Silero stream per call alone (framer, batcher, model run) fed the caller's frames;
 *   - `vad-nomodel`: the same streams on a runner that answers at once (no batcher, no model run).
 * The datagram Bun itself allocates for each received packet is not in these numbers (the harness hands
 * prepared datagrams from a ring).
 *
 *   bun run bench:alloc [--stages loop,receive,playout,vad,call-novad,call] [--calls 20] [--seconds 20]
 */
import { parseArgs } from "node:util";
import { RtpSession } from "../src/rtp/session.ts";
import type { RtpPortLease } from "../src/rtp/port-pool.ts";
import { Pacer } from "../src/rtp/pacer.ts";
import { RtpPacketWriter } from "../src/rtp/packet.ts";
import { Playout } from "../src/media/playout.ts";
import { encodeFrame } from "../src/media/g711.ts";
import { FakeClock } from "../src/util/clock.ts";
import { silentLogger } from "../src/util/log.ts";
import { CallMedia } from "../src/call/media.ts";
import { createStreamOn, loadSileroVad } from "../src/media/vad/silero.ts";
import { FakeLlm, FakeStt, FakeTts } from "../src/providers/fake/index.ts";
import type { CallRecord } from "../src/pipeline/call-record.ts";
import { speechPcm8k } from "../tests/support/speech.ts";

const { values: opt } = parseArgs({
  options: {
    stages: { type: "string", default: "loop,receive,playout,vad,call-novad,call" },
    calls: { type: "string", default: "20" },
    seconds: { type: "string", default: "20" },
    child: { type: "string" },
    types: { type: "boolean", default: false },
  },
});
const calls = Number(opt.calls);
const ticks = Number(opt.seconds) * 50;
const WARM_TICKS = 250;
const START = "@@alloc-start";
const END = "@@alloc-end";

/** A lease whose socket only counts (nothing leaves the process); `onPacket` is what the session set. */
function countingLease(port: number): RtpPortLease & { sent: number } {
  const lease = {
    port,
    host: "127.0.0.1",
    sent: 0,
    socket: { send: () => ((lease.sent++), true), close() {}, closed: false },
    onPacket: null,
    onError: null,
    released: false,
    release() {},
  } as RtpPortLease & { sent: number };
  return lease;
}

/** The caller's datagrams: speech as µ-law, 160-byte frames, RTP PT 0, in order (a ring reused per call). */
function callerDatagrams(pcm: Int16Array, ssrc: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const w = new RtpPacketWriter(ssrc, 1000);
  const sink = { send: (d: Uint8Array) => (out.push(d.slice()), true) };
  for (let i = 0; i + 160 <= pcm.length; i += 160) w.send(sink, 0, encodeFrame(pcm.subarray(i, i + 160), "PCMU"), i === 0, i, 4000, "127.0.0.1");
  return out;
}

/** The last frame each call's `receive` stage delivered. */
const kept: unknown[] = [];
const REMOTE = { address: "127.0.0.1", port: 4000 };
const yieldTurn = () => new Promise<void>((r) => setImmediate(r));

/** One stage: builds it, warms up, then runs `ticks` measured ticks between the markers (child side). */
async function runStage(stage: string): Promise<{ packetsIn: number; packetsOut: number; types?: Record<string, number> }> {
  const clock = new FakeClock(0);
  const speech = await speechPcm8k("Hello, I would like to know when my order will arrive, it was placed last Tuesday.");
  // 1.5 s of silence after each phrase, so the VAD sees speech start and end.
  const pcm = new Int16Array(speech.length + 12_000);
  pcm.set(speech);
  const grams = callerDatagrams(pcm, 0x1234);
  const leases: (RtpPortLease & { sent: number })[] = [];
  let packetsIn = 0;
  let tick: (n: number) => void = () => {};
  const feed = (n: number) => {
    for (let c = 0; c < leases.length; c++) {
      // Each call its own place in the recording; sequence numbers and timestamps advance in order.
      const d = grams[(n + c * 37) % grams.length]!;
      const l = leases[c]!;
      l.onPacket?.(stampSequence(d, n), REMOTE.port, REMOTE.address, clock.now());
      packetsIn++;
    }
  };
  if (stage === "receive" || stage === "playout") {
    for (let c = 0; c < calls; c++) {
      const lease = countingLease(20000 + 2 * c);
      leases.push(lease);
      // The frame is kept (as the conversation's consumers may): a frame dropped at once is optimised away.
      const session = new RtpSession({ lease, remote: REMOTE, codec: "PCMU", payloadType: 0, clock, onAudio: (f) => void (kept[c] = f) });
      if (stage === "playout") {
        const playout = new Playout({ sink: { sendFrame: (p, m) => session.sendFrame(p, m) }, codec: "PCMU" });
        const second = speech.subarray(0, 8000);
        let k = 0;
        const prev = tick;
        tick = (n) => {
          prev(n);
          if (k++ % 50 === 0) playout.push(second);
          playout.onTick();
        };
      }
    }
    if (stage === "playout") {
      const t = tick;
      tick = (n) => t(n);
    } else tick = (n) => feed(n);
  } else if (stage === "vad" || stage === "vad-nomodel") {
    const vad = await loadSileroVad();
    // vad-nomodel: the same streams on a runner that answers at once (what the model run's own share is).
    const instant = { run: () => Promise.resolve(0.5) };
    const streams = Array.from({ length: calls }, () => (stage === "vad" ? vad.createStream() : createStreamOn(instant, { maxMs: Infinity })));
    const frames: Int16Array[] = [];
    for (let i = 0; i + 160 <= pcm.length; i += 160) frames.push(pcm.slice(i, i + 160));
    tick = (n) => {
      for (let c = 0; c < calls; c++) void streams[c]!.process(frames[(n + c * 37) % frames.length]!);
      packetsIn += calls;
    };
  } else if (stage === "call" || stage === "call-novad") {
    const vad = stage === "call" ? await loadSileroVad() : null;
    const pacer = new Pacer({ clock });
    for (let c = 0; c < calls; c++) {
      const lease = countingLease(20000 + 2 * c);
      leases.push(lease);
      const stt = new FakeStt();
      const tts = new FakeTts({ clock });
      const llm = new FakeLlm({ replies: ["Hello, how can I help you today?"], clock });
      const media = new CallMedia({
        record: newRecord(c),
        lease,
        media: { codec: "PCMU", payloadType: 0, telephoneEventPt: 101, remote: REMOTE, direction: "sendrecv" },
        signallingAddress: REMOTE.address,
        pacer,
        clock,
        log: silentLogger,
        providers: { stt, llm, tts, fallback: { stt, llm, tts } },
        vad,
        system: "You are a test.",
        hangup: () => {},
        onError: (err) => {
          throw err;
        },
      });
      media.start();
    }
    tick = (n) => {
      feed(n);
      clock.advance(20);
    };
  } else if (stage !== "loop") throw new Error(`unknown stage ${stage}`);

  const run = async (from: number, count: number) => {
    for (let n = from; n < from + count; n++) {
      tick(n);
      if (stage !== "call") clock.advance(20); // the call stage's tick advances it (the pacer's ticks)
      await yieldTurn();
    }
  };
  await run(0, WARM_TICKS);
  Bun.gc(true);
  if (opt.types) return countTypes(run, () => packetsIn, () => leases.reduce((s, l) => s + l.sent, 0));
  const in0 = packetsIn;
  const out0 = leases.reduce((s, l) => s + l.sent, 0);
  console.error(START);
  await run(WARM_TICKS, ticks);
  console.error(END);
  Bun.gc(true); // its START line carries the heap size at END: the last partial cycle
  console.error(END + "-gc");
  return { packetsIn: packetsIn - in0, packetsOut: leases.reduce((s, l) => s + l.sent, 0) - out0 };
}

/**
 * `--types`: the cells allocated in `TYPE_TICKS` ticks, by type (JSC's heapStats counts every cell since the
 * last collection, dead or alive; the child runs with a heap large enough that none happens in between).
 * Typed arrays' backing stores are not cells: their bytes show only in the byte counts.
 */
const TYPE_TICKS = 25;
async function countTypes(run: (from: number, count: number) => Promise<void>, inCount: () => number, outCount: () => number): Promise<{ packetsIn: number; packetsOut: number; types: Record<string, number> }> {
  const { heapStats } = await import("bun:jsc");
  const in0 = inCount();
  const out0 = outCount();
  const before = heapStats().objectTypeCounts;
  console.error(START);
  await run(WARM_TICKS, TYPE_TICKS);
  console.error(END);
  const after = heapStats().objectTypeCounts;
  const types: Record<string, number> = {};
  for (const k of Object.keys(after)) {
    const d = (after[k] ?? 0) - (before[k] ?? 0);
    if (d > 0) types[k] = d;
  }
  return { packetsIn: inCount() - in0, packetsOut: outCount() - out0, types };
}

/** The datagram with sequence number `n` (in place: the ring's bytes are the harness's, not the agent's). */
function stampSequence(d: Uint8Array, n: number): Uint8Array {
  d[2] = (n >>> 8) & 0xff;
  d[3] = n & 0xff;
  const ts = (n * 160) >>> 0;
  d[4] = ts >>> 24;
  d[5] = (ts >>> 16) & 0xff;
  d[6] = (ts >>> 8) & 0xff;
  d[7] = ts & 0xff;
  return d;
}

function newRecord(c: number): CallRecord {
  return { id: `bench-${c}`, sipCallId: `bench-${c}`, direction: "inbound", from: "+14155550123", to: "+14155550100", state: "connected", startedAt: new Date(0).toISOString(), turns: [], bargeIns: 0 };
}

/** Parent side: one child per stage; sums "bytes allocated this cycle" between the markers. */
async function measure(stage: string): Promise<{ bytes: number; cycles: number; packetsIn: number; packetsOut: number; cpuMs: number; types?: Record<string, number> }> {
  const proc = Bun.spawn([process.execPath, import.meta.path, "--child", stage, "--calls", String(calls), "--seconds", opt.seconds!, ...(opt.types ? ["--types"] : [])], {
    env: opt.types
      ? { ...process.env, BUN_JSC_logGC: "1", BUN_JSC_largeHeapSize: String(1 << 30), BUN_JSC_smallHeapSize: String(1 << 30) }
      : { ...process.env, BUN_JSC_logGC: "1", BUN_JSC_largeHeapSize: String(1 << 20), BUN_JSC_smallHeapSize: String(1 << 20), BUN_JSC_smallHeapGrowthFactor: "1.05", BUN_JSC_mediumHeapGrowthFactor: "1.05", BUN_JSC_largeHeapGrowthFactor: "1.05" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`stage ${stage} exited ${code}: ${err.split("\n").filter((l) => !l.startsWith("[GC") && !l.includes("GC")).slice(-20).join("\n")}`);
  const a = err.indexOf(START);
  const b = err.indexOf(END);
  if (a < 0 || b < a) throw new Error(`stage ${stage}: markers missing`);
  // Each collection: "START M <heap kB> => <kind>" … "=> <after kB>, p=…" (the bytes allocated since the
  // previous collection = heap at this START − heap after the previous one); the forced collection after END
  // counts the ticks' last partial cycle.
  let bytes = 0;
  let cycles = 0;
  let after: number | undefined;
  const c = err.indexOf(END + "-gc");
  for (const m of err.slice(0, c).matchAll(/START [A-Z]+ (\d+)kb =>|=> (\d+)kb, p=/g)) {
    const at = m.index!;
    if (m[1] !== undefined) {
      if (at > a && after !== undefined) {
        bytes += (Number(m[1]) - after) * 1024;
        cycles++;
      }
    } else after = Number(m[2]);
  }
  const res = JSON.parse(out.trim().split("\n").pop()!) as { packetsIn: number; packetsOut: number; cpuMs: number; types?: Record<string, number> };
  return { bytes, cycles, ...res };
}

if (opt.child) {
  const u0 = process.cpuUsage();
  const r = await runStage(opt.child);
  const u = process.cpuUsage(u0);
  console.log(JSON.stringify({ ...r, cpuMs: (u.user + u.system) / 1000 }));
  process.exit(0);
} else {
  console.log(`bench:alloc — ${calls} calls in lock-step, ${opt.seconds} s measured (${ticks} ticks) after ${WARM_TICKS} warm-up ticks; Bun ${Bun.version}`);
  console.log("| stage | packets in | packets out | MB allocated | GC cycles | bytes / packet (in+out) | bytes / call-tick |");
  console.log("|---|---|---|---|---|---|---|");
  for (const stage of opt.stages!.split(",")) {
    const r = await measure(stage);
    if (r.types) {
      if (r.cycles > 0) throw new Error(`stage ${stage}: ${r.cycles} collections during the type count`);
      const perTick = calls * TYPE_TICKS;
      const top = Object.entries(r.types).sort((x, y) => y[1] - x[1]).filter(([, n]) => n >= perTick / 10);
      console.log(`| ${stage} | cells per call-tick: ${top.map(([k, n]) => `${k} ${(n / perTick).toFixed(1)}`).join(", ")} |`);
      continue;
    }
    const packets = r.packetsIn + r.packetsOut;
    const callTicks = calls * ticks;
    console.log(`| ${stage} | ${r.packetsIn} | ${r.packetsOut} | ${(r.bytes / 1e6).toFixed(1)} | ${r.cycles} | ${packets ? Math.round(r.bytes / packets) : "–"} | ${Math.round(r.bytes / callTicks)} |`);
  }
}
