/**
 * Shared tooling for the cloud end-to-end tests (cloud-call, cloud-faults) and the latency benchmark
 * (scripts/bench-latency.ts): the three provider fakes started together, the agent's environment that
 * points at them, and one SIPp call with RTP capture and the call record fetched afterwards.
 *
 *   const fakes = startCloudFakes({ script: repeatLine("I would like to book a table", 50) });
 *   const agent = await startAgent(fakes.env());
 *   const call = await placeCall(agent, { phrases: ["I would like to book a table."] });
 *   call.sipp.exitCode            // 0 = INVITE/200/ACK … BYE/200
 *   call.fromAgent                // RTP payload bytes agent → caller, in sequence order
 *   call.record.turns             // GET /calls/:id
 *
 * Units: ms for times, 8000 Hz for audio, bytes of G.711 (one per sample).
 */
import type { Socket, TCPSocketListener } from "bun";
import { decodeFrame } from "../../src/media/g711";
import { concatBytes } from "../../src/util/concat";
import { startFakeCartesia, type FakeCartesia, type FakeCartesiaContext, type FakeCartesiaConnection } from "../fakes/cartesia.ts";
import { startFakeDeepgram, type FakeDeepgram } from "../fakes/deepgram.ts";
import { startFakeGemini, type FakeGemini } from "../fakes/gemini.ts";
import { RtpCapture, type CaptureResult } from "../support/capture.ts";
import { freeUdpPortRange } from "../support/ports.ts";
import { assembleByTimestamp, streamsByPort, type RtpStream } from "../support/rtp-streams.ts";
import { describeSipp, runSipp, type SippResult } from "../support/sipp.ts";
import { synthesizeCallerAudio, type CallerAudio, type Phrase } from "../support/speech.ts";
import type { RunningAgent } from "./agent.ts";

/** Keys the fakes accept (never real keys). */
export const FAKE_KEYS = { deepgram: "dg-fake-key", gemini: "gm-fake-key", cartesia: "ct-fake-key" } as const;
export const FAKE_VOICE_ID = "fake-voice-0001";

export type CloudProvider = "deepgram" | "gemini" | "cartesia";

