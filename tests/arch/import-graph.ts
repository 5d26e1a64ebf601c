/**
 * The import graph of `src/`: every relative `import`/`export … from`/`import()` between TypeScript
 * files (type-only imports included: a type circle is still a circle for the reader), the layer each
 * top-level folder belongs to, and the two checks the project holds itself to:
 * - no circle between files;
 * - no import from a lower layer to a higher one.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { Glob } from "bun";

/**
 * Layers, low → high; a file may import from its own layer or a lower one. Folders in one layer may
 * import each other (a circle between files is still caught).
 * - util: helpers with no knowledge of calls.
 * - media: G.711, resamplers, VAD, playout — audio without network.
 * - sdp, sip, rtp: the wire protocols (rtp may use media's codecs and frames).
 * - providers: STT/LLM/TTS contracts and plugins (they speak in media's frames).
 * - pipeline: the conversation over providers and media (and the call record's shape).
 * - store, metrics: where call records and counters go.
 * - call: one call's life for both directions (CallSession, media wiring, observers of store and metrics).
 * - outbound, http: the dialer places calls through `call`; the HTTP API drives the dialer and reads the store.
 * - cli: arguments, configuration, wiring, the entry point.
 * Files directly in src/ (ambient declarations) sit at the bottom.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["(root)", "util"],
  ["media"],
  ["sdp", "sip", "rtp"],
  ["providers"],
  ["pipeline"],
  ["store", "metrics"],
  ["call"],
  ["outbound", "http"],
  ["cli"],
];

export interface ImportEdge {
  from: string;
  to: string;
}

/** The layer index of a path relative to src/ (throws for a folder missing from LAYERS). */
export function layerOf(path: string, layers = LAYERS): number {
  const top = path.includes("/") ? path.slice(0, path.indexOf("/")) : "(root)";
  const i = layers.findIndex((l) => l.includes(top));
  if (i < 0) throw new Error(`src/${top}/ has no layer: add it to LAYERS in tests/arch/import-graph.ts`);
  return i;
}

const IMPORT_RE = /(?:^|[;\s])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Module specifiers in TypeScript source, comments removed first. */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:\w"'`])\/\/.*$/gm, "$1");
  return [...code.matchAll(IMPORT_RE)].map((m) => (m[1] ?? m[2])!);
}

/** Every relative import between .ts files under `root`, as paths relative to `root`. */
export function readImportGraph(root: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of new Glob("**/*.ts").scanSync(root)) {
    const abs = resolve(root, file);
    for (const spec of importSpecifiers(readFileSync(abs, "utf8"))) {
      if (!spec.startsWith(".")) continue;
      const base = resolve(dirname(abs), spec);
      const target = [base, `${base}.ts`, `${base}/index.ts`].find((c) => c.endsWith(".ts") && existsSync(c) && statSync(c).isFile());
      if (target) edges.push({ from: file, to: relative(root, target) });
    }
  }
  return edges;
}

/** Imports that run from a lower layer to a higher one, as "from → to" lines. */
export function upwardImports(edges: readonly ImportEdge[], layers = LAYERS): string[] {
  return edges.filter((e) => layerOf(e.from, layers) < layerOf(e.to, layers)).map((e) => `${e.from} → ${e.to}`);
}

/** The circles of the graph (one per strongly connected component of ≥ 2 files, or a self-import). */
export function circles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, []);
    next.get(e.from)!.push(e.to);
  }
  // Tarjan's strongly connected components.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (next.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of new Set(edges.flatMap((e) => [e.from, e.to]))) if (!index.has(v)) visit(v);
  return found;
}
