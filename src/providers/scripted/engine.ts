/**
 * The scripted dialogue's state machine, run by REPLAY: the state is never stored between calls or turns;
 * each request rebuilds it from the conversation history (STATELESS, deterministic). Only the caller's
 * turns move the machine; the assistant's own turns in the history are ignored (they may have been cut
 * by barge-in, or be an opening line the pipeline spoke itself).
 *
 *   no caller turn yet            → the start state's `say` (the greeting)
 *   each caller turn, in order    → the current state's `listen` either uses it (capture a slot / yes-no)
 *                                   and moves to the next state, or counts a retry (after `maxRetries`
 *                                   unusable answers in a row: `giveUp`)
 *   reply                         → what the state reached says (its `retry` line after a retry)
 *
 * A blank caller turn (silence) counts as an unusable answer. Turns after an end state replay the end.
 */
import type { ChatMessage, TurnExpectation } from "../types.ts";
import { classifyYesNo, extractName, extractReason, extractStatedReason, extractText, hasAnyKeyword, YES_NO_WORDS } from "./extract.ts";
import type { CaptureKind, Say, Script, State } from "./script.ts";
import { dtmfOfTurn } from "../dtmf-text.ts";

export const DEFAULT_MAX_RETRIES = 2;
export const DEFAULT_END_TOOL = "end_call";

export interface DialogueTurn {
  /** What the agent says now. */
  text: string;
  /** The state reached. */
  state: string;
  /** Slots known after the replay (captured and set). */
  slots: Record<string, string>;
  /** Present when the call should end after `text`: the tool to call and its (rendered) arguments. */
  end?: { tool: string; args: Record<string, string> };
}

/** Fills `{x}` from vars, then slots; an unset slot renders as "". */
export function render(template: string, script: Script, slots: Record<string, string>): string {
  return template.replace(/\{([^{}]*)\}/g, (_m, k: string) => script.vars?.[k] ?? slots[k] ?? "");
}

/** Evaluates a `say` against the slots: the text to speak and the slots the taken branch sets. */
function choose(say: Say, script: Script, slots: Record<string, string>): { text: string; set: Record<string, string> } {
  if (typeof say === "string") return { text: render(say, script, slots), set: {} };
  for (const b of say) {
    const c = b.if;
    const v = c ? (script.vars?.[c.slot] ?? slots[c.slot] ?? "") : "";
    const holds = !c || (c.hasAny ? hasAnyKeyword(v, c.hasAny) : v.toLowerCase() === (c.equals ?? "").toLowerCase());
    if (holds) {
      const set: Record<string, string> = {};
      for (const [k, x] of Object.entries(b.set ?? {})) set[k] = render(x, script, slots);
      return { text: render(b.text, script, slots), set };
    }
  }
  return { text: "", set: {} }; // unreachable for a validated script (last branch is the default)
}

/** Spoken number words a recogniser may write as words, for the "digits" capture. */
const DIGIT_WORDS: Record<string, string> = { zero: "0", oh: "0", one: "1", two: "2", three: "3", four: "4", five: "5", six: "6", seven: "7", eight: "8", nine: "9" };

