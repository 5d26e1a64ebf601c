import { describe, expect, test } from "bun:test";
import { SentenceSplitter } from "../../src/pipeline/sentence-splitter";

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
    expect(run(["Thank you for calling the clinic, this is the receptionist, how may I help?"])).toEqual([
      "Thank you for calling the clinic,",
      "this is the receptionist, how may I help?",
    ]);
  });

  test("abbreviations and decimals are not sentence ends", () => {
    expect(run(["Dr. Smith costs 3.50 dollars. Okay."])).toEqual(["Dr. Smith costs 3.50 dollars.", "Okay."]);
  });

  test("a sentence end is only cut once the next token shows whitespace", () => {
    const s = new SentenceSplitter();
    expect(s.push("Wait.")).toEqual([]);
    expect(s.push(" Next")).toEqual(["Wait."]);
    expect(s.flush()).toEqual(["Next"]);
  });

  test("run-on text without punctuation is cut at a space before maxChars", () => {
    const words = Array.from({ length: 80 }, (_, i) => `w${i}`).join(" ");
    const chunks = run([words]);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(220);
    expect(chunks.join(" ")).toBe(words);
  });
});
