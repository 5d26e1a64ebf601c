import { describe, expect, test } from "bun:test";
import { isSpace, SentenceSplitter } from "../../src/pipeline/sentence-splitter";

function run(tokens: string[]): string[] {
  const s = new SentenceSplitter();
  const out: string[] = [];
  for (const t of tokens) out.push(...s.push(t));
  out.push(...s.flush());
  return out;
}

describe("SentenceSplitter", () => {
  test("cuts streamed tokens at sentence ends, keeping punctuation", () => {
    const text = "Hello there! How can I help you today? I can book appointments.";
    const tokens = text.match(/.{1,3}/g)!;
    expect(run(tokens)).toEqual(["Hello there!", "How can I help you today?", "I can book appointments."]);
  });

  test("first chunk may end at a long enough clause, later ones only at sentence ends", () => {
    const text = "Thank you for calling the clinic, this is the receptionist, how may I help?";
    expect(run(text.match(/.{1,3}/g)!)).toEqual(["Thank you for calling the clinic,", "this is the receptionist, how may I help?"]);
  });

  test("a first clause whose sentence's end has already arrived goes out with it, as one chunk", () => {
    expect(run(["Thank you for calling the clinic, this is the receptionist, how may I help?"])).toEqual([
      "Thank you for calling the clinic, this is the receptionist, how may I help?",
    ]);
    const s = new SentenceSplitter();
    expect(s.push("Thank you, I can help with that booking, and I am glad you called us today. Let me")).toEqual([
      "Thank you, I can help with that booking, and I am glad you called us today.",
    ]);
    expect(s.push(" check. ")).toEqual(["Let me check."]);
    // The end not yet there (or only a clause mark at the piece's end): the clause goes alone, as before.
    expect(new SentenceSplitter().push("Thank you, I can help with that booking, and I am")).toEqual(["Thank you, I can help with that booking,"]);
    expect(new SentenceSplitter().push("Thank you for calling the clinic, this is the receptionist,")).toEqual(["Thank you for calling the clinic,"]);
    // A sentence end further than maxChars away does not hold the clause back.
    expect(new SentenceSplitter(24, 60).push(`Thank you for calling the clinic, ${"and so on ".repeat(6)}end. `)[0]).toBe("Thank you for calling the clinic,");
  });

  test("abbreviations and decimals are not sentence ends", () => {
    expect(run(["Dr. Smith costs 3.50 dollars. Okay."])).toEqual(["Dr. Smith costs 3.50 dollars.", "Okay."]);
  });

  test("a sentence that ends where a streamed piece ends goes out with that piece", () => {
    const s = new SentenceSplitter();
    expect(s.push("Certainly")).toEqual([]);
    expect(s.push(".")).toEqual(["Certainly."]);
    expect(s.push(" What time")).toEqual([]);
    expect(s.push(" would you like?")).toEqual(["What time would you like?"]);
    expect(s.flush()).toEqual([]);
  });

  test("a long enough first clause ending a piece goes out with it; later clauses wait for their sentence", () => {
    const s = new SentenceSplitter();
    expect(s.push("Thank you for calling the clinic,")).toEqual(["Thank you for calling the clinic,"]);
    expect(s.push(" this is the receptionist,")).toEqual([]);
    expect(s.push(" how may I help?")).toEqual(["this is the receptionist, how may I help?"]);
    expect(new SentenceSplitter().push("Sure,")).toEqual([]); // too short a clause
  });

  test.each([
    ["It costs 3.", "50 dollars.", "It costs 3.50 dollars."],
    ["Visit www.example.", "com today.", "Visit www.example.com today."],
    ["Ask Dr.", " Smith.", "Ask Dr. Smith."],
    ["Mail bob@example.", "org now.", "Mail bob@example.org now."],
  ])("an end at the end of a piece that the next piece may undo waits for it: %p + %p", (a, b, whole) => {
    const s = new SentenceSplitter();
    expect(s.push(a)).toEqual([]);
    expect([...s.push(b), ...s.flush()]).toEqual([whole]);
  });

  test("run-on text without punctuation is cut at a space before maxChars", () => {
    const words = Array.from({ length: 80 }, (_, i) => `w${i}`).join(" ");
    const chunks = run([words]);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(220);
    expect(chunks.join(" ")).toBe(words);
  });
});

describe("isSpace (the splitter's per-character whitespace test)", () => {
  test("agrees with /\\s/ on every UTF-16 code unit", () => {
    const differ: number[] = [];
    for (let c = 0; c < 0x10000; c++) if (isSpace(c) !== /\s/.test(String.fromCharCode(c))) differ.push(c);
    expect(differ).toEqual([]);
  });

  test("a no-break space or an ideographic space after a full stop ends the sentence like a space", () => {
    for (const sp of ["\u00a0", "\u3000", "\t"]) {
      const s = new SentenceSplitter();
      expect(s.push(`It is booked.${sp}See you`)).toEqual(["It is booked."]);
    }
  });
});
