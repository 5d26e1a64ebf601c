/**
 * A call's media and conversation once SDP is negotiated, the same for inbound and outbound calls:
 * RTP session on a leased port → playout on the shared pacer → AgentCall (VAD, STT, LLM, TTS).
 * `close()` releases everything (pacer slot, playout, socket and port); it is idempotent.
 */
import { AgentCall } from "../pipeline/agent-call";
import { SileroSpeechDetector } from "../pipeline/speech-detector";
import { CorrelationEcho } from "../pipeline/echo-correlation";
import { defaultTools } from "../providers/cloud";
import { transferCallSpec } from "../providers/tools/transfer-call";
import { Playout } from "../media/playout";
import { PLAYOUT_HOLD_FRAMES } from "../media/playout-hold";
import { DtmfSender, RtpSession, type PacerSource } from "../rtp";
import { MissingMedia } from "../rtp/missing-media";
import { PacedOutput } from "./paced-output";
import { decodeFrame, silenceFrame } from "../media/g711";
import { CallRecorder } from "./recording";
import type { AudioFrame } from "../media/constants";
import { RtpWatchdog, type RtpTimeoutRule } from "./rtp-watchdog";
import { unprovenMediaAddress } from "../rtp/media-consent";
import { BridgeLink, passKey } from "./transfer-bridge";
import type { BridgeLeg } from "./bridge-leg";
import type { RtcpSession } from "../rtp/rtcp-session";
import { openCallRtcp } from "./call-rtcp";
import { canSend, type NegotiatedMedia, type RenegotiableMedia } from "../sdp";
import type { CallMediaOptions } from "./media-options";

export type { CallMediaOptions, CallProviders } from "./media-options";

/**
 * One call's media and conversation. On hold (renegotiate) the conversation pauses (`hold()`/`resume()`)
 * and no caller audio or generated silence reaches VAD/STT.
 */
export class CallMedia implements RenegotiableMedia {
  readonly session: RtpSession;
  readonly playout: Playout;
  readonly conversation: AgentCall;
  /** Our DTMF (send_dtmf tool), sent in place of audio frames. */
  readonly dtmfOut: DtmfSender;
  /** MEDIA_WORKER=on: the playout's frames go ahead into the media worker's ring (paced-output.ts). */
  private readonly paced: PacedOutput | undefined;
  private started = false;
  private readonly missing: MissingMedia;
  private readonly silence: AudioFrame;
  /** What the pacer drives every 20 ms: our outgoing frame, and the check for missing caller RTP (rtp/missing-media.ts). */
  private readonly ticker: PacerSource = {
    onTick: (now) => {
      try {
        // The media worker sends (paced-output.ts); bridged, only our keys are left to send from here.
        if (this.paced) void (this.bridged ? this.dtmfOut.tick() : this.paced.fill(this.dtmfOut));
        // A DTMF event packet takes this tick's place; the playout's audio waits (dtmf-sender.ts).
        // Bridged, the target's frames go out as they arrive (rtp-bridge.ts): no playout, no conversation.
        else if (!this.dtmfOut.tick() && !this.bridged) this.playout.onTick();
        // A talkspurt started between ticks is over (nothing playing or queued): back to the shared ticks.
        if (!this.playout.isPlaying && !this.playout.hasFrame && this.o.pacer.isOwnSchedule(this.ticker)) this.o.pacer.rejoin(this.ticker);
        // The pacer's reading of the clock for this run (pacer-schedule.ts): the watchdog judges seconds,
        // missing media reads the clock itself near its limit; no clock read per call per tick.
        const timedOut = this.watchdog?.check(this.session.packetsReceived, this.held, now);
        if (timedOut) return this.rtpTimedOut(timedOut.silentMs, timedOut.rule);
        if (this.held || this.bridged) return;
        this.missing.tick(now); // no caller RTP for a while: silence frames in its place (rtp/missing-media.ts)
      } catch (err) {
        this.failed(err);
      }
    },
  };
  private closed = false;
  private watchdog: RtpWatchdog | undefined;
  /** The SDP address a re-INVITE/UPDATE last moved our RTP to (consentAfterMove), for the timeout's log. */
  private movedTo: { address: string; port: number } | undefined;
  /** The call's recording (RECORDING=on), from start to close. */
  private recorder: CallRecorder | undefined;
  /** The codec of the frames we send (changes on a renegotiation). */
  private codec: NegotiatedMedia["codec"];
  /** The peer put the call on hold (our direction no longer lets us send, RFC 3264 §8.4). */
  private held = false;
  /** Bridged to a transfer target (bridgeTo): the relay and the target's leg. */
  private bridged: BridgeLink | undefined;
  private readonly closing = new AbortController();
  /** Aborted when this call's media closes (the call is over): a bridge leg still ringing is cancelled. */
  readonly closedSignal = this.closing.signal;

