import { canonicalHeaderName } from "./header-names.ts";

/** One header row: the name as it will be written, and its value (no CRLF). */
export interface HeaderEntry {
  name: string;
  value: string;
}

/**
 * An ordered, case-insensitive multimap of header rows (RFC 3261 §7.3). Order is preserved exactly,
 * both across names and within a name (§7.3.1: the relative order of rows with the same name is
 * significant for Via, Route, Record-Route). Names are normalised by {@link canonicalHeaderName}.
 * Values must not contain CR or LF (throws `TypeError` when set by code).
 */
export class Headers {
  private rows: HeaderEntry[] = [];

  constructor(entries?: Iterable<readonly [string, string]>) {
    if (entries) for (const [n, v] of entries) this.append(n, v);
  }

  /** The first value of `name`, or undefined. */
  get(name: string): string | undefined {
    const key = canonicalHeaderName(name).toLowerCase();
    for (const r of this.rows) if (r.name.toLowerCase() === key) return r.value;
    return undefined;
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const key = canonicalHeaderName(name).toLowerCase();
    return this.rows.filter((r) => r.name.toLowerCase() === key).map((r) => r.value);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Adds a row at the end. */
  append(name: string, value: string): this {
    this.rows.push({ name: canonicalHeaderName(name), value: checkValue(value) });
    return this;
  }

  /** Adds a row before every other row of the same name (or at the end if none): a new top Via. */
  prepend(name: string, value: string): this {
    const n = canonicalHeaderName(name);
    const i = this.indexOf(n);
    const row = { name: n, value: checkValue(value) };
    if (i < 0) this.rows.push(row);
    else this.rows.splice(i, 0, row);
    return this;
  }

  /** Replaces every row of `name` with one row, at the position of the first (or at the end). */
  set(name: string, value: string): this {
    return this.setAll(name, [value]);
  }

  /** Replaces every row of `name` with `values`, at the position of the first (or at the end). */
  setAll(name: string, values: readonly string[]): this {
    const n = canonicalHeaderName(name);
    const i = this.indexOf(n);
    this.delete(n);
    const rows = values.map((v) => ({ name: n, value: checkValue(v) }));
    if (i < 0) this.rows.push(...rows);
    else this.rows.splice(i, 0, ...rows);
    return this;
  }

  /** Replaces the first row of `name` (the top Via, say); appends if none. */
  setFirst(name: string, value: string): this {
    const n = canonicalHeaderName(name);
    const i = this.indexOf(n);
    if (i < 0) this.rows.push({ name: n, value: checkValue(value) });
    else this.rows[i] = { name: this.rows[i]!.name, value: checkValue(value) };
    return this;
  }

  /** Removes every row of `name`. */
  delete(name: string): this {
    const key = canonicalHeaderName(name).toLowerCase();
    this.rows = this.rows.filter((r) => r.name.toLowerCase() !== key);
    return this;
  }

  /** A copy of the rows, in order. */
  entries(): HeaderEntry[] {
    return this.rows.map((r) => ({ ...r }));
  }

  get size(): number {
    return this.rows.length;
  }

  clone(): Headers {
    const h = new Headers();
    h.rows = this.entries();
    return h;
  }

  private indexOf(canonicalName: string): number {
    const key = canonicalName.toLowerCase();
    return this.rows.findIndex((r) => r.name.toLowerCase() === key);
  }
}

function checkValue(v: string): string {
  if (/[\r\n]/.test(v)) throw new TypeError("header value contains CR or LF");
  return v;
}

/**
 * Splits a comma-separated header value into its elements (RFC 3261 §7.3.1), ignoring commas inside
 * quoted strings (with `\` escapes) and inside `<...>`. Empty elements are dropped; elements are trimmed.
 */
export function splitHeaderList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let inQuote = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (inQuote) {
      if (ch === "\\") i++;
      else if (ch === '"') inQuote = false;
    } else if (ch === '"') inQuote = true;
    else if (ch === "<") inAngle = true;
    else if (ch === ">") inAngle = false;
    else if (ch === "," && !inAngle) {
      const part = value.slice(start, i).trim();
      if (part) out.push(part);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}
