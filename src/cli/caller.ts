/**
 * `voice-agent call <sip-uri>`: a small built-in SIP caller (UAC) for demos and checks. It places one
 * call, waits for the agent to finish speaking, says each `--say` phrase (synthesised locally with the
 * offline TTS), measures each reply's delay as the caller hears it (end of our phrase → first agent
 * audio), records both directions to a stereo WAV (left: caller, right: agent; 8 kHz), prints the
 * conversation, and hangs up (unless the agent hangs up first).
 */
import { isIP } from "node:net";
import type { Command } from "./args";
import { detectLocalIp } from "./config-sip";
import { createFliteTts } from "../providers/offline";
import { createOffer, parseAnswer } from "../sdp";
import { Pacer, RtpPortPool, RtpSession } from "../rtp";
import { Playout, type FrameSink } from "../media/playout";
import { decodeFrame } from "../media/g711";
import { UdpTransport, UserAgent, nullLogger, type EndReason } from "../sip";
import { SystemClock } from "../util/clock";
import type { CallRecord } from "../pipeline/call-record";

type CallCommand = Extract<Command, { kind: "call" }>;

/** Frame energy above which the agent counts as speaking (RMS of 16-bit samples, ≈ −40 dBFS). */
const SPEECH_RMS = 330;
/** Agent silence that ends its turn, ms. */
const END_OF_REPLY_MS = 1800;

export interface CallerResult {
  sipCallId: string;
  answered: boolean;
  endReason?: EndReason;
  phrases: { text: string; replyDelayMs?: number }[];
  /** Agent audio heard (frames above SPEECH_RMS), ms. */
  heardAgentMs: number;
  agentTurns: CallRecord["turns"];
}

/** How the call ended, in plain words for the printout (the SIP layer's reason names stay in --json). */
export function endedInWords(reason: string): string {
  const words: Record<string, string> = {
    remote_bye: "the agent hung up",
    local_bye: "we hung up",
    canceled: "the call was cancelled before it was answered",
    rejected: "the agent refused the call",
    no_ack: "the call failed: our ACK did not arrive",
    unreachable: "nobody answers SIP at that address (ICMP port unreachable)",
    timeout: "no SIP response at all (Timer B, 32 s)",
    error: "the call failed",
  };
  return words[reason] ?? `the call ended (${reason.replace(/_/g, " ")})`;
}