  constructor(private readonly o: CallMediaOptions) {
    const { record, media, log } = o;
    record.codec = media.codec;
    this.codec = media.codec;
    this.session = new RtpSession({
      lease: o.lease,
      remote: media.remote,
      signallingAddress: o.signallingAddress,
      advertisedAddress: o.advertisedAddress,
      latchMode: o.latchMode,
      codec: media.codec,
      payloadType: media.payloadType,
      telephoneEventPt: media.telephoneEventPt,
      comfortNoise: !!media.comfortNoise,
      packetMs: media.sendPtime, // the peer's a=maxptime below 20 ms (RFC 4566 §6)
      direction: media.direction,
      clock: o.clock,
      onAudio: (frame) => {
        // The datagram's arrival on o.clock, no second read: its handling's start on the default path; with
        // RTP_RX_BUDGET_MS or MEDIA_WORKER, when it reached the process (queued datagrams, as for the jitter).
        this.missing.heard(this.session.receivedAt);
        this.recorder?.caller(frame.pcm);
        if (this.bridged) return this.bridged.relay.fromCaller(frame);
        if (this.held) return; // hold music is not the caller
        try {
          this.conversation.onAudioFrame(frame);
        } catch (err) {
          this.failed(err);
        }
      },
      onDtmf: (ev) => {
        log.info({ callId: record.id, durationMs: ev.durationMs, endSeen: ev.endSeen, pii: { key: ev.key } }, "dtmf received");
        this.onDtmf(ev.key);
      },
    });
    const session = this.session;
    const paced = session.paced;
    // With the worker, our keys go into the ring in tick order; bridged (no ticks there), one by one.
    const keysToRing = { next: session.next, sendEvent: (p: Uint8Array, m: boolean, ts: number, n?: number) => (this.bridged ? session.sendEvent(p, m, ts, n) : this.paced!.writeEvent(p, m)) };
    this.dtmfOut = new DtmfSender(paced ? keysToRing : session);
    this.silence = { pcm: new Int16Array(160), payload: silenceFrame(media.codec), codec: media.codec };
    const fill = () => {
      try {
        this.conversation.onAudioFrame(this.silence);
      } catch (err) {
        this.failed(err);
      }
    };
    this.missing = new MissingMedia({ clock: o.clock, fill, heardElsewhere: (ms) => this.paced?.heardWithin(ms) ?? false, active: () => !this.closed && !this.held && !this.bridged });
    const echo = new CorrelationEcho(media.codec);
    // Every frame that goes out is noted, so the detector can tell our own echo from the caller.
    this.playout = new Playout({
      sink: {
        sendFrame: (payload, marker) => {
          echo.noteSent(payload);
          this.recorder?.agent(decodeFrame(payload, this.codec));
          return paced ? true : session.sendFrame(payload, marker); // the worker sent it already
        },
        // RTP_SILENCE_SUPPRESSION=on, nothing to say: noted and recorded as sent silence (wall-clock aligned), a keep-alive at most on the wire.
        sendIdleFrame: (payload) => {
          echo.noteSent(payload);
          this.recorder?.agent(decodeFrame(payload, this.codec));
          return session.sendIdleFrame(payload);
        },
      },
      silenceSuppression: !!o.silenceSuppression && !paced,
      codec: media.codec,
      // The first frame of a talkspurt goes out now, not at the next shared tick (src/rtp/pacer.ts);
      // with the worker every frame is handed over as it comes (paced-output.ts).
      onAudioQueued: paced ? undefined : () => queueMicrotask(() => this.startTalkspurt()),
      onFrameQueued: paced ? () => this.paced!.soon(() => this.startTalkspurt()) : undefined,
      onCleared: () => this.paced?.clear(),
      onPaused: () => void (!this.dtmfOut.active && this.paced?.rewind()), // a paused reply: frames written ahead go back
      holdFrames: paced ? 0 : PLAYOUT_HOLD_FRAMES, // audio still arriving: a late frame, not silence (playout-hold.ts)
    });
    this.paced = paced ? new PacedOutput(paced, this.playout) : undefined;
    this.conversation = new AgentCall({
      record,
      clock: o.clock,
      log,
      stt: o.providers.stt,
      llm: o.providers.llm,
      tts: o.providers.tts,
      fallbackTts: o.providers.fallback.tts,
      fallbackStt: o.providers.fallback.stt,
      fallbackLlm: o.providers.fallback.llm,
      system: o.system,
      tools: o.transfer ? [...defaultTools(), transferCallSpec(o.transfer.targets)] : defaultTools(),
      transfer: o.transfer,
      output: this.playout,
      vad: o.vad
        ? new SileroSpeechDetector(o.vad.createStream(), {
            ...o.detector,
            echo,
            // A second stream that hears silence for echo frames confirms barge-ins (speech-detector.ts).
            confirm: o.vad.createStream({ quietRule: false }),
            onBargeInDecision: (t) => log.info({ callId: record.id, rule: t.rule, runMs: t.runMs, lagMs: Math.round(t.lagMs * 10) / 10, frames: t.frames }, "barge-in decision"),
          })
        : undefined,
      codec: media.codec,
      settings: o.settings,
      hangup: o.hangup,
      answer: o.answer,
      sendDtmf: (keys) => {
        if (session.telephoneEventPt === undefined) return false;
        if (!this.dtmfOut.active) this.paced?.rewind(); // the keys go before the audio written ahead
        this.dtmfOut.send(keys);
        return true;
      },
      onTurn: o.onTurn,
      onBargeIn: o.onBargeIn,
      onBargeInPause: o.onBargeInPause,
      onInterim: o.onInterim,
      onToolCall: o.onToolCall,
      onSaying: o.onSaying,
      onProviderError: o.onProviderError,
      onError: (err) => this.failed(err),
      onRecordChanged: o.onRecordChanged,
    });
  }

