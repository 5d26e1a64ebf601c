/**
 * A strict parser for the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), for tests.
 *
 * Rejects (throws `ExpositionError` with the 1-based line number): a bad metric or label name, an
 * unterminated or badly escaped label value, a duplicate label in one sample, a value that is not a Go
 * float (Go `strconv.ParseFloat`: `NaN`, `+Inf`, `-Inf` in any case, as prom-client writes `Nan`), a timestamp that is not an integer, a second TYPE or HELP for a
 * name, a TYPE after the family's first sample, a family whose samples are not contiguous, a duplicate
 * series, a negative counter, and histograms whose buckets lack `le`, are not cumulative, have no
 * `+Inf` bucket, or whose `+Inf` bucket differs from `_count`.
 */

export class ExpositionError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Go's strconv.ParseFloat syntax, which Prometheus uses: NaN / Inf / Infinity in any letter case. */
const FLOAT = /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)$/;
const SPECIAL = /^(?:([+-]?)(?:inf|infinity)|nan)$/i;

function parseFloatStrict(s: string, line: number): number {
  const special = SPECIAL.exec(s);
  if (special) return special[1] === undefined ? Number.NaN : special[1] === "-" ? -Infinity : Infinity;
  if (!FLOAT.test(s)) throw new ExpositionError(line, `bad value "${s}"`);
  return Number(s);
}

/** Family a sample belongs to: histogram/summary samples carry a suffix. */
function familyOf(sample: string, types: Map<string, MetricType>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length);
      const t = types.get(base);
      if (t === "histogram" || (t === "summary" && suffix !== "_bucket")) return base;
    }
  }
  return sample;
}

function parseLabels(text: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // after "{"
  for (;;) {
    while (text[i] === " ") i++;
    if (text[i] === "}") return { labels, rest: text.slice(i + 1) };
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (!m) throw new ExpositionError(line, `bad label name at "${text.slice(i, i + 10)}"`);
    const name = m[0];
    i += name.length;
    if (text[i] !== "=" || text[i + 1] !== '"') throw new ExpositionError(line, `expected ="… after label ${name}`);
    i += 2;
    let value = "";
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new ExpositionError(line, `unterminated value of label ${name}`);
      if (c === '"') break;
      if (c === "\\") {
        const e = text[i + 1];
        if (e === "\\") value += "\\";
        else if (e === '"') value += '"';
        else if (e === "n") value += "\n";
        else throw new ExpositionError(line, `bad escape \\${e ?? ""} in label ${name}`);
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    i++; // closing quote
    if (name in labels) throw new ExpositionError(line, `duplicate label ${name}`);
    if (!LABEL_NAME.test(name) || name.startsWith("__")) throw new ExpositionError(line, `reserved label name ${name}`);
    labels[name] = value;
    if (text[i] === ",") i++;
    else if (text[i] !== "}") throw new ExpositionError(line, `expected , or } after label ${name}`);
  }
}

function seriesKey(s: Sample): string {
  return s.name + JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function checkHistogram(f: Family, line: number): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number; sum?: boolean }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)));
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new ExpositionError(line, `${f.name}_bucket without le`);
      g.buckets.push([parseFloatStrict(le, line), s.value]);
    } else if (s.name === `${f.name}_count`) g.count = s.value;
    else if (s.name === `${f.name}_sum`) g.sum = true;
    else throw new ExpositionError(line, `sample ${s.name} in histogram ${f.name}`);
  }
  for (const [key, g] of groups) {
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i][1] < sorted[i - 1][1]) throw new ExpositionError(line, `${f.name}${key}: buckets not cumulative`);
    }
    const inf = sorted.at(-1);
    if (!inf || inf[0] !== Infinity) throw new ExpositionError(line, `${f.name}${key}: no +Inf bucket`);
    if (g.count === undefined || g.sum !== true) throw new ExpositionError(line, `${f.name}${key}: _count or _sum missing`);
    if (inf[1] !== g.count) throw new ExpositionError(line, `${f.name}${key}: +Inf bucket ${inf[1]} != _count ${g.count}`);
  }
}

/** Parses exposition text into families keyed by name. @throws ExpositionError */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const types = new Map<string, MetricType>();
  const helps = new Set<string>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  const lines = text.split("\n");
  if (text.length > 0 && !text.endsWith("\n")) throw new ExpositionError(lines.length, "no final newline");

  const family = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: types.get(name) ?? "untyped", samples: [] }));
    return f;
  };
  const enter = (name: string, n: number) => {
    if (current === name) return;
    if (closed.has(name)) throw new ExpositionError(n, `family ${name} is not contiguous`);
    if (current !== undefined) closed.add(current);
    current = name;
  };

  lines.forEach((raw, idx) => {
    const n = idx + 1;
    const line = raw.trim();
    if (line === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!m) return; // plain comment
      const [, kind, name, rest = ""] = m;
      if (!METRIC_NAME.test(name)) throw new ExpositionError(n, `bad metric name ${name}`);
      enter(name, n);
      if (kind === "TYPE") {
        if (types.has(name)) throw new ExpositionError(n, `second TYPE for ${name}`);
        if (families.get(name)?.samples.length) throw new ExpositionError(n, `TYPE for ${name} after its samples`);
        if (!/^(counter|gauge|histogram|summary|untyped)$/.test(rest)) throw new ExpositionError(n, `bad type "${rest}"`);
        types.set(name, rest as MetricType);
        family(name).type = rest as MetricType;
      } else {
        if (helps.has(name)) throw new ExpositionError(n, `second HELP for ${name}`);
        if (/\\(?![\\n])/.test(rest)) throw new ExpositionError(n, `bad escape in HELP of ${name}`);
        helps.add(name);
        family(name).help = rest.replace(/\\n/g, "\n").replace(/\\\\/g, "\\");
      }
      return;
    }
    const nm = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nm) throw new ExpositionError(n, `bad metric name at "${line.slice(0, 20)}"`);
    const name = nm[0];
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) ({ labels, rest } = parseLabels(rest, n));
    const parts = rest.trim().split(/\s+/);
    if (!/^\s/.test(rest) || parts.length < 1 || parts.length > 2 || parts[0] === "")
      throw new ExpositionError(n, `expected "value [timestamp]" after ${name}`);
    const value = parseFloatStrict(parts[0], n);
    let timestampMs: number | undefined;
    if (parts[1] !== undefined) {
      if (!/^-?\d+$/.test(parts[1])) throw new ExpositionError(n, `bad timestamp "${parts[1]}"`);
      timestampMs = Number(parts[1]);
    }
    const fam = familyOf(name, types);
    enter(fam, n);
    const sample: Sample = { name, labels, value, timestampMs };
    const key = seriesKey(sample);
    if (series.has(key)) throw new ExpositionError(n, `duplicate series ${key}`);
    series.add(key);
    const f = family(fam);
    if (f.type === "counter" && !(value >= 0)) throw new ExpositionError(n, `counter ${name} is ${value}`);
    f.samples.push(sample);
  });

  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f, lines.length);
  return families;
}

/** The value of the one sample named `name` whose labels include `labels`; throws when 0 or >1 match. */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const matches: Sample[] = [];
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) matches.push(s);
    }
  }
  if (matches.length !== 1) throw new Error(`${name}${JSON.stringify(labels)}: ${matches.length} samples match`);
  return matches[0].value;
}
