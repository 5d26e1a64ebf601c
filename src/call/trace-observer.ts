/**
 * One OpenTelemetry trace per call, built from the call's events (the CallObserver seam), never from the
 * media path: the spans of a turn are made when the turn is recorded, with the stage times it carries.
 *
 *   call                                  root; SERVER (inbound) or CLIENT (outbound); start → end
 *   ├─ sip.setup                          INVITE → ACK (inbound) / INVITE → 2xx (outbound)
 *   ├─ stt.session                        answer → end: the speech recogniser's stream
 *   ├─ turn                               end of the caller's speech (or the reply's start) → reply ended
 *   │  ├─ stage.final_transcript          end of speech → final transcript
 *   │  ├─ stage.first_token               → first LLM token
 *   │  ├─ stage.first_audio               → first TTS audio
 *   │  ├─ stage.first_rtp                 → first RTP packet of the reply
 *   │  ├─ llm.request                     request sent → answer complete (CLIENT)
 *   │  └─ tts.request                     first sentence sent → last audio received (CLIENT)
 *   ├─ hold                               the peer held the call → resumed
 *   └─ transfer                           REFER sent → final NOTIFY / refusal / timeout (bridge: → target answered)
 *
 * Barge-ins, DTMF keys, tool calls and provider errors are events on the root span. Numbers (From/To),
 * transcripts, replies, keys and tool arguments are attributes only when `pii` is true (LOG_PII).
 * Refused calls (no `callStarted`) are one `call.refused` span each.
 *
 * Runs in the tracing worker (src/cli/trace-worker.ts), off the thread that paces RTP: the call side only
 * posts the events (src/cli/tracing.ts); spans go to the SDK's batch queue (src/metrics/trace-export.ts).
 */
import { SpanKind, SpanStatusCode, context, trace, type Attributes, type Context, type Span, type Tracer } from "@opentelemetry/api";
import type { CallRecord, TurnLatency, TurnRecord } from "../pipeline/call-record";
import type { CallObserver } from "./observer";

/** What one live call keeps: its root span and the spans still open. */
interface CallTrace {
  root: Span;
  ctx: Context;
  setup?: Span;
  stt?: Span;
  hold?: Span;
  transfer?: Span;
  /** `startedAt` of the transfer `transfer` traces (a later attempt gets a span of its own). */
  transferAt?: string;
  /** The caller's last final turn, for the next reply's span (PII). */
  callerText?: string;
  /** Turns seen (the records this observer gets may come without their turns: src/cli/tracing.ts). */
  turns: number;
}


/**
 * The stages of a reply in the order they happen: each span runs from the end of the previous stage
 * reached (0, the end of speech, for the first) to the TurnLatency figure named. The greeting has no
 * final transcript: its first stage is first_token, from the reply's start.
 */
const STAGES: readonly [string, keyof TurnLatency][] = [
  ["stage.final_transcript", "finalTranscriptMs"],
  ["stage.first_token", "firstTokenMs"],
  ["stage.first_audio", "firstAudioMs"],
  ["stage.first_rtp", "firstRtpMs"],
];

export interface TraceObserverOptions {
  tracer: Tracer;
  /** LOG_PII: numbers, transcripts and replies as attributes. */
  pii: boolean;
  /**
   * When the event being handled happened, epoch ms (default: now). The tracing worker sets it to the
   * time the call side posted the event, so hold, barge-in and other event times are not the worker's.
   */
  now?: () => number;
}

