/**
 * Habits that keep the suite honest and reliable on a busy shared machine, checked over the test sources:
 * - a test that needs a tool is skipped with `test.skipIf(...)` / `describe.skipIf(...)`, never passed
 *   by an early `return` (a silent pass proves nothing; bootstrap.sh --test installs the tools);
 * - no test scans the shared temporary folder (other processes' files are there): a test gives the
 *   process it checks a private TMPDIR and looks only there.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";

const files = [...new Bun.Glob("tests/**/*.ts").scanSync(".")].filter((f) => f !== "tests/tooling/hygiene.test.ts").sort();

/** `test("…", () => {` (or `it`, any modifier, async) followed at once by `if (…) return;`. */
const EARLY_RETURN = /\b(?:test|it)(?:\.\w+(?:\([^)]*\))?)?\(\s*["'`][^\n]*\)\s*=>\s*\{\s*\n\s*if \([^\n]*\) return;/g;
const TMP_SCAN = /readdirSync\(\s*(?:tmpdir\(\)|["']\/tmp["'])\s*\)/g;

function offenders(re: RegExp): string[] {
  const out: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    for (const m of text.matchAll(re)) out.push(`${f}:${text.slice(0, m.index).split("\n").length}`);
  }
  return out;
}

test("no test passes by returning early (use test.skipIf for a missing tool)", () => {
  expect(files.length).toBeGreaterThan(50);
  expect(offenders(EARLY_RETURN)).toEqual([]);
});

test("no test lists the shared temporary folder", () => {
  expect(offenders(TMP_SCAN)).toEqual([]);
});

test("the patterns catch what they are meant to", () => {
  const early = 'test("x", async () => {\n    if (!HAVE_TOOL) return;\n    expect(1).toBe(1);\n});';
  const skipped = 'test.skipIf(!HAVE_TOOL)("x", async () => {\n    expect(1).toBe(1);\n});';
  expect(early.match(EARLY_RETURN)).toHaveLength(1);
  expect(skipped.match(EARLY_RETURN)).toBeNull();
  expect("const before = new Set(readdirSync(tmpdir()));".match(TMP_SCAN)).toHaveLength(1);
  expect("readdirSync(agent.tmpDir)".match(TMP_SCAN)).toBeNull();
});
