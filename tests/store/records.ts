/** Call records and turns the store tests write (tests/store/*.test.ts). */
import type { CallRecord, TurnRecord } from "../../src/pipeline/call-record";

/** An outbound call record as the dialer creates it, with metadata of every JSON kind. */
export function outbound(id: string, startedAt = "2026-11-29T10:00:00.000Z"): CallRecord {
  return {
    id,
    sipCallId: `${id}@127.0.0.1`,
    direction: "outbound",
    from: "sip:+14155550123@trunk.example",
    to: "sip:+14155550100@trunk.example",
    state: "ringing",
    status: "initiating",
    startedAt,
    turns: [],
    bargeIns: 0,
    providers: { stt: "s", llm: "l", tts: "t" },
    openingReason: "about your dentist appointment tomorrow",
    objective: "confirm or reschedule",
    metadata: { customer: 42, tags: ["a", "b"], nested: { ok: true } },
  };
}

/** Turn `index`, one second after the previous. */
export function turn(index: number, speaker: "agent" | "caller", text: string, extra: Partial<TurnRecord> = {}): TurnRecord {
  return { index, speaker, text, at: `2026-11-29T10:00:0${index}.000Z`, ...extra };
}