/** The tracing view of calls (see the file comment for the spans). */
export function traceObserver(o: TraceObserverOptions): CallObserver {
  const { tracer, pii } = o;
  const now = () => new Date(o.now ? o.now() : Date.now());
  const time = (iso: string | undefined): Date => (iso ? new Date(iso) : now());
  const live = new Map<string, CallTrace>();
  const child = (t: CallTrace, name: string, start: Date, attributes: Attributes = {}, kind = SpanKind.INTERNAL, parent = t.ctx) =>
    tracer.startSpan(name, { startTime: start, attributes, kind }, parent);

  function onUpdated(t: CallTrace, r: CallRecord): void {
    if (r.codec) t.root.setAttribute("voice_agent.codec", r.codec);
    if (r.onHold && !t.hold) t.hold = child(t, "hold", now());
    else if (!r.onHold && t.hold) {
      t.hold.end(now());
      t.hold = undefined;
    }
    const tr = r.transfer;
    if (!tr) return;
    if (t.transferAt !== tr.startedAt) {
      t.transferAt = tr.startedAt;
      t.transfer = child(t, "transfer", time(tr.startedAt), { "voice_agent.transfer.target": tr.target, "voice_agent.transfer.method": tr.method });
    }
    if (tr.outcome === "pending" || !t.transfer?.isRecording()) return;
    t.transfer.setAttributes({
      "voice_agent.transfer.method": tr.method,
      "voice_agent.transfer.outcome": tr.outcome,
      ...(tr.failureReason ? { "voice_agent.transfer.failure_reason": tr.failureReason } : {}),
      ...(tr.referStatus !== undefined ? { "voice_agent.transfer.refer_status": tr.referStatus } : {}),
      ...(tr.finalStatus !== undefined ? { "voice_agent.transfer.final_status": tr.finalStatus } : {}),
      ...(pii && tr.uri ? { "voice_agent.transfer.uri": tr.uri } : {}),
    });
    if (tr.outcome !== "transferred" && tr.outcome !== "bridged") t.transfer.setStatus({ code: SpanStatusCode.ERROR, message: tr.outcome });
    // A bridge ends the transfer span when the target answers (the bridged talk is the rest of the call).
    t.transfer.end(time(tr.outcome === "bridged" ? tr.bridgedAt : tr.endedAt));
  }

  function agentTurn(t: CallTrace, r: CallRecord, turn: TurnRecord): void {
    const l = turn.latency ?? {};
    const at = Date.parse(turn.at);
    const endMs = l.endMs ?? Math.max(0, ...Object.values(l).filter((v): v is number => typeof v === "number"));
    const origin = at - endMs;
    const d = (ms: number) => new Date(origin + ms);
    const usage = turn.usage ?? {};
    const span = child(t, "turn", d(0), {
      "voice_agent.turn.index": turn.index,
      ...(turn.interrupted ? { "voice_agent.turn.interrupted": true } : {}),
      ...(l.finalTranscriptMs !== undefined ? { "voice_agent.latency.final_transcript_ms": l.finalTranscriptMs } : {}),
      ...(l.firstTokenMs !== undefined ? { "voice_agent.latency.first_token_ms": l.firstTokenMs } : {}),
      ...(l.firstAudioMs !== undefined ? { "voice_agent.latency.first_audio_ms": l.firstAudioMs } : {}),
      ...(l.firstRtpMs !== undefined ? { "voice_agent.latency.first_rtp_ms": l.firstRtpMs } : {}),
      ...(pii && t.callerText !== undefined ? { "voice_agent.turn.caller_text": t.callerText } : {}),
      ...(pii ? { "voice_agent.turn.agent_text": turn.text } : {}),
      ...(pii && turn.generatedText ? { "voice_agent.turn.generated_text": turn.generatedText } : {}),
    });
    t.callerText = undefined;
    if (turn.error) span.setStatus({ code: SpanStatusCode.ERROR, message: turn.error });
    const ctx = trace.setSpan(t.ctx, span);
    let reached = 0;
    for (const [name, figure] of STAGES) {
      const end = l[figure];
      if (end === undefined) continue;
      child(t, name, d(reached), {}, SpanKind.INTERNAL, ctx).end(d(Math.max(reached, end)));
      reached = Math.max(reached, end);
    }
    if (l.llmStartMs !== undefined) {
      const llm = child(t, "llm.request", d(l.llmStartMs), {
        "voice_agent.provider": r.providers?.llm ?? "",
        ...(usage.llmInputTokens !== undefined ? { "gen_ai.usage.input_tokens": usage.llmInputTokens } : {}),
        ...(usage.llmOutputTokens !== undefined ? { "gen_ai.usage.output_tokens": usage.llmOutputTokens } : {}),
      }, SpanKind.CLIENT, ctx);
      if (turn.error && /llm/i.test(turn.error)) llm.setStatus({ code: SpanStatusCode.ERROR, message: turn.error });
      llm.end(d(Math.max(l.llmStartMs, l.llmEndMs ?? endMs)));
    }
    if (l.ttsStartMs !== undefined) {
      const ttsAttrs = { "voice_agent.provider": r.providers?.tts ?? "", ...(usage.ttsChars !== undefined ? { "voice_agent.tts.chars": usage.ttsChars } : {}) };
      child(t, "tts.request", d(l.ttsStartMs), ttsAttrs, SpanKind.CLIENT, ctx).end(d(Math.max(l.ttsStartMs, l.ttsEndMs ?? endMs)));
    }
    span.end(d(endMs));
  }

  function event(r: CallRecord, name: string, attributes: Attributes = {}): void {
    live.get(r.id)?.root.addEvent(name, attributes, now());
  }

  return {
    callStarted(r) {
      const root = tracer.startSpan("call", {
        kind: r.direction === "inbound" ? SpanKind.SERVER : SpanKind.CLIENT,
        startTime: time(r.startedAt),
        attributes: {
          "voice_agent.call.id": r.id,
          "sip.call_id": r.sipCallId,
          "voice_agent.call.direction": r.direction,
          ...(pii ? { "sip.from": r.from, "sip.to": r.to } : {}),
        },
      });
      const t: CallTrace = { root, ctx: trace.setSpan(context.active(), root), turns: 0 };
      t.setup = child(t, "sip.setup", time(r.startedAt), { "sip.method": "INVITE" });
      live.set(r.id, t);
    },
    callUpdated(r) {
      const t = live.get(r.id);
      if (t) onUpdated(t, r);
    },
    callAnswered(r) {
      const t = live.get(r.id);
      if (!t) return;
      t.setup?.end(time(r.answeredAt));
      t.setup = undefined;
      t.stt ??= child(t, "stt.session", time(r.answeredAt), { "voice_agent.provider": r.providers?.stt ?? "" }, SpanKind.CLIENT);
    },
    turn(r, turn) {
      const t = live.get(r.id);
      if (!t) return;
      t.turns++;
      if (turn.speaker === "caller") t.callerText = turn.text;
      else agentTurn(t, r, turn);
    },
    bargeIn: (r) => event(r, "barge-in"),
    providerError(r, err) {
      // A ProviderError, or its fields as posted to a worker (src/cli/tracing.ts): provider, kind, code, message.
      const e = (typeof err === "object" && err !== null ? err : {}) as { provider?: string; kind?: string; code?: unknown; message?: string };
      const p = e.provider !== undefined ? { "voice_agent.provider": e.provider, "voice_agent.provider.kind": String(e.kind), "error.type": String(e.code) } : {};
      event(r, "provider error", { ...p, "exception.message": e.message ?? String(err) });
    },
    dtmf: (r, key) => event(r, "dtmf", pii ? { "voice_agent.dtmf.key": key } : {}),
    toolCall: (r, name, args) => event(r, "tool call", { "voice_agent.tool.name": name, ...(pii ? { "voice_agent.tool.args": JSON.stringify(args) } : {}) }),
    rtpStats(r, st) {
      live.get(r.id)?.root.setAttributes({ "rtp.packets_in": st.packetsIn, "rtp.packets_out": st.packetsOut, "rtp.packets_lost": st.lost });
    },
    callEnded(r, result) {
      const t = live.get(r.id);
      if (!t) return;
      live.delete(r.id);
      const end = time(r.endedAt);
      onUpdated(t, { ...r, onHold: undefined });
      if (t.setup) {
        t.setup.setStatus({ code: SpanStatusCode.ERROR, message: `not answered: ${result}` });
        t.setup.end(end);
      }
      if (t.transfer?.isRecording()) t.transfer.end(end);
      if (t.stt) {
        if (r.usage) t.stt.setAttribute("voice_agent.stt.audio_s", r.usage.sttAudioS);
        t.stt.end(end);
      }
      const u = r.usage;
      t.root.setAttributes({
        "voice_agent.call.end_reason": result,
        "voice_agent.call.barge_ins": r.bargeIns,
        "voice_agent.call.turns": t.turns,
        ...(r.status ? { "voice_agent.call.status": r.status } : {}),
        ...(r.hangupCause?.code ? { "sip.response.status_code": r.hangupCause.code } : {}),
        ...(u ? { "gen_ai.usage.input_tokens": u.llmInputTokens, "gen_ai.usage.output_tokens": u.llmOutputTokens, "voice_agent.tts.chars": u.ttsChars } : {}),
      });
      if (result === "error") t.root.setStatus({ code: SpanStatusCode.ERROR, message: "the call failed" });
      t.root.end(end);
    },
    callRefused(direction, result) {
      const at = now();
      tracer.startSpan("call.refused", { startTime: at, kind: direction === "inbound" ? SpanKind.SERVER : SpanKind.CLIENT, attributes: { "voice_agent.call.direction": direction, "voice_agent.call.end_reason": result } }).end(at);
    },
  };
}
