import { existsSync } from "node:fs";

/**
 * A Worker's entry for `new Worker(…)`: inside a `bun build --compile` binary the embedded file
 * (scripts/build.ts adds every worker as an entry point; its path under `/$bunfs/root/` depends on the
 * entries' common folder, src/ or the repo), else the source file next to the caller.
 *
 *   workerEntry(import.meta.url, "sip/front/front-worker", "sip front")
 *
 * @param callerUrl the caller's `import.meta.url` (the source file sits beside it)
 * @param srcPath the worker's path under src/, without extension
 * @throws Error naming `what` when running compiled and the entry was not embedded
 */
export function workerEntry(callerUrl: string, srcPath: string, what: string): string {
  const name = srcPath.slice(srcPath.lastIndexOf("/") + 1);
  if (!callerUrl.includes("$bunfs")) return new URL(`./${name}.ts`, callerUrl).href;
  const candidates = [`/$bunfs/root/${srcPath}.js`, `/$bunfs/root/src/${srcPath}.js`];
  const hit = candidates.find((p) => existsSync(p));
  if (!hit) throw new Error(`${what} entry not embedded (looked for ${candidates.join(", ")}): build with scripts/build.ts`);
  return hit;
}