export async function runCaller(cmd: CallCommand): Promise<number> {
  const t0 = performance.now();
  const stamp = () => `[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s]`;
  const say = (line: string) => {
    if (!cmd.json) console.log(`${stamp()} ${line}`);
  };
  const target = new URL(cmd.uri.replace(/^sips?:/i, "sip://"));
  const loopback = /^127\.|^localhost$/i.test(target.hostname);
  const localIp = loopback ? "127.0.0.1" : detectLocalIp();
  // Where our SIP goes: the agent's RTP may come from there rather than from its SDP address (below).
  const agentSipIp = loopback ? "127.0.0.1" : isIP(target.hostname) ? target.hostname : undefined;
  const clock = new SystemClock();
  const transport = await UdpTransport.bind({ host: localIp, port: cmd.localPort });
  const ua = new UserAgent({
    transport,
    clock,
    contact: { host: localIp, port: transport.local.port, user: "caller" },
    userAgent: "voice-agent-caller",
    log: nullLogger,
    delegate: { onInvite: (c) => c.reject(486, "Busy Here") },
  });
  const pool = new RtpPortPool(40000, 49998, localIp);
  const pacer = new Pacer({ clock });
  const tts = createFliteTts({ voice: "awb" });
  const lease = await pool.allocate();
  const offer = createOffer({ localAddress: localIp, localPort: lease.port });

  // Recording: one slot per 20 ms tick; left = what we sent, right = what we received.
  const left: Int16Array[] = [];
  const right: Int16Array[] = [];
  let lastAgentAudio = -Infinity;
  let agentAudioFrames = 0;
  // Both channels are placed by the time since the answer (see frameSlot), so a pacer that skips ticks on
  // a busy machine does not shift one side of the recording against the other.
  let answeredAt = 0;
  const slot = (frames: Int16Array[]) => frameSlot(performance.now() - answeredAt, frames.length);

  const result: CallerResult = { sipCallId: "", answered: false, phrases: [], heardAgentMs: 0, agentTurns: [] };
  say(`calling ${cmd.uri} as ${cmd.from} (SIP ${localIp}:${transport.local.port})`);
  const call = ua.invite({ requestUri: cmd.uri, from: cmd.from, offerSdp: offer.sdp });
  result.sipCallId = call.callId;
  let session: RtpSession | undefined;
  let playout: Playout | undefined;
  const answered = new Promise<boolean>((resolve) => {
    call.on("answered", (sdp) => {
      const media = parseAnswer(sdp);
      answeredAt = performance.now();
      session = new RtpSession({
        lease,
        remote: media.remote,
        // An agent bound to 0.0.0.0 (the default) writes this host's first network address into its SDP
        // (192.0.2.2, say) but sends its RTP from the address the route to us picks (127.0.0.1 when we
        // called it there). The latch takes a source at the SDP's address or the signalling's
        // (symmetric-latch.ts rule 2): with the SIP address given, that audio is heard, not dropped.
        signallingAddress: agentSipIp,
        advertisedAddress: localIp,
        codec: media.codec,
        payloadType: media.payloadType,
        telephoneEventPt: media.telephoneEventPt,
        onAudio: (frame) => {
          let e = 0;
          for (let i = 0; i < frame.pcm.length; i++) e += frame.pcm[i] * frame.pcm[i];
          if (Math.sqrt(e / frame.pcm.length) > SPEECH_RMS) {
            lastAgentAudio = performance.now();
            agentAudioFrames++;
          }
          right[slot(right)] = frame.pcm.slice();
        },
      });
      const s = session;
      const codec = media.codec;
      const sink: FrameSink = {
        sendFrame: (payload, marker) => {
          left[slot(left)] = decodeFrame(payload, codec);
          return s.sendFrame(payload, marker);
        },
      };
      playout = new Playout({ sink, codec });
      pacer.add(playout);
      say(`answered (${codec}); waiting for the agent to speak`);
      resolve(true);
    });
    let failed = false;
    call.on("failed", (status, reason) => {
      failed = true;
      say(`call failed: ${status} ${reason}`);
      resolve(false);
    });
    // Ended before any answer or final response (ICMP unreachable, Timer B): say why, never exit silently.
    call.on("ended", (reason) => {
      if (!failed && !result.answered) say(`call failed: ${endedInWords(reason)}`);
      resolve(false);
    });
  });
  let ended: EndReason | undefined;
  void call.done.then((r) => (ended = r));

  const agentTurnsPrinted = new Set<number>();
  const printAgentTurns = async () => {
    if (!cmd.agentHttp) return;
    const record = await fetchRecord(cmd.agentHttp, call.callId);
    if (!record) return;
    result.agentTurns = record.turns;
    for (const t of record.turns) {
      if (agentTurnsPrinted.has(t.index)) continue;
      agentTurnsPrinted.add(t.index);
      if (t.speaker === "caller") say(`agent heard:    "${t.text}"`);
      else {
        // Without a final transcript the reply answered no caller speech (greeting, prompt, resumed rest):
        // its latency counts from when the agent started it, not from the end of the caller's speech.
        const from = t.latency?.finalTranscriptMs !== undefined ? "end of caller speech" : "reply started";
        const lat = t.latency?.firstRtpMs !== undefined ? `  (agent-side: ${from} → first RTP ${t.latency.firstRtpMs} ms)` : "";
        say(`agent said:     "${t.text}"${t.interrupted ? " [interrupted]" : ""}${lat}`);
      }
    }
  };

  /** Waits until the agent has spoken and then stayed silent for END_OF_REPLY_MS. Returns when it started. */
  const waitForReply = async (after: number, timeoutMs: number): Promise<number | undefined> => {
    const deadline = performance.now() + timeoutMs;
    let startedAt: number | undefined;
    const startFrames = agentAudioFrames;
    while (performance.now() < deadline && ended === undefined) {
      if (startedAt === undefined && agentAudioFrames > startFrames && lastAgentAudio > after) startedAt = lastAgentAudio;
      if (startedAt !== undefined && performance.now() - lastAgentAudio > END_OF_REPLY_MS) break;
      await Bun.sleep(20);
    }
    return startedAt;
  };

  let code = 0;
  try {
    const ok = await Promise.race([answered, Bun.sleep(30_000).then(() => false)]);
    if (!ok) {
      code = 1;
      if (ended === undefined) say("no answer within 30 s: cancelling the call");
      call.cancel();
    } else {
      result.answered = true;
      await waitForReply(0, cmd.replyTimeoutMs);
      if (agentAudioFrames === 0 && ended === undefined) say(silenceHint(session!.stats.ignoredSourceIn, session!.stats.packetsIn));
      await printAgentTurns();
      for (const text of cmd.say) {
        if (ended !== undefined) break;
        say(`caller says:    "${text}"`);
        const audio = tts.open({ signal: AbortSignal.timeout(30_000), callId: "caller" });
        audio.pushText(text);
        audio.end();
        for await (const pcm of audio.audio) await playout!.captureFrame(pcm);
        playout!.flush();
        await playout!.waitForPlayout();
        const spokeAt = performance.now();
        const started = await waitForReply(spokeAt, cmd.replyTimeoutMs);
        const phrase: { text: string; replyDelayMs?: number } = { text };
        if (started === undefined) say(`no reply within ${cmd.replyTimeoutMs} ms`);
        else {
          phrase.replyDelayMs = Math.round(started - spokeAt);
          say(`reply started ${phrase.replyDelayMs} ms after the caller stopped speaking`);
        }
        result.phrases.push(phrase);
        await printAgentTurns();
      }
      if (ended === undefined) {
        await Bun.sleep(500);
        if (ended === undefined) {
          say("hanging up");
          await call.hangup();
        }
      } else say(endedInWords(ended));
      await Bun.sleep(300);
      await printAgentTurns();
    }
  } finally {
    result.endReason = ended ?? call.endReason;
    result.heardAgentMs = agentAudioFrames * 20;
    if (playout) {
      pacer.remove(playout);
      playout.close();
    }
    pacer.stop();
    session?.close();
    lease.release();
    ua.dispose();
    transport.close();
  }
  if (cmd.record) {
    await Bun.write(cmd.record, stereoWav(left, right));
    say(`recording written to ${cmd.record} (${(Math.max(left.length, right.length) * 0.02).toFixed(1)} s)`);
  }
  if (cmd.json) console.log(JSON.stringify(result, null, 2));
  return code;
}

