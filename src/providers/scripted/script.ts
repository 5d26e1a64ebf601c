/**
 * The dialogue file of the scripted LLM: a small state machine in JSON, validated on load.
 *
 * Shape (see models/script/receptionist.json for a complete one):
 *
 *     {
 *       "name": "receptionist",
 *       "vars": { "business": "Example Clinic" },          // fixed values usable as {business}
 *       "start": "greet",                                  // first state; its `say` is the greeting
 *       "maxRetries": 2,                                   // unusable answers tolerated per state
 *       "states": {
 *         "greet": {
 *           "say": "Hello … May I have your name, please?",
 *           "listen": { "capture": "name", "as": "person_name", "next": "ask_reason" },
 *           "retry": "Sorry, I didn't catch your name. …",   // said when the answer gives no name
 *           "giveUp": "goodbye_unclear"                      // after maxRetries unusable answers
 *         },
 *         "confirm": {
 *           "say": [                                          // first branch whose `if` holds
 *             { "if": { "slot": "reason", "hasAny": ["appointment"] }, "set": { "topic": "appointment" },
 *               "text": "So, {name}, … Is that right?" },
 *             { "text": "So, {name}, you are calling about {reason}. Is that right?" }  // default last
 *           ],
 *           "listen": { "intent": "yes_no", "yes": "goodbye", "no": "ask_reason_again" }
 *         },
 *         "goodbye": { "say": "… Goodbye!", "end": { "tool": "end_call", "args": { "reason": "{topic}" } } }
 *       }
 *     }
 *
 * Placeholders `{x}` name a var or a slot (captured by a `listen` or set by a branch). Capture kinds:
 * "person_name", "reason" (free text, echoed in the second person), "stated_reason" (a reason only when
 * introduced — "calling about …", "i need …" — anywhere in the answer), "text" (the utterance as heard),
 * "digits" (keys pressed, without a final #, or digits spoken as numerals or number words), "category"
 * (with `"categories": { "appointment": ["appointment", "book", "schedule"], "billing": ["bill", …] }`:
 * the slot gets the name of the first category one of whose words was heard; nothing heard → the retry
 * line; the dialogue can then answer with what it matched instead of echoing misrecognised words).
 *
 * Slot filling: a capture `listen` may add `"also": { "reason": "stated_reason" }` (other slots the same
 * answer may fill in passing, e.g. the reason said with the name) and `"skipIfKnown": true` (a step
 * entered with its slot already filled goes straight on to its `next`, asking nothing).
 *
 * Key presses (DTMF): any `listen` may add `"keys": { "1": "sales", "2": "support" }`: a caller turn of
 * keys (`[keys pressed: 1]`, src/providers/dtmf-text.ts) equal to a listed sequence (a final # ignored)
 * moves to that state; `{ "keys": {…} }` alone is a keypad-only menu. Keys that match nothing count as
 * an unusable answer (the retry line). `"dtmf": { "terminator": "none", "maxDigits": 4, "interDigitMs":
 * 3000 }` on a `listen` changes how keys are grouped while that step listens (each field optional).
 *
 * What a step expects (category words, yes/no words, digit words, its dtmf grouping) is handed to the
 * pipeline (engine.ts `expectationOf`), which tells the recogniser and the key grouping.
 */
import defaultScript from "../../../models/script/receptionist.json";
import outboundScript_ from "../../../models/script/outbound.json";

export type CaptureKind = "person_name" | "reason" | "stated_reason" | "text" | "digits" | "category";

export interface Condition {
  slot: string;
  /** True when the slot's text contains any of these words (plural s/es tolerated). */
  hasAny?: string[];
  /** True when the slot equals this value (case-insensitive). */
  equals?: string;
}

export interface SayBranch {
  if?: Condition;
  /** Slots to set when this branch is taken. Values may use placeholders. */
  set?: Record<string, string>;
  text: string;
}

/** A line, or branches of which the first whose `if` holds is said (the last must have no `if`). */
export type Say = string | SayBranch[];

