/**
 * Locates the Debian pocketsphinx-en-us model and, when a CMN start vector is wanted, builds a private
 * acoustic-model directory whose `feat.params` carries it.
 *
 * Why a copy: pocketsphinx 5prealpha reads `feat.params` from the `-hmm` directory AFTER the command
 * line, so `-cmninit` given as an argument is silently replaced by the model's own value (seen in its
 * log: "-cmninit 40,3,-1 41.00,-5.29,…"). The private directory holds symlinks to the model's files and
 * a rewritten feat.params; it is created once per process under the OS temp dir and removed at exit.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where Debian's pocketsphinx-en-us puts the US English model. */
export const DEBIAN_MODEL_DIR = "/usr/share/pocketsphinx/model/en-us";

/**
 * Cepstral mean to start live CMN from, for 8 kHz telephone audio upsampled to 16 kHz with the
 * band-limited resampler (empty 4–8 kHz band). The model's own start vector (41.00,-5.29,…) is that of
 * wideband speech; live CMN then needs a whole utterance to converge and the caller's FIRST utterance is
 * misrecognised. Value: mean of the converged CMN over 4 flite voices (kal16, slt, rms, awb) speaking 10
 * Harvard sentences through μ-law (front end with -remove_noise no, as the provider runs it), disjoint
 * from the WER sentences. Reproduce with
 * `bun tests/providers/offline/bench/calibrate-cmn.ts`.
 */
export const PHONE_CMNINIT = "46.70,28.40,-29.32,48.89,-19.34,-0.99,21.05,-31.82,15.90,-9.13,-0.76,16.31,-14.22";

const made = new Map<string, string>();
let cleanupHooked = false;

/**
 * Returns an hmm directory equal to `hmm` but whose feat.params has `-cmninit cmninit`.
 * Memoised per (hmm, cmninit) for the process. Throws if `hmm` has no feat.params.
 */
export function hmmWithCmnInit(hmm: string, cmninit: string): string {
  const key = `${hmm}\n${cmninit}`;
  const have = made.get(key);
  if (have && existsSync(have)) return have;
  if (!/^-?\d+(\.\d+)?(,-?\d+(\.\d+)?)*$/.test(cmninit)) throw new Error(`cmninit "${cmninit}" is not a comma-separated list of numbers`);
  const params = readFileSync(join(hmm, "feat.params"), "utf8");
  const dir = mkdtempSync(join(tmpdir(), "voice-agent-ps-hmm-"));
  for (const f of readdirSync(hmm)) if (f !== "feat.params") symlinkSync(join(hmm, f), join(dir, f));
  const kept = params.split("\n").filter((l) => l.trim() && !l.trim().startsWith("-cmninit"));
  writeFileSync(join(dir, "feat.params"), [...kept, `-cmninit ${cmninit}`, ""].join("\n"));
  made.set(key, dir);
  if (!cleanupHooked) {
    cleanupHooked = true;
    process.once("exit", () => {
      for (const d of made.values()) rmSync(d, { recursive: true, force: true });
    });
  }
  return dir;
}

/**
 * What keeps the offline recogniser from starting on this machine, or undefined when it can: the
 * `pocketsphinx_continuous` program on PATH (Debian `pocketsphinx`) and the model's acoustic model,
 * dictionary and language model under `modelDir` (Debian `pocketsphinx-en-us`) — the files
 * PocketsphinxStt's `args()` needs. Checked at start-up so an agent whose STT is pocketsphinx does not
 * answer calls it cannot hear (the container image carries neither).
 */
export function missingPocketsphinx(binary = "pocketsphinx_continuous", modelDir = DEBIAN_MODEL_DIR): string | undefined {
  if (!Bun.which(binary)) return `${binary} not found on PATH (apt-get install pocketsphinx pocketsphinx-en-us)`;
  for (const f of ["en-us", "cmudict-en-us.dict", "en-us.lm.bin"]) {
    const p = join(modelDir, f);
    if (!existsSync(p)) return `pocketsphinx model file missing: ${p} (apt-get install pocketsphinx-en-us)`;
  }
  return undefined;
}
