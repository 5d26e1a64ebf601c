/**
 * Does telling pocketsphinx what a dialogue step expects help? Category accuracy of scripted-dialogue
 * answers recognised with the open language model vs a per-step JSGF grammar
 * (src/providers/pocketsphinx/grammar.ts), over flite/espeak-ng voices at two speaking rates.
 *
 *   bun run bench:grammar [--voices kal16,slt] [--modes lm,jsgf] [--show]   (~5 min per voice on a busy machine)
 *
 * Steps (as a dialogue file would name them): a category step (appointment / billing / hours, with
 * synonyms) and a yes/no step. Each answer is classified exactly as the scripted engine does
 * (hasAnyKeyword for categories, classifyYesNo), then compared with the intended class; answers that
 * belong to no class ("none") are right only when nothing matched (else the agent would act on a
 * false match). Modes:
 *   lm         the open n-gram LM (what calls use today)
 *   jsgf       the step grammar (expected words + a loop of common words), pocketsphinx defaults
 *   jsgf-wip   the same with a stronger word-insertion penalty (STEP_GRAMMAR_ARGS, -wip 1e-3): what calls use
 *   lm+jsgf    the LM's class when it found one, else the grammar's (two recognisers per call)
 * All answers of a step go through one recogniser process (the provider's own arguments and upsampler)
 * and each utterance is attributed by its segment times. wall/audio = recogniser wall time / audio time
 * (includes start-up; on a loaded machine it says more about the load than about the mode).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPocketsphinxStt, STEP_GRAMMAR_ARGS } from "../../../../src/providers/pocketsphinx/pocketsphinx-stt.ts";
import { loadDictionaryWords, stepGrammar } from "../../../../src/providers/pocketsphinx/grammar.ts";
import { classifyYesNo, hasAnyKeyword } from "../../../../src/providers/scripted/extract.ts";
import { PocketsphinxOutputParser } from "../../../../src/providers/pocketsphinx/output-parser.ts";
import { concatInt16, Resampler } from "../../../../src/media/resample.ts";

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};

const CATEGORIES: Record<string, string[]> = {
  appointment: ["appointment", "book", "schedule", "visit"],
  billing: ["bill", "invoice", "payment", "charge"],
  hours: ["hours", "open", "close", "closing"],
};
const YES_NO = { yes: ["yes", "yeah", "correct", "right"], no: ["no", "nope", "not", "wrong"] };

interface Answer {
  text: string;
  want: string;
}
/** condition → mode → text heard, per answer. */
const heardMap = new Map<Answer, Record<string, Record<string, string>>>();
const heardOf = (a: Answer) => heardMap.get(a) ?? (heardMap.set(a, {}), heardMap.get(a)!);
const CATEGORY_ANSWERS: Answer[] = [
  { text: "i would like to book an appointment", want: "appointment" },
  { text: "can i schedule a visit for next week", want: "appointment" },
  { text: "i need an appointment please", want: "appointment" },
  { text: "it's about my appointment", want: "appointment" },
  { text: "i have a question about my bill", want: "billing" },
  { text: "i want to pay my invoice", want: "billing" },
  { text: "there is a charge i do not understand", want: "billing" },
  { text: "it's about a payment", want: "billing" },
  { text: "what are your opening hours", want: "hours" },
  { text: "when do you close today", want: "hours" },
  { text: "are you open on saturday", want: "hours" },
  { text: "what time is closing", want: "hours" },
  { text: "the weather is nice today", want: "none" },
  { text: "i just wanted to say hello", want: "none" },
];
const YES_NO_ANSWERS: Answer[] = [
  { text: "yes that is right", want: "yes" },
  { text: "yeah", want: "yes" },
  { text: "yes please", want: "yes" },
  { text: "that is correct", want: "yes" },
  { text: "no that is wrong", want: "no" },
  { text: "no", want: "no" },
  { text: "nope", want: "no" },
  { text: "that is not right", want: "no" },
];

