/** The scripted dialogue branching on key presses (DTMF turns, src/providers/dtmf-text.ts). */
import { describe, expect, test } from "bun:test";
import { expectationOf, replay } from "../../../src/providers/scripted/engine.ts";
import { validateScript, ScriptError } from "../../../src/providers/scripted/script.ts";
import { dtmfTurnText } from "../../../src/providers/dtmf-text.ts";
import type { ChatMessage } from "../../../src/providers/types.ts";

const script = validateScript({
  name: "menu",
  start: "menu",
  states: {
    menu: { say: "Press 1 for sales or 2 for support.", listen: { keys: { "1": "sales", "2": "support" } }, retry: "Please press 1 or 2." },
    sales: { say: "Your account number, then the pound key?", listen: { capture: "account", as: "digits", next: "confirm" } },
    support: { say: "Is it urgent?", listen: { intent: "yes_no", yes: "bye", no: "bye", keys: { "1": "bye" } } },
    confirm: { say: "Account {account}. Goodbye.", end: {} },
    bye: { say: "Goodbye.", end: {} },
  },
});
const user = (text: string): ChatMessage => ({ role: "user", text });

describe("scripted dialogue and DTMF", () => {
  test("a keypad menu branches on the key; a final # is ignored; other keys and speech retry", () => {
    expect(replay(script, [user(dtmfTurnText("2"))]).state).toBe("support");
    expect(replay(script, [user(dtmfTurnText("1#"))]).state).toBe("sales");
    const miss = replay(script, [user(dtmfTurnText("9"))]);
    expect([miss.state, miss.text]).toEqual(["menu", "Please press 1 or 2."]);
    expect(replay(script, [user("sales please")]).state).toBe("menu");
  });
  test("digits capture keys (without the #) or spoken digits; keys and yes/no side by side", () => {
    const t = replay(script, [user(dtmfTurnText("1")), user(dtmfTurnText("4711#"))]);
    expect([t.state, t.text]).toEqual(["confirm", "Account 4711. Goodbye."]);
    expect(replay(script, [user(dtmfTurnText("1")), user("four seven 1 one")]).slots.account).toBe("4711");
    expect(replay(script, [user(dtmfTurnText("2")), user(dtmfTurnText("1"))]).state).toBe("bye");
    expect(replay(script, [user(dtmfTurnText("2")), user("yes")]).state).toBe("bye");
  });
  test("a keys map naming an unknown state or a non-key is refused", () => {
    const bad = (keys: Record<string, string>) => () =>
      validateScript({ name: "x", start: "a", states: { a: { say: "hi", listen: { keys } }, b: { say: "b", end: {} } } });
    expect(bad({ "1": "nowhere" })).toThrow(ScriptError);
    expect(bad({ x: "b" })).toThrow(/not a key sequence/);
    expect(bad({ "1": "b" })).not.toThrow();
  });
});

describe("what a step expects (for the recogniser and the key grouping)", () => {
  test("keypad-only menu: nothing; digits: digit words; yes/no: yes and no words; end state: nothing", () => {
    expect(expectationOf(script, [])).toBeUndefined();
    expect(expectationOf(script, [user(dtmfTurnText("1"))])!.words).toEqual(["zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]);
    const yn = expectationOf(script, [user(dtmfTurnText("2"))])!.words;
    expect(yn).toContain("yes");
    expect(yn).toContain("no");
    expect(expectationOf(script, [user(dtmfTurnText("2")), user(dtmfTurnText("1"))])).toBeUndefined();
  });

  test("listen.dtmf: per-step grouping (\"none\" → no terminator), validated with the field named", () => {
    const one = (dtmf: unknown) =>
      validateScript({ name: "x", start: "a", states: { a: { say: "code?", listen: { capture: "c", as: "text", next: "b", dtmf } }, b: { say: "b", end: {} } } });
    expect(expectationOf(one({ terminator: "none", maxDigits: 6, interDigitMs: 4000 }), [])).toEqual({ words: [], digits: { terminator: "", maxDigits: 6, interDigitMs: 4000 } });
    expect(expectationOf(one({ terminator: "*" }), [])).toEqual({ words: [], digits: { terminator: "*" } });
    expect(() => one({ terminator: "##" })).toThrow(/states\.a\.listen\.dtmf\.terminator: must be one key/);
    expect(() => one({ maxDigits: 99 })).toThrow(/listen\.dtmf\.maxDigits/);
    expect(() => one({ interDigitMs: 10 })).toThrow(/listen\.dtmf\.interDigitMs/);
    expect(() => one({ max: 3 })).toThrow(/listen\.dtmf\.max: unknown field/);
  });
});

describe("category answers (no echo of what was heard)", () => {
  const s = validateScript({
    name: "cat",
    start: "ask",
    states: {
      ask: {
        say: "How can I help?",
        listen: { capture: "topic", as: "category", categories: { appointment: ["appointment", "book", "schedule"], billing: ["bill", "invoice"] }, next: "confirm" },
        retry: "Sorry, is it about an appointment or a bill?",
      },
      confirm: {
        say: [
          { if: { slot: "topic", equals: "appointment" }, text: "You'd like to book an appointment. Goodbye." },
          { text: "You have a question about a bill. Goodbye." },
        ],
        end: {},
      },
    },
  });
  test("the matched category is answered; misrecognised words are never echoed; nothing matched asks again", () => {
    expect(replay(s, [user("i'm needing to become appointment")]).text).toBe("You'd like to book an appointment. Goodbye.");
    expect(replay(s, [user("about my invoices")]).slots.topic).toBe("billing");
    expect(replay(s, [user("the weather")]).text).toBe("Sorry, is it about an appointment or a bill?");
    expect(replay(s, [user(dtmfTurnText("1"))]).state).toBe("ask");
  });
  test("categories are validated", () => {
    const bad = (listen: unknown) => () => validateScript({ name: "x", start: "a", states: { a: { say: "hi", listen }, b: { say: "b", end: {} } } });
    expect(bad({ capture: "t", as: "category", next: "b" })).toThrow(/categories/);
    expect(bad({ capture: "t", as: "category", categories: { a: [] }, next: "b" })).toThrow(/non-empty/);
    expect(bad({ capture: "t", as: "text", categories: { a: ["x"] }, next: "b" })).toThrow(/only with/);
  });
});

describe("the outbound dialogue (models/script/outbound.json)", () => {
  test("after the opening: yes → the objective as the question → the answer noted → goodbye; no → later", async () => {
    const { outboundScript } = await import("../../../src/providers/scripted/script.ts");
    const s = outboundScript({ objective: "Would you like to confirm your appointment tomorrow at 10", opening: "Hello! I'm calling about your appointment. Do you have a moment?" });
    const opening = { role: "assistant" as const, text: "Hello! I'm calling about your appointment. Do you have a moment?" };
    const q = replay(s, [opening, user("yes sure")]);
    expect(q.text).toBe("Thank you. Would you like to confirm your appointment tomorrow at 10. What would you like to do?");
    const end = replay(s, [opening, user("yes sure"), user("i confirm")]);
    expect([end.text, end.end]).toEqual(["Thank you, I have noted your answer. Goodbye!", { tool: "end_call", args: { reason: "outbound: callee answered: i confirm" } }]);
    expect(replay(s, [opening, user("no i'm busy")]).text).toBe("No problem. We will call again another time. Goodbye!");
  });
});