function capture(kind: CaptureKind, text: string, categories?: Record<string, string[]>): string | null {
  const keys = dtmfOfTurn(text);
  if (kind === "category") {
    if (keys !== null) return null;
    return Object.entries(categories ?? {}).find(([, words]) => hasAnyKeyword(text, words))?.[0] ?? null;
  }
  if (kind === "digits") {
    if (keys !== null) return keys.replace(/#$/, "") || null;
    const words = text.toLowerCase().match(/[a-z]+|\d/g) ?? [];
    const digits = words.map((w) => (/^\d$/.test(w) ? w : (DIGIT_WORDS[w] ?? ""))).join("");
    return digits || null;
  }
  if (keys !== null) return null; // key presses are not a name or a reason
  if (kind === "person_name") return extractName(text);
  if (kind === "reason") return extractReason(text);
  if (kind === "stated_reason") return extractStatedReason(text);
  return extractText(text);
}

/**
 * Replays `history` through `script` and returns the agent's next turn.
 * Pure: same script and history → same turn.
 */
export function replay(script: Script, history: readonly ChatMessage[]): DialogueTurn {
  const maxRetries = script.maxRetries ?? DEFAULT_MAX_RETRIES;
  const slots: Record<string, string> = {};
  let name = script.start;
  let retries = 0;

  /**
   * Enters `to`: applies the taken branch's `set` and returns its line. A step whose `listen` has
   * `skipIfKnown` and whose slot the caller already filled (e.g. the reason said with the name) is
   * passed over to its `next`: the caller is not asked for what they said (bounded: one hop per state).
   */
  const enter = (to: string): string => {
    for (let hops = 0; hops < Object.keys(script.states).length; hops++) {
      const l = script.states[to]!.listen;
      if (!(l && "capture" in l && l.skipIfKnown && slots[l.capture] !== undefined)) break;
      to = l.next;
    }
    name = to;
    retries = 0;
    const { text, set } = choose(script.states[to]!.say, script, slots);
    Object.assign(slots, set);
    return text;
  };

  let text = enter(script.start);
  for (const m of history) {
    if (m.role !== "user") continue;
    const st: State = script.states[name]!;
    if (st.end || !st.listen) {
      text = enter(name); // the call should already be over: say the end again
      continue;
    }
    const l = st.listen;
    let next: string | null = null;
    const keys = dtmfOfTurn(m.text);
    if (keys !== null && l.keys) next = l.keys[keys] ?? l.keys[keys.replace(/#$/, "")] ?? null;
    if (next !== null) {
      // a listed key sequence
    } else if (!("intent" in l) && !("capture" in l)) {
      // a keypad-only menu: anything else is unusable
    } else if ("intent" in l) {
      const yn = classifyYesNo(m.text);
      if (yn) next = yn === "yes" ? l.yes : l.no;
    } else {
      const v = capture(l.as, m.text, l.categories);
      if (v !== null) {
        slots[l.capture] = v;
        next = l.next;
      }
    }
    // Slots the same answer may fill in passing (`also`), used or not: a later `skipIfKnown` step skips.
    if ("capture" in l && l.also && keys === null) {
      for (const [slot, kind] of Object.entries(l.also)) {
        const v = slots[slot] === undefined ? capture(kind, m.text) : null;
        if (v !== null) slots[slot] = v;
      }
    }
    if (next !== null) {
      text = enter(next);
    } else if (retries >= maxRetries && st.giveUp) {
      text = enter(st.giveUp);
    } else {
      retries++;
      text = st.retry ? choose(st.retry, script, slots).text : `Sorry, I didn't catch that. ${choose(st.say, script, slots).text}`;
    }
  }

  const st = script.states[name]!;
  const turn: DialogueTurn = { text, state: name, slots: { ...slots } };
  if (st.end) {
    const args: Record<string, string> = {};
    for (const [k, x] of Object.entries(st.end.args ?? {})) args[k] = render(x, script, slots);
    turn.end = { tool: st.end.tool ?? DEFAULT_END_TOOL, args };
  }
  return turn;
}

/**
 * What the step reached by `history` expects of the caller's next turn: the words its `listen` matches
 * on (category synonyms; yes/no words; digit words for a digits capture) and its `dtmf` grouping.
 * Undefined for an open step (name, reason, text) without `dtmf`, and for end states.
 */
export function expectationOf(script: Script, history: readonly ChatMessage[]): TurnExpectation | undefined {
  const l = script.states[replay(script, history).state]!.listen;
  if (!l) return undefined;
  let words: string[] = [];
  let kind: TurnExpectation["kind"];
  if ("intent" in l) [kind, words] = ["yes_no", [...YES_NO_WORDS]];
  else if ("capture" in l && l.as === "category") [kind, words] = ["category", Object.values(l.categories ?? {}).flat()];
  else if ("capture" in l && l.as === "digits") [kind, words] = ["digits", Object.keys(DIGIT_WORDS)];
  const d = l.dtmf;
  const digits = d && { ...d, ...(d.terminator === "none" ? { terminator: "" } : {}) };
  if (!kind && !digits) return undefined;
  return { ...(kind ? { kind } : {}), words, ...(digits ? { digits } : {}) };
}