  /** A DTMF key from the far end: RFC 4733 (this session) or SIP INFO (the call's dialog). */
  onDtmf(key: string): void {
    if (this.closed) return;
    if (this.bridged) return void passKey(this.bridged.leg.dtmfOut, key); // to the target (RFC 4733)
    if (this.held) return;
    this.o.onDtmfKey?.(key);
    try {
      this.conversation.onDtmf(key);
    } catch (err) {
      this.failed(err);
    }
  }

  /**
   * Audio queued while only silence went out: its first frame goes now, the next ones every 20 ms from
   * it (Pacer.startNow). Not before the media started, while bridged, or while DTMF owns the ticks.
   */
  private startTalkspurt(): void {
    if (!this.started || this.closed || this.bridged) return;
    if (this.paced) return this.paced.fill(this.dtmfOut); // the worker starts it (Pacer.startNow there)
    if (this.dtmfOut.active || !this.playout.hasFrame || this.playout.isPlaying) return;
    this.o.pacer.startNow(this.ticker);
  }

  /** Hands an unexpected failure to the call boundary, once; the media goes quiet meanwhile. */
  private failed(err: unknown): void {
    if (this.closed) return;
    if (!this.o.onError) throw err;
    this.o.onError(err);
  }

  /** Starts sending (silence, then the agent's first words) and listening. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    const t = this.o.rtpTimeout;
    // RTP_START_TIMEOUT_S only when our RTP goes where the signalling did not come from (rtp/media-consent.ts).
    const startMs = t?.startMs && unprovenMediaAddress(this.o.media.remote, this.o.signallingAddress) ? t.startMs : 0;
    if (t && (t.ms > 0 || t.holdMs > 0 || startMs > 0)) this.watchdog = new RtpWatchdog({ timeoutMs: t.ms, holdTimeoutMs: t.holdMs, startTimeoutMs: startMs }, this.o.clock.now());
    this.missing.heard(this.o.clock.now());
    if (this.o.recordingsDir) this.recorder = CallRecorder.open({ dir: this.o.recordingsDir, callId: this.o.record.id, clock: this.o.clock, log: this.o.log });
    this.o.pacer.add(this.ticker);
    this.paced?.stream.pace(true);
    this.openRtcp();
    this.conversation.start().catch((err) => this.failed(err));
  }

  /** RTP packets accepted from the far end so far (the RTP session's counter). */
  get packetsReceived(): number {
    return this.session.packetsReceived;
  }

  /** True while the peer holds the call. */
  get onHold(): boolean {
    return this.held;
  }

  /**
   * A re-INVITE/UPDATE changed the media (RFC 3264 §8): the RTP session follows the new address from
   * its next packet, the new direction and codec (the record's too); a direction that no longer lets us
   * send is hold and pauses the conversation, the move back to sending resumes it.
   */
  renegotiate(media: NegotiatedMedia, previous: NegotiatedMedia): void {
    if (this.closed) return;
    this.session.update(media.remote, media.direction, {
      codec: media.codec,
      payloadType: media.payloadType,
      telephoneEventPt: media.telephoneEventPt,
      comfortNoise: !!media.comfortNoise,
      packetMs: media.sendPtime,
    });
    this.consentAfterMove(media.remote, previous.remote);
    if (media.codec !== this.codec) (this.o.record.codec = this.codec = media.codec), this.o.onRecordChanged?.();
    const held = !canSend(media.direction);
    if (held === this.held || this.bridged) return; // bridged: no conversation to pause
    this.held = held;
    if (held) this.o.record.onHold = true;
    else delete this.o.record.onHold;
    this.o.onRecordChanged?.(); // the live page shows "on hold"
    this.watchdog?.reset(this.o.clock.now());
    if (held) this.conversation.hold();
    else {
      this.missing.heard(this.o.clock.now());
      this.conversation.resume();
    }
    this.o.log.info({ callId: this.o.record.id, direction: media.direction }, held ? "call held by the peer" : "call resumed by the peer");
  }