export interface CloudFakes {
  deepgram: FakeDeepgram;
  gemini: FakeGemini;
  cartesia: FakeCartesia;
  /** The relay the agent reaches each fake through (kill() = the provider is gone, revive() = back). */
  relays: Record<CloudProvider, KillableRelay>;
  /** Agent environment pointing at the fakes (keys, base URLs, voice, model). `over` wins. */
  env(over?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

export interface CloudFakeOptions {
  /**
   * What the Deepgram fake "recognises", one line per stretch of caller speech (energy-based script
   * recogniser). The list is consumed across all connections of the fake, so give enough lines.
   */
  script: string[];
  /** Gemini's reply, one SSE event per string. */
  reply?: string[];
  /** Cartesia audio bytes per chunk message. */
  chunkBytes?: number;
  /**
   * `env()` points the agent at the fakes themselves instead of through the relays (the relays still
   * run, but carry nothing): for benchmarks, where each relay hop adds a pass through this process's
   * event loop to every request and reply. Tests that kill a provider need the relays (default false).
   */
  direct?: boolean;
}

/** Starts the three protocol fakes on free loopback ports. */
export function startCloudFakes(o: CloudFakeOptions): CloudFakes {
  const deepgram = startFakeDeepgram({ apiKey: FAKE_KEYS.deepgram, script: o.script, idleCloseMs: 0 });
  const gemini = startFakeGemini({ apiKey: FAKE_KEYS.gemini, reply: (o.reply ?? ["Hello, how can I help?"]).map((t) => [{ text: t }]) });
  const cartesia = startFakeCartesia({ apiKey: FAKE_KEYS.cartesia, chunkBytes: o.chunkBytes });
  const portOf = (url: string) => Number(new URL(url).port);
  const relays = {
    deepgram: KillableRelay.start(deepgram.port),
    gemini: KillableRelay.start(portOf(gemini.url)),
    cartesia: KillableRelay.start(portOf(cartesia.url)),
  };
  const to = o.direct
    ? { deepgram: deepgram.port, gemini: portOf(gemini.url), cartesia: portOf(cartesia.url) }
    : { deepgram: relays.deepgram.port, gemini: relays.gemini.port, cartesia: relays.cartesia.port };
  return {
    deepgram,
    gemini,
    cartesia,
    relays,
    env: (over = {}) => ({
      DEEPGRAM_API_KEY: FAKE_KEYS.deepgram,
      DEEPGRAM_BASE_URL: `ws://127.0.0.1:${to.deepgram}`,
      GEMINI_API_KEY: FAKE_KEYS.gemini,
      GEMINI_BASE_URL: `http://127.0.0.1:${to.gemini}`,
      CARTESIA_API_KEY: FAKE_KEYS.cartesia,
      CARTESIA_VOICE_ID: FAKE_VOICE_ID,
      CARTESIA_BASE_URL: `ws://127.0.0.1:${to.cartesia}`,
      ...over,
    }),
    close: async () => {
      for (const r of Object.values(relays)) r.kill();
      await Promise.all([deepgram.close(), gemini.close(), cartesia.close()]);
    },
  };
}

/** `n` copies of `line` (a script for calls that all say the same thing). */
export function repeatLine(line: string, n: number): string[] {
  return Array.from({ length: n }, () => line);
}

export interface PlaceCallOptions {
  /** What the caller says (flite voice), with `gapMs` between phrases. */
  phrases: Phrase[];
  /** Silence before the first phrase (the greeting plays meanwhile), ms. Default 2500. */
  leadSilenceMs?: number;
  /** Silence between phrases, ms. Default 700. */
  gapMs?: number;
  /** Listening time (silent RTP) after the caller's last phrase, before BYE, ms. Default 4000. */
  listenMs?: number;
  /**
   * The caller's phone stops sending RTP after its last phrase (silence suppression, RFC 3551 §4.1)
   * instead of sending silent packets while it listens.
   */
  silentWithoutPackets?: boolean;
  /** Called once the call is up (RTP flowing from the agent), for mid-call faults. */
  during?: (c: { startedAt: number; audio: CallerAudio }) => Promise<void> | void;
  /** Hard limit for SIPp, ms. Default: audio + listen + 20 s. */
  timeoutMs?: number;
}

export interface PlacedCall {
  sipp: SippResult;
  /** Human summary for assertion messages. */
  describe: string;
  audio: CallerAudio;
  capture: CaptureResult;
  /** The agent → caller RTP stream (the first one seen). */
  stream: RtpStream | undefined;
  /** The caller → agent RTP stream (SIPp's rtp_stream). */
  callerStream: RtpStream | undefined;
  /** Payload bytes agent → caller in sequence order (G.711 as sent). */
  fromAgent: Uint8Array;
  /** The same decoded and laid out by RTP timestamp (PCM16 8 kHz). */
  heard: Int16Array;
  /** The agent's call record (GET /calls/:id), found by the SIP Call-ID. */
  record: any;
  /** performance.now() when SIPp was started. */
  startedAt: number;
}

/** The Call-ID SIPp used (from its INVITE). */
export function sipCallIdOf(r: SippResult): string | undefined {
  const inv = r.messages.find((m) => m.direction === "sent" && m.method === "INVITE");
  return inv?.text.match(/^Call-ID:\s*(.+)$/im)?.[1]?.trim();
}

/**
 * One inbound call through SIPp (tests/scenarios/inbound-call.xml) with the agent's RTP captured.
 * Never throws for a failed call: check `sipp.exitCode`. @throws Error when tools cannot start.
 */
export async function placeCall(agent: RunningAgent, o: PlaceCallOptions): Promise<PlacedCall> {
  const listenMs = o.listenMs ?? 4000;
  // The caller keeps sending (silent) RTP while listening, as a phone does: SIPp stops sending when the
  // file ends, and a VAD that gets no frames never hears the end of speech.
  const trail = o.silentWithoutPackets ? 100 : listenMs;
  const audio = await synthesizeCallerAudio(o.phrases, { leadSilenceMs: o.leadSilenceMs ?? 2500, gapMs: o.gapMs ?? 700, trailSilenceMs: trail });
  const media = await freeUdpPortRange(4);
  const cap = await RtpCapture.start({ portRanges: [[media, media + 3]] });
  const startedAt = performance.now();
  const sippRun = runSipp({
    scenario: "inbound-call",
    target: `127.0.0.1:${agent.sipPort}`,
    mediaPort: media,
    audioFile: audio.path,
    pauseMs: Math.round(audio.durationMs + 200 + (listenMs - trail)),
    timeoutMs: o.timeoutMs ?? audio.durationMs + listenMs + 20_000,
  });
  const during = o.during ? Promise.resolve(o.during({ startedAt, audio })).catch((e) => e as Error) : Promise.resolve(undefined);
  const sipp = await sippRun;
  const duringErr = await during;
  const capture = await cap.stop();
  if (duringErr instanceof Error) throw duringErr;
  const [stream] = streamsByPort(capture.rtpStreams, media);
  const [callerStream] = streamsByPort(capture.rtpStreams, media, { from: true });
  const fromAgent = stream ? concatBytes(stream.audioPackets.map((p) => p.payload)) : new Uint8Array(0);
  const heard = stream ? assembleByTimestamp(stream) : new Int16Array(0);
  const record = await callRecord(agent, sipp);
  return { sipp, describe: describeSipp(sipp), audio, capture, stream, callerStream, fromAgent, heard, record, startedAt };
}

/** The agent's record of the call SIPp made, once it has ended (polls /calls for up to 5 s). */
export async function callRecord(agent: RunningAgent, r: SippResult): Promise<any> {
  const sipCallId = sipCallIdOf(r);
  if (!sipCallId) return undefined;
  const end = Date.now() + 5000;
  for (;;) {
    const list = await agent.get("/calls");
    const hit = [...(list.active ?? []), ...(list.recent ?? [])].find((c: any) => c.sipCallId === sipCallId);
    if (hit && (hit.state === "ended" || Date.now() > end)) return agent.get(`/calls/${hit.id}`);
    if (Date.now() > end) return hit;
    await Bun.sleep(100);
  }
}

/** Capture time (epoch ms) of a phrase of the caller's audio: file offset + first caller packet's arrival. */
export function phraseTimes(call: PlacedCall, i: number): { startMs: number; endMs: number } {
  const t0 = call.callerStream?.firstArrivalMs ?? Number.NaN;
  const ph = call.audio.phrases[i]!;
  return { startMs: t0 + ph.startMs, endMs: t0 + ph.endMs };
}

/** Capture time (epoch ms) of the agent's packet that carried byte `offset` of `fromAgent`. */
export function arrivalOfByte(call: PlacedCall, offset: number): number {
  const pk = call.stream?.audioPackets ?? [];
  let acc = 0;
  for (const p of pk) {
    if (offset < acc + p.payload.length) return p.arrivalMs;
    acc += p.payload.length;
  }
  return Number.NaN;
}

/** Agent talkspurts (non-silent runs of packets) in capture time: [startMs, endMs) epoch ms. */
export function agentTalkspurts(call: PlacedCall, opts: { minGapMs?: number } = {}): Array<{ startMs: number; endMs: number; bytes: number }> {
  const pk = [...(call.stream?.audioPackets ?? [])].sort((a, b) => a.extSeq - b.extSeq);
  const out: Array<{ startMs: number; endMs: number; bytes: number }> = [];
  const minGap = opts.minGapMs ?? 100;
  let lastLoudAt = -Infinity;
  for (const p of pk) {
    const pcm = ulawToPcm(p.payload);
    let e = 0;
    for (const x of pcm) e += x * x;
    if (Math.sqrt(e / Math.max(1, pcm.length)) < 100) continue; // silence (−50 dBFS)
    const cur = out[out.length - 1];
    if (cur && p.arrivalMs - lastLoudAt <= minGap) {
      cur.endMs = p.arrivalMs + 20;
      cur.bytes += p.payload.length;
    } else out.push({ startMs: p.arrivalMs, endMs: p.arrivalMs + 20, bytes: p.payload.length });
    lastLoudAt = p.arrivalMs;
  }
  return out;
}

export { concatBytes };

/** First index of `needle` in `hay` at or after `from`, or −1 (naive search; fine for seconds of audio). */
export function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  if (needle.length === 0) return from;
  const first = needle[0];
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    if (hay[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The audio bytes the Cartesia fake sent for one context, in order (as the wire carried them). */
export function contextAudio(conn: FakeCartesiaConnection, ctx: FakeCartesiaContext): Uint8Array {
  const parts = conn.sent
    .filter((m) => m.type === "chunk" && m.context_id === ctx.contextId)
    .map((m) => new Uint8Array(Buffer.from(String(m.data), "base64")));
  return concatBytes(parts);
}

/** Every context of every Cartesia connection, in the order the contexts were opened. */
export function allContexts(c: FakeCartesia): Array<{ conn: FakeCartesiaConnection; ctx: FakeCartesiaContext }> {
  const out: Array<{ conn: FakeCartesiaConnection; ctx: FakeCartesiaContext }> = [];
  for (const conn of c.connections) for (const ctx of conn.contexts.values()) out.push({ conn, ctx });
  return out;
}

/** μ-law bytes → PCM16 (the agent's codec; inbound-call offers PCMU first). */
export function ulawToPcm(bytes: Uint8Array): Int16Array {
  return decodeFrame(bytes, "PCMU");
}

/** Nearest-rank percentile (p in 0…100) of `xs`; NaN when empty. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** JSON log lines of the agent whose `msg` equals `msg`. */
export function logsWith(agent: RunningAgent, msg: string): any[] {
  return agent.logs().filter((l) => l.msg === msg);
}

// ---------------------------------------------------------------- a provider that can be killed

type RelaySocket = Socket<RelayEnd>;
/** One side of a relayed connection: its peer, bytes waiting to be written to it, and bytes read before the peer exists. */
interface RelayEnd {
  peer: RelaySocket | null;
  out: Uint8Array[];
  early: Uint8Array[];
  closed: boolean;
}

/** Writes `b` to `s`, queueing what the socket does not take now (sent on `drain`). */
function relayWrite(s: RelaySocket, b: Uint8Array): void {
  const q = s.data.out;
  if (q.length) {
    q.push(b);
    return;
  }
  const n = s.write(b);
  if (n < b.length) q.push(b.subarray(Math.max(0, n)));
}

function relayDrain(s: RelaySocket): void {
  const q = s.data.out;
  while (q.length) {
    const b = q[0]!;
    const n = s.write(b);
    if (n < b.length) {
      q[0] = b.subarray(Math.max(0, n));
      return;
    }
    q.shift();
  }
}

/**
 * A TCP relay in front of a fake on a fixed loopback port, so the "provider" can be killed (every live
 * connection reset, new ones refused) and revived on the same port, as a crashed or unreachable service
 * looks to the agent. The fakes bind port 0 on every start, so this is what keeps the agent's URL stable.
 */
export class KillableRelay {
  private listener: TCPSocketListener<RelayEnd> | null = null;
  private readonly live = new Set<RelaySocket>();
  /** Connections accepted since start. */
  accepted = 0;

  private constructor(
    readonly port: number,
    private readonly targetPort: number,
  ) {}

  /** Starts relaying 127.0.0.1:<free port> → 127.0.0.1:targetPort. */
  static start(targetPort: number): KillableRelay {
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const r = new KillableRelay(port, targetPort);
    r.revive();
    return r;
  }

  get alive(): boolean {
    return this.listener !== null;
  }

  /** Listens again on the same port (no-op while alive). */
  revive(): void {
    if (this.listener) return;
    const common = {
      data: (s: RelaySocket, b: Uint8Array) => {
        const copy = new Uint8Array(b);
        if (s.data.peer) relayWrite(s.data.peer, copy);
        else s.data.early.push(copy);
      },
      drain: relayDrain,
      close: (s: RelaySocket) => {
        this.live.delete(s);
        s.data.closed = true;
        s.data.peer?.end();
      },
      error: (s: RelaySocket) => {
        this.live.delete(s);
        s.data.closed = true;
        s.data.peer?.terminate();
      },
    };
    this.listener = Bun.listen<RelayEnd>({
      hostname: "127.0.0.1",
      port: this.port,
      data: { peer: null, out: [], early: [], closed: false },
      socket: {
        ...common,
        open: (client) => {
          this.accepted++;
          this.live.add(client);
          client.data = { peer: null, out: [], early: [], closed: false };
          Bun.connect<RelayEnd>({
            hostname: "127.0.0.1",
            port: this.targetPort,
            data: { peer: client, out: [], early: [], closed: false },
            socket: {
              ...common,
              open: (up) => {
                if (client.data.closed || !this.live.has(client)) return void up.terminate();
                this.live.add(up);
                client.data.peer = up;
                for (const b of client.data.early.splice(0)) relayWrite(up, b);
              },
              connectError: () => client.terminate(),
            },
          }).catch(() => client.terminate());
        },
      },
    });
  }

  /** Resets every live connection and stops listening (connect → ECONNREFUSED). */
  kill(): void {
    this.listener?.stop(true);
    this.listener = null;
    for (const s of [...this.live]) s.terminate();
    this.live.clear();
  }
}