interface Condition {
  name: string;
  voice: string;
  /** flite duration_stretch / espeak-ng words per minute. */
  rate: number;
}
const ALL_CONDITIONS: Condition[] = [
  { name: "kal16", voice: "kal16", rate: 1 },
  { name: "kal16 slow", voice: "kal16", rate: 1.3 },
  { name: "slt", voice: "slt", rate: 1 },
  { name: "slt fast", voice: "slt", rate: 0.85 },
  { name: "awb", voice: "awb", rate: 1 },
  { name: "rms", voice: "rms", rate: 1 },
  { name: "espeak", voice: "espeak", rate: 160 },
  { name: "espeak slow", voice: "espeak", rate: 130 },
];

function run(cmd: string[]): Uint8Array {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd[0]} failed: ${r.stderr.toString().trim()}`);
  return r.stdout;
}

/** 8 kHz PCM16 of `text` through a μ-law round trip, as a caller would send it. */
function phoneAudio(text: string, c: Condition, dir: string): Int16Array {
  const wav = join(dir, "s.wav");
  if (c.voice === "espeak") run(["espeak-ng", "-v", "en-us", "-s", String(c.rate), "-w", wav, text]);
  else run(["flite", "-voice", c.voice, "--setf", `duration_stretch=${c.rate}`, "-t", text, "-o", wav]);
  const ulaw = run(["sox", "-V1", wav, "-r", "8000", "-c", "1", "-e", "mu-law", "-t", "raw", "-"]);
  writeFileSync(join(dir, "s.ulaw"), ulaw);
  const pcm = run(["sox", "-V1", "-t", "raw", "-r", "8000", "-c", "1", "-e", "mu-law", join(dir, "s.ulaw"), "-t", "raw", "-e", "signed", "-b", "16", "-"]);
  return new Int16Array(pcm.buffer, pcm.byteOffset, pcm.byteLength >> 1).slice();
}

/**
 * Runs the provider's recogniser command (same arguments, same upsampler) over one file holding all
 * answers, 0.5 s of silence before and 1.5 s after each, and attributes each utterance to the answer
 * whose span it starts in (pocketsphinx's segment times, `-time yes`).
 */
async function recogniseAll(answers: Int16Array[], jsgf: string | undefined, extraArgs: string[], dir: string): Promise<{ texts: string[]; wallMs: number; audioMs: number }> {
  const gap = (ms: number) => new Int16Array(ms * 8);
  const spans: Array<[number, number]> = [];
  const parts: Int16Array[] = [];
  let at = 0;
  for (const a of answers) {
    parts.push(gap(500), a, gap(1500));
    spans.push([(at + 4000) / 8000, (at + 4000 + a.length + 12000) / 8000]);
    at += 4000 + a.length + 12000;
  }
  const r = await Resampler.create(8000, 16000);
  const up = concatInt16([...parts.map((p) => r.process(p)), r.flush()]);
  r.close();
  const file = join(dir, "answers.raw");
  writeFileSync(file, new Uint8Array(up.buffer, up.byteOffset, up.byteLength));
  const args = createPocketsphinxStt({ jsgf, extraArgs }).args();
  args[args.indexOf("-infile") + 1] = file;
  const texts = answers.map(() => [] as string[]);
  const parser = new PocketsphinxOutputParser((u) => {
    const i = spans.findIndex(([a, b]) => (u.startS ?? 0) >= a - 0.3 && (u.startS ?? 0) < b);
    if (u.text && i >= 0) texts[i]!.push(u.text);
  });
  const t0 = performance.now();
  const proc = Bun.spawn(["pocketsphinx_continuous", ...args], { stdout: "pipe", stderr: "ignore" });
  parser.push(await new Response(proc.stdout).text());
  parser.end();
  await proc.exited;
  return { texts: texts.map((t) => t.join(" ")), wallMs: performance.now() - t0, audioMs: at / 8 };
}

const classifyCategory = (t: string) => Object.entries(CATEGORIES).find(([, ws]) => hasAnyKeyword(t, ws))?.[0] ?? "none";
const classifyYn = (t: string) => classifyYesNo(t) ?? "none";

const modes = arg("modes")?.split(",") ?? ["lm", "jsgf", "jsgf-wip", "lm+jsgf"];
const wantVoices = arg("voices")?.split(",");
const conditions = ALL_CONDITIONS.filter((c) => !wantVoices || wantVoices.includes(c.voice));
const dict = loadDictionaryWords("/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict");
const dir = mkdtempSync(join(tmpdir(), "stt-grammar-"));
const steps = [
  { name: "category", answers: CATEGORY_ANSWERS, classify: classifyCategory, words: Object.values(CATEGORIES).flat() },
  { name: "yes/no", answers: YES_NO_ANSWERS, classify: classifyYn, words: [...YES_NO.yes, ...YES_NO.no] },
];
const grammarFiles = steps.map((s, i) => {
  const path = join(dir, `step${i}.jsgf`);
  writeFileSync(path, stepGrammar(s.words, dict)!);
  return path;
});

/** mode → step → [right, total, false matches on "none" answers]. */
const score = new Map<string, Map<string, { right: number; total: number; falseMatch: number; noneTotal: number }>>();
const busy = new Map<string, { ms: number; audioMs: number }>();
try {
  for (const c of conditions) {
    const audio = steps.map((s) => s.answers.map((a) => phoneAudio(a.text, c, dir)));
    for (const mode of modes.filter((m) => m !== "lm+jsgf")) {
      for (const [si, s] of steps.entries()) {
        const r = await recogniseAll(audio[si]!, mode === "lm" ? undefined : grammarFiles[si], mode === "jsgf-wip" ? STEP_GRAMMAR_ARGS : [], dir);
        for (const [ai, a] of s.answers.entries()) ((heardOf(a)[c.name] ??= {})[mode] = r.texts[ai]!);
        const b = busy.get(mode) ?? { ms: 0, audioMs: 0 };
        b.ms += r.wallMs;
        b.audioMs += r.audioMs;
        busy.set(mode, b);
      }
    }
    for (const s of steps) {
      for (const a of s.answers) {
        const heard = heardOf(a)[c.name]!;
        for (const mode of modes) {
          const got = mode === "lm+jsgf" ? (s.classify(heard.lm ?? "") !== "none" ? s.classify(heard.lm ?? "") : s.classify(heard.jsgf ?? "")) : s.classify(heard[mode] ?? "");
          const m = score.get(mode) ?? new Map();
          score.set(mode, m);
          const k = m.get(s.name) ?? { right: 0, total: 0, falseMatch: 0, noneTotal: 0 };
          m.set(s.name, k);
          k.total++;
          if (got === a.want) k.right++;
          if (a.want === "none") {
            k.noneTotal++;
            if (got !== "none") k.falseMatch++;
          }
          if (process.argv.includes("--show")) console.log(`${c.name.padEnd(12)} ${mode.padEnd(8)} ${a.want.padEnd(11)} → ${got.padEnd(11)} "${heard[mode === "lm+jsgf" ? "jsgf" : mode] ?? ""}"`);
        }
      }
    }
    console.error(`done: ${c.name}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const pct = (a: number, b: number) => (b ? `${((100 * a) / b).toFixed(0)} %` : "–");
console.log(`\nvoices: ${conditions.map((c) => c.name).join(", ")}; answers per voice: ${CATEGORY_ANSWERS.length} category (${CATEGORY_ANSWERS.filter((a) => a.want === "none").length} off-topic), ${YES_NO_ANSWERS.length} yes/no`);
console.log("mode       category right   off-topic false match   yes/no right   wall/audio");
for (const mode of modes) {
  const m = score.get(mode)!;
  const cat = m.get("category")!;
  const yn = m.get("yes/no")!;
  const b = mode === "lm+jsgf" ? { ms: (busy.get("lm")?.ms ?? 0) + (busy.get("jsgf")?.ms ?? 0), audioMs: busy.get("lm")?.audioMs ?? 1 } : busy.get(mode)!;
  console.log(
    `${mode.padEnd(10)} ${`${cat.right}/${cat.total} ${pct(cat.right, cat.total)}`.padEnd(16)} ${`${cat.falseMatch}/${cat.noneTotal}`.padEnd(23)} ${`${yn.right}/${yn.total} ${pct(yn.right, yn.total)}`.padEnd(14)} ${(b.ms / b.audioMs).toFixed(2)}`,
  );
}
