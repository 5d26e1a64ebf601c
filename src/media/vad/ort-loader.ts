/**
 * Loads `onnxruntime-node` so that it works both under `bun run` and inside one `bun build --compile`
 * executable with nothing outside the binary.
 *
 * Why this is needed (measured, see /work/shared/FACTS.md "onnxruntime and Silero VAD"): in a compiled
 * binary Bun unpacks the embedded `onnxruntime_binding.node` to `/tmp/.bun-*.node`; its `DT_NEEDED`
 * `libonnxruntime.so.1` (RUNPATH `$ORIGIN/`) is then not found and `require` fails with
 * `ERR_DLOPEN_FAILED`. Recipe:
 *   1. embed `libonnxruntime.so.1` (46 MB) with `import … with { type: "file" }`;
 *   2. at start-up write it into a private temp dir (`mkdtemp`, mode 0700);
 *   3. `dlopen` it through `bun:ffi` (symbol `OrtGetApiBase`), so the library with soname
 *      `libonnxruntime.so.1` is already in the process — glibc's loader satisfies the binding's
 *      `DT_NEEDED` entry by soname from already-loaded objects;
 *   4. `await import("onnxruntime-node")`.
 * Once the binding is loaded the temp file is no longer needed (the mapping stays valid after unlink),
 * so the temp dir is removed right after step 4. `cleanupOrt()` and a process `exit` hook remove it
 * too, in case loading failed half-way. No SIGTERM/SIGINT handler is installed: a listener would
 * replace the default "terminate" behaviour, and the app owns signal handling (it calls
 * `cleanupOrt()` in its shutdown path).
 *
 * Under `bun run` the `.so` sits beside the binding in node_modules and a plain import works.
 *
 * Telemetry: onnxruntime ≥ 1.25 official Linux builds carry 1DS telemetry (microsoft/onnxruntime#27379,
 * `core/platform/posix/telemetry.cc`): it writes `$TMPDIR/.ses` (a persistent id) and
 * `$TMPDIR/mat-debug-<pid>.log` on every start and may try HTTPS uploads. `ORT_DISABLE_TELEMETRY=1`
 * "set before initialization" turns all of it off (observed: no files created). The loader sets it
 * unless the operator set the variable explicitly.
 */
