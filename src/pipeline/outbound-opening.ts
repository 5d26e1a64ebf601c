/**
 * The outbound start of a conversation: the callee's answer watched by OutboundAnswer (the opening held
 * until their first words end; answering-machine detection, outbound-answer.ts) with its actions carried
 * out on the conversation's speech, and the opening rendered ahead while the callee says "Hello?"
 * (prerendered-tts.ts), so it starts as soon as they are done.
 */
import type { StateMachine } from "../util/state-machine";
import type { AgentSpeech } from "./agent-speech";
import type { ConversationState } from "./conversation-state";
import type { AgentCallDeps } from "./conversation-settings";
import { OutboundAnswer } from "./outbound-answer";
import { PrerenderedTts } from "./prerendered-tts";
import type { StageProviders } from "./stage-providers";

/** The OutboundAnswer of an outbound call, its open / hang-up / message actions done on `speech`. */
export function outboundAnswerFor(
  d: AgentCallDeps,
  settings: NonNullable<AgentCallDeps["answer"]>,
  speech: AgentSpeech,
  state: StateMachine<ConversationState>,
): OutboundAnswer {
  return new OutboundAnswer(settings, {
    record: d.record,
    log: d.log,
    actions: {
      open: () => !state.is("ending", "stopped") && speech.startReply(null, null),
      hangup: () => {
        speech.openingTts?.discard();
        if (!state.tryTo("ending")) return;
        d.hangup("machine_detected");
      },
      leaveMessage: (text) => {
        speech.openingTts?.discard();
        speech.say(text, true, "voicemail_message");
      },
      changed: () => d.onRecordChanged?.(),
    },
  });
}

/** Starts rendering the opening text (if any) while the answer is pending; the first reply replays it. */
export function prerenderOpening(d: AgentCallDeps, answer: OutboundAnswer, speech: AgentSpeech, providers: StageProviders, signal: AbortSignal): void {
  if (!d.answer?.opening || !answer.pending) return;
  speech.openingTts = PrerenderedTts.render(providers.tts, d.answer.opening, { signal, callId: d.record.id });
}