/** Key-press grouping for one step (overrides DTMF_TERMINATOR / DTMF_MAX_DIGITS / DTMF_INTER_DIGIT_MS). */
export interface StepDtmf {
  /** One key that ends the group at once, or "none". */
  terminator?: string;
  /** The group ends with this many keys (0 = no limit). */
  maxDigits?: number;
  /** The group ends this many ms after its last key. */
  interDigitMs?: number;
}

export type Listen = (
  | {
      capture: string;
      as: CaptureKind;
      next: string;
      /** For `as: "category"`: category name → words that mean it (plural s/es tolerated). */
      categories?: Record<string, string[]>;
      /** Other slots the same answer may fill in passing: slot → capture kind (not "category"). */
      also?: Record<string, CaptureKind>;
      /** Entered with this slot already filled (see `also`): go straight on to `next`, asking nothing. */
      skipIfKnown?: boolean;
    }
  | { intent: "yes_no"; yes: string; no: string }
  | { keys: Record<string, string> }
) & {
  /** Key sequence pressed → state (DTMF menu). */
  keys?: Record<string, string>;
  /** How key presses are grouped while this step listens. */
  dtmf?: StepDtmf;
};

export interface State {
  say: Say;
  /** How the caller's next turn moves the dialogue. Absent only in end states. */
  listen?: Listen;
  /** Said when the answer cannot be used; default "Sorry, I didn't catch that. " + say. */
  retry?: Say;
  /** State entered after `maxRetries` unusable answers in a row; default: keep retrying. */
  giveUp?: string;
  /** The call ends after `say`; the tool call (default end_call) is emitted after the text. */
  end?: { tool?: string; args?: Record<string, string> };
}

export interface Script {
  name: string;
  description?: string;
  vars?: Record<string, string>;
  start: string;
  maxRetries?: number;
  states: Record<string, State>;
}

/** A dialogue file that cannot be used; the message names the file and the offending field. */
export class ScriptError extends Error {
  override readonly name = "ScriptError";
}

const CAPTURE_KINDS: readonly CaptureKind[] = ["person_name", "reason", "stated_reason", "text", "digits", "category"];

/**
 * Loads and validates a dialogue script: the embedded default (models/script/receptionist.json) when
 * `path` is undefined or empty, else the JSON file at `path` (the wiring passes SCRIPT_FILE).
 * @throws ScriptError naming the file and the problem (unreadable, bad JSON, missing/unknown state, …).
 */
/**
 * The embedded outbound dialogue (models/script/outbound.json) for one call: `objective` and `opening`
 * filled in as vars ({objective}, {opening}).
 */
export function outboundScript(v: { objective: string; opening: string }): Script {
  const s = validateScript(structuredClone(outboundScript_) as unknown, "embedded outbound.json");
  const objective = v.objective.replace(/\s+/g, " ").trim();
  return { ...s, vars: { ...s.vars, objective: objective && !/[.!?]$/.test(objective) ? `${objective}.` : objective, opening: v.opening } };
}

