/**
 * Command-line arguments shared by the barge-in benchmark's scripts (bench-bargein.ts,
 * bargein-background.ts): `--flag`, `--name value`, `--name a,b,c` grids.
 */
import type { StrongSpeech } from "../src/pipeline/speech-detector.ts";

export const args = process.argv.slice(2);
export const flag = (f: string) => args.includes(f);
export const num = (f: string, d: number) => (args.includes(f) ? Number(args[args.indexOf(f) + 1]) : d);
/** A comma-separated grid (`--name a,b,c`), or `d` split the same way. */
export const list = (f: string, d: string) => (args.includes(f) ? args[args.indexOf(f) + 1]! : d).split(",");
export const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "–");

/** `--strong` grid value: "default" (undefined), "off" (null) or p:ms[:within dB[:q]] (DetectorOptions.bargeInStrong). */
export function strongArg(st: string): StrongSpeech | null | undefined {
  if (st === "default") return undefined;
  if (st === "off") return null;
  const [p, ms, within, q] = st.split(":");
  return { p: Number(p), minSpeechMs: Number(ms), withinDb: within ? Number(within) : undefined, q: q ? Number(q) : undefined };
}
