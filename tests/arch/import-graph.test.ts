/**
 * The shape of src/: no import circle, no import from a lower layer to a higher one (layers in
 * ./import-graph.ts). The checker itself is tried on small graphs first, so a broken checker cannot
 * pass silently.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Glob } from "bun";
import { circles, importSpecifiers, layerOf, readImportGraph, upwardImports, type ImportEdge } from "./import-graph.ts";

const SRC = resolve(import.meta.dir, "../../src");

/** Lines of a text; a final newline ends the last line, it does not start another ("" has none). */
const lineCount = (text: string): number => (text === "" ? 0 : text.split("\n").length - (text.endsWith("\n") ? 1 : 0));

describe("the checker", () => {
  test("finds specifiers of every import form, not those in comments", () => {
    const src = [
      'import { a } from "./a";',
      'import type { B } from "../b/b.ts";',
      "import {\n  c,\n  d,\n} from './c';",
      'export * from "./e";',
      'export { f } from "./f";',
      'import "./g";',
      'const h = await import("./h");',
      '/** import { x } from "./not-me"; */',
      '// import y from "./nor-me";',
      'const url = "ws://127.0.0.1"; // import z from "./trailing"',
    ].join("\n");
    expect(importSpecifiers(src)).toEqual(["./a", "../b/b.ts", "./c", "./e", "./f", "./g", "./h"]);
  });

  test("reports a circle and an upward import", () => {
    const edges: ImportEdge[] = [
      { from: "sip/ua/types.ts", to: "sip/ua/inbound-call.ts" },
      { from: "sip/ua/inbound-call.ts", to: "sip/ua/types.ts" },
      { from: "media/playout.ts", to: "rtp/pacer.ts" },
      { from: "cli/main.ts", to: "util/log.ts" },
    ];
    expect(circles(edges)).toEqual([["sip/ua/inbound-call.ts", "sip/ua/types.ts"]]);
    expect(upwardImports(edges)).toEqual(["media/playout.ts → rtp/pacer.ts"]);
    expect(circles([{ from: "a/x.ts", to: "a/x.ts" }])).toEqual([["a/x.ts"]]);
  });

  test("counts lines as an editor shows them", () => {
    expect([lineCount(""), lineCount("a\n"), lineCount("a\nb"), lineCount("a\nb\n")]).toEqual([0, 1, 2, 2]);
  });

  test("a folder without a layer is an error that names it", () => {
    expect(() => layerOf("brand-new/x.ts")).toThrow("src/brand-new/ has no layer");
  });
});

describe("src/", () => {
  const edges = readImportGraph(SRC);

  test("the graph was read (sanity)", () => {
    expect(edges.length).toBeGreaterThan(200);
    expect(edges).toContainEqual({ from: "cli/main.ts", to: "cli/args.ts" });
  });

  test("has no import circle", () => {
    expect(circles(edges)).toEqual([]);
  });

  test("has no import from a lower layer to a higher one", () => {
    expect(upwardImports(edges)).toEqual([]);
  });

  test("no file in src/ is over 400 lines (one concept per file; split along a real seam)", () => {
    const files = [...new Glob("**/*.ts").scanSync(SRC)];
    expect(files).toContain("pipeline/agent-call.ts"); // the glob found the tree (sanity)
    expect(files).toContain("cli/agent-server.ts");
    const long = files
      .map((f) => [f, lineCount(readFileSync(resolve(SRC, f), "utf8"))] as const)
      .filter(([, n]) => n > 400);
    expect(long).toEqual([]);
  });
});