/** What to say when nothing was heard from the agent after its greeting should have come. */
export function silenceHint(ignoredSourceIn: number, packetsIn: number): string {
  if (ignoredSourceIn > 0 && packetsIn === 0) {
    return `heard nothing: ${ignoredSourceIn} RTP packets came from an address that is neither the agent's SDP address nor its SIP address; start the agent with SIP_PUBLIC_IP set to the address this caller reaches it at`;
  }
  if (packetsIn === 0) return "heard nothing: no RTP from the agent (a firewall between us, or the agent's SDP names an address we cannot reach: set SIP_PUBLIC_IP)";
  return "heard only silence from the agent so far";
}

/** Lag behind the clock (20 ms slots) tolerated before a recording channel jumps ahead with silence. */
const SLOT_SLACK = 3;

/**
 * The 20 ms slot of one recording channel for a frame sent or received `elapsedMs` after the answer,
 * when `length` slots are already filled: the next slot, unless the channel fell more than SLOT_SLACK
 * slots (60 ms) behind the clock — then the clock's slot, the gap staying silence. Jitter thus never
 * punches holes, while skipped pacer ticks or lost packets keep both channels on one time line.
 */
export function frameSlot(elapsedMs: number, length: number): number {
  const now = Math.floor(elapsedMs / 20);
  return now > length + SLOT_SLACK ? now : length;
}

async function fetchRecord(base: string, sipCallId: string): Promise<CallRecord | undefined> {
  try {
    const res = await fetch(`${base.replace(/\/$/, "")}/calls`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { active: CallRecord[]; recent: CallRecord[] };
    return [...body.active, ...body.recent].find((r) => r.sipCallId === sipCallId);
  } catch {
    return undefined;
  }
}

/** 16-bit PCM stereo WAV at 8000 Hz from per-tick frames (missing frames are silence). */
export function stereoWav(left: Int16Array[], right: Int16Array[]): Uint8Array {
  const frames = Math.max(left.length, right.length);
  const samples = frames * 160;
  const buf = new ArrayBuffer(44 + samples * 4);
  const v = new DataView(buf);
  const text = (o: number, s: string) => [...s].forEach((c, i) => v.setUint8(o + i, c.charCodeAt(0)));
  text(0, "RIFF");
  v.setUint32(4, 36 + samples * 4, true);
  text(8, "WAVE");
  text(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 2, true);
  v.setUint32(24, 8000, true);
  v.setUint32(28, 8000 * 4, true);
  v.setUint16(32, 4, true);
  v.setUint16(34, 16, true);
  text(36, "data");
  v.setUint32(40, samples * 4, true);
  let o = 44;
  for (let f = 0; f < frames; f++) {
    const l = left[f];
    const r = right[f];
    for (let i = 0; i < 160; i++) {
      v.setInt16(o, l?.[i] ?? 0, true);
      v.setInt16(o + 2, r?.[i] ?? 0, true);
      o += 4;
    }
  }
  return new Uint8Array(buf);
}
