/**
 * The test command's own inputs (scripts/test.sh): the files it runs alone after the two-at-a-time run
 * exist (a renamed file would silently drop out of both runs: the parallel run excludes it by name), the
 * end-to-end files it runs beside the in-process ones (BESIDE) or two at a time (PAIRED) exist, are
 * end-to-end files and each is in one list only (a renamed one would merely run later, one after another), and
 * tests/timings.json (per-file durations in ms that make `bun test --parallel` start the slowest files
 * first) is in Bun's format and names only files that exist.
 */
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";

const script = readFileSync("scripts/test.sh", "utf8");

/** The paths in test.sh's `NAME=( … )` array (one per line, comments after `#`). */
function listedFiles(text: string, name = "SERIAL"): string[] {
  const m = new RegExp(`^${name}=\\(\\n([\\s\\S]*?)^\\)`, "m").exec(text);
  if (!m) throw new Error(`scripts/test.sh: no ${name}=( … ) array`);
  return m[1]!
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter(Boolean);
}

test("the files test.sh runs alone exist and are test files", () => {
  const serial = listedFiles(script);
  expect(serial.length).toBeGreaterThan(0);
  for (const f of serial) {
    expect(f).toMatch(/^tests\/.+\.test\.ts$/);
    expect(existsSync(f), f).toBe(true);
  }
});

test("the end-to-end files test.sh runs beside the in-process ones or two at a time exist, are end-to-end files, and are in one list only", () => {
  const beside = listedFiles(script, "BESIDE");
  const paired = listedFiles(script, "PAIRED");
  const serial = listedFiles(script);
  expect(beside.length).toBeGreaterThan(0);
  expect(paired.length).toBeGreaterThan(0);
  for (const f of [...beside, ...paired]) {
    expect(f).toMatch(/^tests\/(e2e|outbound|fleet)\/.+\.test\.ts$/);
    expect(existsSync(f), f).toBe(true);
    expect(serial, f).not.toContain(f);
  }
  for (const f of paired) expect(beside, f).not.toContain(f);
});

test("tests/timings.json: Bun's format (version 1, ms per file) and no file that is gone", () => {
  const t = JSON.parse(readFileSync("tests/timings.json", "utf8"));
  expect(t.version).toBe(1);
  const entries = Object.entries(t.files as Record<string, unknown>);
  expect(entries.length).toBeGreaterThan(50);
  const gone = entries.filter(([f]) => !existsSync(f)).map(([f]) => f);
  expect(gone, "refresh with `npm test -- --refresh-timings`").toEqual([]);
  for (const [, ms] of entries) expect(Number.isInteger(ms) && (ms as number) >= 0).toBe(true);
});

test("the array parser reads what the array holds", () => {
  expect(listedFiles("x\nSERIAL=(\n  tests/a.test.ts # why\n  tests/b.test.ts\n)\n")).toEqual(["tests/a.test.ts", "tests/b.test.ts"]);
  expect(listedFiles("SERIAL=(\n  tests/a.test.ts\n)\nBESIDE=(\n  tests/e2e/b.test.ts # why\n)\n", "BESIDE")).toEqual(["tests/e2e/b.test.ts"]);
  expect(() => listedFiles("SERIAL=(tests/a.test.ts)")).toThrow(/no SERIAL/);
  expect(() => listedFiles("SERIAL=(\n  tests/a.test.ts\n)\n", "BESIDE")).toThrow(/no BESIDE/);
});