import { mkdtempSync, rmSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// The napi-v6 folder is the one onnxruntime-node 1.30.0 ships; scripts/build.ts checks it exists.
import ortSoPath from "onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1" with { type: "file" };

/** The `onnxruntime-node` module namespace (InferenceSession, Tensor, …). */
export type Ort = typeof import("onnxruntime-node");

/** Thrown when onnxruntime cannot be loaded; `code` tells which step failed. */
export class OrtLoadError extends Error {
  override readonly name = "OrtLoadError";
  constructor(
    readonly code: "unsupported_platform" | "extract_failed" | "dlopen_failed" | "import_failed",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** How the runtime was loaded, for logs and tests. */
export interface OrtLoadInfo {
  /** True when running inside a `bun build --compile` executable. */
  compiled: boolean;
  /** Temp dir the `.so` was extracted to (already removed once loading finished); null under `bun run`. */
  extractedDir: string | null;
  /** Wall time of the whole load, ms. */
  loadMs: number;
}

/** Prefix of paths inside a compiled binary's embedded file system (Linux/macOS). */
const BUNFS_PREFIX = "/$bunfs/";

/**
 * True when running inside a `bun build --compile` executable: the embedded `.so` path (or the entry
 * module) lives under `/$bunfs/`, which is not on disk and so cannot be found by the dynamic loader.
 */
export function isCompiled(): boolean {
  return ortSoPath.startsWith(BUNFS_PREFIX) || Bun.main.startsWith(BUNFS_PREFIX) || import.meta.path.startsWith(BUNFS_PREFIX);
}

let loading: Promise<Ort> | null = null;
let info: OrtLoadInfo | null = null;
let tempDir: string | null = null;
let exitHookInstalled = false;
/** The bun:ffi handle of the preloaded library, referenced so it is never collected (and dlclosed). */
let preloaded: unknown = null;

/**
 * Removes the private temp dir holding the extracted `libonnxruntime.so.1`, if any. Idempotent, never
 * throws; safe to call while onnxruntime is in use (the library stays mapped). The app calls it on
 * shutdown; a process `exit` hook calls it as well.
 */
export function cleanupOrt(): void {
  const dir = tempDir;
  if (!dir) return;
  tempDir = null;
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // Best effort: nothing more to do at shutdown.
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' listeners do not change exit behaviour (unlike signal listeners).
  process.on("exit", cleanupOrt);
}

/** Writes the embedded `.so` into a fresh 0700 temp dir and dlopens it. Returns the dir. */
async function extractAndPreload(): Promise<string> {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new OrtLoadError("unsupported_platform", `embedded onnxruntime is linux-x64 only, not ${process.platform}-${process.arch}`);
  }
  installExitHook();
  let dir: string;
  let soFile: string;
  try {
    dir = mkdtempSync(join(tmpdir(), "voice-agent-ort-"));
    chmodSync(dir, 0o700);
    tempDir = dir;
    soFile = join(dir, "libonnxruntime.so.1");
    // Bun.write copies file-to-file without holding the 46 MB in the JS heap.
    await Bun.write(soFile, Bun.file(ortSoPath));
    chmodSync(soFile, 0o500);
  } catch (cause) {
    cleanupOrt();
    throw new OrtLoadError("extract_failed", `cannot extract libonnxruntime.so.1 to ${tmpdir()}`, { cause });
  }
  try {
    const { dlopen, FFIType } = await import("bun:ffi");
    // Keep the handle open for the process lifetime: closing it would let the loader unmap the library
    // the binding depends on. OrtGetApiBase is the C API entry point (onnxruntime_c_api.h).
    preloaded = dlopen(soFile, { OrtGetApiBase: { args: [], returns: FFIType.ptr } });
  } catch (cause) {
    cleanupOrt();
    throw new OrtLoadError(
      "dlopen_failed",
      `dlopen(${soFile}) failed; if ${tmpdir()} is mounted noexec, point TMPDIR at a directory that allows exec`,
      { cause },
    );
  }
  return dir;
}

/**
 * Opts out of onnxruntime's POSIX telemetry unless the environment decided explicitly. Bun's
 * `process.env` writes do not reach libc's `environ` (measured: the library still wrote its files), so
 * the variable is set with libc `setenv(3)` through `bun:ffi` as well.
 */
async function disableOrtTelemetry(): Promise<void> {
  if (process.env.ORT_DISABLE_TELEMETRY !== undefined) return;
  process.env.ORT_DISABLE_TELEMETRY = "1";
  if (process.platform !== "linux") return;
  const { dlopen, FFIType } = await import("bun:ffi");
  const libc = dlopen("libc.so.6", {
    setenv: { args: [FFIType.cstring, FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
  });
  const cstr = (s: string) => Buffer.from(`${s}\0`, "utf8");
  // overwrite = 0: never replace a value that appeared in environ meanwhile.
  libc.symbols.setenv(cstr("ORT_DISABLE_TELEMETRY"), cstr("1"), 0);
  libc.close();
}

async function load(): Promise<Ort> {
  const t0 = performance.now();
  await disableOrtTelemetry();
  const compiled = isCompiled();
  let dir: string | null = null;
  if (compiled) dir = await extractAndPreload();
  try {
    const ort = (await import("onnxruntime-node")) as Ort;
    info = { compiled, extractedDir: dir, loadMs: performance.now() - t0 };
    return ort;
  } catch (cause) {
    throw new OrtLoadError("import_failed", "import(\"onnxruntime-node\") failed", { cause });
  } finally {
    // The library is mapped now (or loading failed): the file is not needed any more.
    cleanupOrt();
  }
}

/**
 * Loads onnxruntime once per process and returns its module. Concurrent callers share one load. A
 * failed load is not cached, so a later call retries.
 * @throws OrtLoadError
 */
export function loadOrt(): Promise<Ort> {
  if (!loading) {
    loading = load().catch((err) => {
      loading = null;
      throw err;
    });
  }
  return loading;
}

/** Details of the finished load, or null before `loadOrt()` resolved. */
export function ortLoadInfo(): OrtLoadInfo | null {
  return info;
}
