/**
 * build: one self-contained executable.
 *
 *   bun run build                               → dist/voice-agent from src/cli/main.ts
 *   bun run scripts/build.ts --entry F --outfile O [--bytecode] [--no-sourcemap]
 *
 * Steps: verify models/silero_vad.onnx (scripts/fetch-model.ts --verify), check that the
 * onnxruntime-node native folder the VAD embeds exists, then
 * `bun build --compile --minify --sourcemap=inline --no-compile-autoload-bunfig` for the host target
 * only (other targets download a runtime; FACTS.md), and print size and sha256.
 *
 * Flags, measured on the VAD start-up entry (scripts/bench-vad.ts): `--minify` trims the JS bundle;
 * `--bytecode --format=esm` adds ~1.7 MB and gave no start-up gain measurable over the ~0.1 s spent
 * extracting libonnxruntime.so.1, so it is opt-in; the inline source map costs ~50 KB and keeps stack
 * traces readable (embedded; the side `.map` Bun also writes is deleted). A bunfig.toml in the working directory is not loaded by the binary (ours is only
 * test settings); `.env` autoload stays on (src/cli/config.ts reads it).
 */
import { existsSync, readdirSync, statSync, rmSync, mkdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
/** Folder ort-loader.ts imports `libonnxruntime.so.1` from; must match the installed package. */
const ORT_NATIVE = "node_modules/onnxruntime-node/bin/napi-v6/linux/x64";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function die(msg: string): never {
  console.error(`build: ${msg}`);
  process.exit(1);
}

function run(cmd: string[]): void {
  const r = Bun.spawnSync({ cmd, cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) die(`failed (${r.exitCode}): ${cmd.join(" ")}`);
}

const entry = resolve(ROOT, arg("--entry") ?? "src/cli/main.ts");
/**
 * Worker threads the binary starts: extra entry points of `bun build --compile` (FACTS.md), found at
 * run time under /$bunfs/root/ by their place below the entries' common folder (src/util/worker-entry.ts, which
 * every starter of a worker calls).
 */
const WORKER_ENTRIES = ["src/providers/flite/synth-worker.ts", "src/cli/trace-worker.ts", "src/rtp/worker/media-worker.ts", "src/store/wal-checkpoint-worker.ts", "src/media/vad/vad-worker.ts", "src/sip/front/front-worker.ts"];
const outfile = resolve(ROOT, arg("--outfile") ?? "dist/voice-agent");
if (!existsSync(entry)) die(`entry ${entry} does not exist`);

// 1. The model the VAD embeds is the one we committed.
run([process.execPath, "run", join(ROOT, "scripts/fetch-model.ts"), "--verify"]);

// 2. The onnxruntime native library the loader embeds.
if (process.platform !== "linux" || process.arch !== "x64") die(`host ${process.platform}-${process.arch}: linux-x64 only`);
const so = join(ROOT, ORT_NATIVE, "libonnxruntime.so.1");
if (!existsSync(so)) {
  const binDir = join(ROOT, "node_modules/onnxruntime-node/bin");
  const found = existsSync(binDir) ? readdirSync(binDir).filter((d) => d.startsWith("napi-v")) : [];
  die(`${so} missing (found: ${found.join(", ") || "nothing"}); run bun install, or update the import in src/media/vad/ort-loader.ts`);
}

// 3. Compile for the host.
mkdirSync(dirname(outfile), { recursive: true });
const flags = ["--compile", "--minify", "--no-compile-autoload-bunfig"];
if (!process.argv.includes("--no-sourcemap")) flags.push("--sourcemap=inline");
if (process.argv.includes("--bytecode")) flags.push("--bytecode", "--format=esm");
const t0 = performance.now();
run([process.execPath, "build", ...flags, entry, ...WORKER_ENTRIES.map((w) => resolve(ROOT, w)), "--outfile", outfile]);
const seconds = (performance.now() - t0) / 1000;

// With --compile the source map is embedded in the binary (stack traces stay mapped after deleting the
// side file, checked); Bun still writes `<outfile>.map` beside it: remove it so dist/ holds one file.
rmSync(`${outfile}.map`, { force: true });
// …and one side map per worker entry (`synth-worker.js.map`), embedded as well.
for (const w of WORKER_ENTRIES) rmSync(join(dirname(outfile), `${basename(w).replace(/\.ts$/, ".js")}.map`), { force: true });
// Bun can leave its scratch `.<hash>.bun-build` file next to the output (oven-sh/bun#14020).
for (const f of readdirSync(dirname(outfile))) {
  if (f.endsWith(".bun-build")) rmSync(join(dirname(outfile), f), { force: true });
}

const bytes = await Bun.file(outfile).bytes();
const sha = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
const size = statSync(outfile).size;
console.log(`build: ${outfile}`);
console.log(`build: size ${size} B (${(size / 1024 / 1024).toFixed(1)} MiB), sha256 ${sha}, compiled in ${seconds.toFixed(1)} s`);