  /**
   * media-consent.ts rule 3 for a re-INVITE/UPDATE that moved our RTP (rule 2 is the session's): a new
   * address the signalling did not come from must send within RTP_START_TIMEOUT_S of the move, or the
   * call ends — else one re-INVITE naming a third party streamed there until RTP_TIMEOUT_S (30 s, 1,400
   * packets on the binary, s17) where the same offer in the INVITE stopped at 5 s. A move back to the
   * signalling address disarms it; a new port on the same address is a move too.
   */
  private consentAfterMove(now: { address: string; port: number }, before: { address: string; port: number }): void {
    const t = this.o.rtpTimeout;
    if (!this.started || !t?.startMs || (now.address === before.address && now.port === before.port)) return;
    const startMs = unprovenMediaAddress(now, this.o.signallingAddress) ? t.startMs : 0;
    const at = this.o.clock.now();
    this.movedTo = now;
    this.watchdog ??= new RtpWatchdog({ timeoutMs: t.ms, holdTimeoutMs: t.holdMs }, at);
    this.watchdog.rearmStart(startMs, this.session.packetsReceived, at);
  }

  /** RTCP beside the RTP (call-rtcp.ts); the call goes on without it if it cannot bind. */
  private openRtcp(): void {
    const { lease, record, log, media } = this.o;
    openCallRtcp({ rtp: this.session, clock: this.o.clock, lease, mux: !!media.rtcpMux, callId: record.id, log }, (r) => {
      record.rtcp = r;
      this.o.onRtcpReport?.(r);
    }, (rtcp) => {
      if (this.closed) return rtcp.close();
      this.rtcp = rtcp;
      rtcp.start();
    });
  }
  private rtcp: RtcpSession | undefined;

  /** RTP stopped coming: the call is dead; BYE with the reason recorded (once). */
  private rtpTimedOut(silentMs: number, rule: RtpTimeoutRule): void {
    this.watchdog = undefined;
    const { ignoredSourceIn: ignoredFromOtherSources, socketErrors } = this.session.stats; // RTP that came, but from an address the latch refuses
    const { callId, remote, held } = { callId: this.o.record.id, remote: this.movedTo ?? this.o.media.remote, held: this.held };
    if (rule === "start") this.o.log.warn({ callId, silentMs, remote, signalling: this.o.signallingAddress, unreachable: socketErrors, muted: this.session.mutedUnreachable, ignoredFromOtherSources }, "no rtp ever came from the sdp's media address, which is not the signalling address (RTP_START_TIMEOUT_S): ending the call");
    else this.o.log.warn({ callId, silentMs, held, ignoredFromOtherSources }, ignoredFromOtherSources > 0 ? "no rtp from the far end's signalled address (its packets came from another address: RTP_LATCH, SIP_PUBLIC_IP): ending the call" : "no rtp from the far end: ending the call");
    this.o.hangup("rtp_timeout");
  }

  /**
   * Connects the caller to a transfer target's leg (TRANSFER_FALLBACK=bridge, transfer-bridge.ts): the
   * conversation stops, queued speech is dropped, frames and keys go both ways (rtp-bridge.ts). The
   * leg's end hangs up this call ("transfer_target_hangup") and this call's end the leg; `onEnded` is
   * told once, by whom. @returns false (nothing changes) when this call is already over.
   */
  bridgeTo(leg: BridgeLeg, onEnded: (by: "caller" | "target") => void): boolean {
    if (this.closed || this.bridged) return false;
    this.conversation.stop();
    this.playout.clearBuffer();
    this.paced?.stream.pace(false); // the relay sends the target's frames as they come
    this.bridged = new BridgeLink(leg, this.session, { callId: this.o.record.id, log: this.o.log, onEnded, hangupCaller: this.o.hangup, isOver: () => this.closed });
    return true;
  }

  /** The target's audio frames while bridged (the leg's RTP session calls this). */
  fromTarget(frame: AudioFrame): void {
    if (!this.bridged || this.closed) return;
    this.recorder?.agent(frame.pcm);
    this.bridged.relay.fromTarget(frame);
  }

  /** A key the target pressed while bridged: passed on to the caller (RFC 4733 when negotiated). */
  fromTargetDtmf(key: string): void {
    if (this.bridged && !this.closed && this.session.telephoneEventPt !== undefined) passKey(this.dtmfOut, key);
  }


  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    this.bridged?.callerGone();
    this.rtcp?.close();
    this.conversation.stop();
    this.o.pacer.remove(this.ticker);
    this.playout.close();
    this.session.close();
    void this.recorder?.close();
  }
}
