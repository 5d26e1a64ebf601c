/**
 * What the AgentCall unit tests share: a speech detector the test drives by hand (its `ev` is the
 * call's listener: `vad.ev!.onSpeechStart(…)`), a connected call record, and an AgentCall with the
 * tests' defaults (silent log, system prompt "test", no tools, PCMU, a hang-up that does nothing),
 * every dependency overridable.
 *
 *   const vad = new ScriptedVad();
 *   const call = testAgentCall({ clock, stt, llm, tts, output: playout, vad, settings: { … } });
 */
import { AgentCall, type AgentCallDeps, type SpeechDetector, type SpeechEvents } from "../../../src/pipeline/agent-call";
import type { CallRecord } from "../../../src/pipeline/call-record";
import { silentLogger } from "../../../src/util/log";

/** A SpeechDetector that hears nothing by itself: the test calls the listener's methods through `ev`. */
export class ScriptedVad implements SpeechDetector {
  ev: SpeechEvents | null = null;
  heldBackground = false;
  agentSpeaking = false;
  setAgentSpeaking(v: boolean) {
    this.agentSpeaking = v;
  }
  listen(e: SpeechEvents) {
    this.ev = e;
  }
  push() {}
}

/** A connected inbound call's record, no turns yet; `over` replaces any field. */
export function testRecord(over: Partial<CallRecord> = {}): CallRecord {
  return { id: "c1", sipCallId: "x", direction: "inbound", from: "a", to: "b", state: "connected", startedAt: new Date().toISOString(), turns: [], bargeIns: 0, ...over };
}

/** An AgentCall on `deps` (clock, providers, output at least), the rest from the tests' defaults. */
export function testAgentCall(deps: Pick<AgentCallDeps, "clock" | "stt" | "llm" | "tts" | "output"> & Partial<AgentCallDeps>): AgentCall {
  return new AgentCall({
    record: testRecord(),
    log: silentLogger,
    system: "test",
    tools: [],
    codec: "PCMU",
    hangup: () => {},
    ...deps,
  });
}