export async function loadScript(path?: string): Promise<Script> {
  if (!path) return validateScript(structuredClone(defaultScript) as unknown, "embedded receptionist.json");
  let text: string;
  try {
    text = await Bun.file(path).text();
  } catch (e) {
    throw new ScriptError(`SCRIPT_FILE ${path}: cannot read (${(e as Error).message})`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ScriptError(`SCRIPT_FILE ${path}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  return validateScript(json, `SCRIPT_FILE ${path}`);
}

/**
 * Checks a parsed script and returns it typed. `where` prefixes error messages.
 * @throws ScriptError on the first problem found.
 */
export function validateScript(json: unknown, where = "script"): Script {
  const fail = (field: string, problem: string): never => {
    throw new ScriptError(`${where}: ${field}: ${problem}`);
  };
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const str = (v: unknown, field: string): string => (typeof v === "string" && v.trim() ? v : fail(field, "must be a non-empty string"));
  const strMap = (v: unknown, field: string): Record<string, string> => {
    if (!isObj(v)) return fail(field, "must be an object of strings");
    for (const [k, x] of Object.entries(v)) if (typeof x !== "string") fail(`${field}.${k}`, "must be a string");
    return v as Record<string, string>;
  };

  if (!isObj(json)) return fail("(top level)", "must be a JSON object");
  str(json.name, "name");
  if (json.vars !== undefined) strMap(json.vars, "vars");
  str(json.start, "start");
  if (json.maxRetries !== undefined && !(Number.isInteger(json.maxRetries) && (json.maxRetries as number) >= 0)) {
    fail("maxRetries", "must be an integer ≥ 0");
  }
  if (!isObj(json.states) || Object.keys(json.states).length === 0) return fail("states", "must be a non-empty object");
  const states = json.states as Record<string, unknown>;
  const stateRef = (v: unknown, field: string) => {
    const s = str(v, field);
    if (!(s in states)) fail(field, `unknown state "${s}" (have ${Object.keys(states).join(", ")})`);
  };
  stateRef(json.start, "start");

  // Names a placeholder may use: vars, captured slots, slots set by branches.
  const known = new Set(Object.keys((json.vars as Record<string, string>) ?? {}));
  for (const st of Object.values(states)) {
    if (!isObj(st)) continue;
    const l = st.listen;
    if (isObj(l) && typeof l.capture === "string") known.add(l.capture);
    if (isObj(l) && isObj(l.also)) for (const k of Object.keys(l.also)) known.add(k);
    for (const b of Array.isArray(st.say) ? st.say : []) if (isObj(b) && isObj(b.set)) for (const k of Object.keys(b.set)) known.add(k);
  }
  const template = (v: unknown, field: string) => {
    const t = str(v, field);
    for (const m of t.matchAll(/\{([^{}]*)\}/g)) if (!known.has(m[1]!)) fail(field, `unknown placeholder {${m[1]}}`);
  };
  const say = (v: unknown, field: string) => {
    if (typeof v === "string") return template(v, field);
    if (!Array.isArray(v) || v.length === 0) return fail(field, "must be a string or a non-empty array of branches");
    v.forEach((b, i) => {
      const f = `${field}[${i}]`;
      if (!isObj(b)) return fail(f, "must be an object with text");
      template(b.text, `${f}.text`);
      if (b.set !== undefined) for (const [k, x] of Object.entries(strMap(b.set, `${f}.set`))) template(x, `${f}.set.${k}`);
      const last = i === v.length - 1;
      if (b.if === undefined) {
        if (!last) fail(f, "a branch without `if` must be the last one");
        return;
      }
      if (last) fail(f, "the last branch must have no `if` (the default)");
      if (!isObj(b.if)) return fail(`${f}.if`, "must be an object");
      str(b.if.slot, `${f}.if.slot`);
      if (!known.has(b.if.slot as string)) fail(`${f}.if.slot`, `unknown slot "${b.if.slot}"`);
      const hasAny = b.if.hasAny;
      const equals = b.if.equals;
      if ((hasAny === undefined) === (equals === undefined)) fail(`${f}.if`, "needs exactly one of hasAny, equals");
      if (hasAny !== undefined && (!Array.isArray(hasAny) || hasAny.length === 0 || hasAny.some((w) => typeof w !== "string" || !w.trim()))) {
        fail(`${f}.if.hasAny`, "must be a non-empty array of words");
      }
      if (equals !== undefined) str(equals, `${f}.if.equals`);
    });
  };

  for (const [name, st] of Object.entries(states)) {
    const f = `states.${name}`;
    if (!isObj(st)) {
      fail(f, "must be an object");
      continue;
    }
    say(st.say, `${f}.say`);
    if (st.retry !== undefined) say(st.retry, `${f}.retry`);
    if (st.giveUp !== undefined) stateRef(st.giveUp, `${f}.giveUp`);
    if (st.end !== undefined && st.listen !== undefined) fail(f, "has both `end` and `listen`");
    if (st.end === undefined && st.listen === undefined) fail(f, "needs `listen` (what the caller's answer does) or `end`");
    if (st.end !== undefined) {
      if (!isObj(st.end)) fail(`${f}.end`, "must be an object");
      const e = st.end as Record<string, unknown>;
      if (e.tool !== undefined) str(e.tool, `${f}.end.tool`);
      if (e.args !== undefined) for (const [k, x] of Object.entries(strMap(e.args, `${f}.end.args`))) template(x, `${f}.end.args.${k}`);
    }
    if (st.listen !== undefined) {
      const l = st.listen;
      if (!isObj(l)) {
        fail(`${f}.listen`, "must be an object");
        continue;
      }
      if (l.keys !== undefined) {
        for (const [k, to] of Object.entries(strMap(l.keys, `${f}.listen.keys`))) {
          if (!/^[0-9*#A-D]+$/.test(k)) fail(`${f}.listen.keys`, `"${k}" is not a key sequence (0-9 * # A-D)`);
          stateRef(to, `${f}.listen.keys.${k}`);
        }
      }
      if (l.dtmf !== undefined) stepDtmf(l.dtmf, `${f}.listen.dtmf`, fail);
      if (l.keys !== undefined && l.intent === undefined && l.capture === undefined) {
        // a keypad-only menu
      } else if ("intent" in l) {
        if (l.intent !== "yes_no") fail(`${f}.listen.intent`, `unknown intent "${String(l.intent)}" (have yes_no)`);
        stateRef(l.yes, `${f}.listen.yes`);
        stateRef(l.no, `${f}.listen.no`);
      } else {
        str(l.capture, `${f}.listen.capture`);
        if (!CAPTURE_KINDS.includes(l.as as CaptureKind)) fail(`${f}.listen.as`, `must be one of ${CAPTURE_KINDS.join(", ")}`);
        if (l.as === "category") {
          const cats = l.categories;
          if (!isObj(cats) || Object.keys(cats).length === 0) fail(`${f}.listen.categories`, "must name at least one category with its words");
          else
            for (const [k, ws] of Object.entries(cats)) {
              if (!Array.isArray(ws) || ws.length === 0 || ws.some((w) => typeof w !== "string" || !w.trim())) fail(`${f}.listen.categories.${k}`, "must be a non-empty array of words");
            }
        } else if (l.categories !== undefined) fail(`${f}.listen.categories`, 'only with "as": "category"');
        stateRef(l.next, `${f}.listen.next`);
        if (l.also !== undefined) {
          for (const [k, kind] of Object.entries(strMap(l.also, `${f}.listen.also`))) {
            if (kind === "category" || !CAPTURE_KINDS.includes(kind as CaptureKind)) {
              fail(`${f}.listen.also.${k}`, `must be one of ${CAPTURE_KINDS.filter((c) => c !== "category").join(", ")}`);
            }
          }
        }
        if (l.skipIfKnown !== undefined && typeof l.skipIfKnown !== "boolean") fail(`${f}.listen.skipIfKnown`, "must be true or false");
      }
    }
  }
  return json as unknown as Script;
}

/** Checks a `listen.dtmf` object (see StepDtmf); `fail` throws. */
function stepDtmf(v: unknown, field: string, fail: (field: string, problem: string) => never): void {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return fail(field, "must be an object with terminator, maxDigits and/or interDigitMs");
  const d = v as Record<string, unknown>;
  for (const k of Object.keys(d)) if (!["terminator", "maxDigits", "interDigitMs"].includes(k)) fail(`${field}.${k}`, "unknown field (have terminator, maxDigits, interDigitMs)");
  if (d.terminator !== undefined && !(typeof d.terminator === "string" && /^([0-9*#A-D]|none)$/.test(d.terminator))) fail(`${field}.terminator`, 'must be one key (0-9 * # A-D) or "none"');
  if (d.maxDigits !== undefined && !(Number.isInteger(d.maxDigits) && (d.maxDigits as number) >= 0 && (d.maxDigits as number) <= 64)) fail(`${field}.maxDigits`, "must be an integer 0-64");
  if (d.interDigitMs !== undefined && !(Number.isInteger(d.interDigitMs) && (d.interDigitMs as number) >= 200 && (d.interDigitMs as number) <= 60_000)) fail(`${field}.interDigitMs`, "must be an integer 200-60000 (ms)");
}
