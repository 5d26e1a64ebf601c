/**
 * Readers of single environment variables for the configuration (src/cli/config.ts): each validates one
 * value and throws `ConfigError` naming the variable and what it accepts.
 */
import { isIP } from "node:net";
import { parseIpv4Range } from "../util/ip-range";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

export type Env = Record<string, string | undefined>;

export function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

export function int(env: Env, name: string, def: number, min: number, max: number): number {
  const v = str(env, name);
  if (v === undefined) return def;
  if (!/^-?\d+$/.test(v)) throw new ConfigError(name, `expected an integer from ${min} to ${max}, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(name, `expected an integer from ${min} to ${max}, got ${n}`);
  return n;
}

/**
 * An integer that is `0` (off, the default) or within [min, max]; for settings whose meaningful range does
 * not start at 1 (a kernel time slice: sched_setattr(2) clamps 1–99 µs up to 100, so accepting them would
 * silently mean something else). @throws ConfigError naming the variable
 */
export function intOrOff(env: Env, name: string, min: number, max: number): number {
  const n = int(env, name, 0, 0, max);
  if (n !== 0 && n < min) throw new ConfigError(name, `expected 0 (off) or an integer from ${min} to ${max}, got ${n}`);
  return n;
}

export function bool(env: Env, name: string, def: boolean): boolean {
  const v = str(env, name);
  if (v === undefined) return def;
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new ConfigError(name, `expected true or false, got "${v}"`);
}

export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], def: T): T {
  const v = str(env, name);
  if (v === undefined) return def;
  if (!(allowed as readonly string[]).includes(v.toLowerCase()))
    throw new ConfigError(name, `expected one of ${allowed.join(", ")}, got "${v}"`);
  return v.toLowerCase() as T;
}

export function ip(env: Env, name: string, def?: string): string | undefined {
  const v = str(env, name) ?? def;
  if (v === undefined) return undefined;
  if (isIP(v) !== 4) throw new ConfigError(name, `expected an IPv4 address, got "${v}"`);
  return v;
}

/** A comma-separated list of IPv4 addresses or CIDR ranges (a.b.c.d/n). */
export function ipRangeList(env: Env, name: string): string[] {
  const v = str(env, name);
  if (v === undefined) return [];
  const list = v.split(",").map((x) => x.trim()).filter(Boolean);
  for (const a of list) {
    try {
      parseIpv4Range(a);
    } catch {
      throw new ConfigError(name, `expected comma-separated IPv4 addresses or a.b.c.d/n ranges, got "${a}"`);
    }
  }
  return list;
}

export function url(env: Env, name: string): string | undefined {
  const v = str(env, name);
  if (v === undefined) return undefined;
  try {
    const u = new URL(v);
    if (!/^(https?|wss?):$/.test(u.protocol)) throw new Error();
  } catch {
    throw new ConfigError(name, `expected an http(s):// or ws(s):// URL, got "${v}"`);
  }
  return v.replace(/\/+$/, "");
}

/** A host name (RFC 1123 labels) or an IPv4 address. */
export function host(env: Env, name: string): string | undefined {
  const v = str(env, name);
  if (v === undefined) return undefined;
  const label = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
  if (isIP(v) === 4 || (v.length <= 253 && v.split(".").every((l) => label.test(l)))) return v;
  throw new ConfigError(name, `expected a host name or IPv4 address, got "${v}"`);
}

/** A pair of variables that must be set together; returns both or neither. */
export function pair(env: Env, a: string, b: string): [string, string] | undefined {
  const x = str(env, a);
  const y = env[b] === undefined || env[b] === "" ? undefined : env[b]; // passwords keep their spaces
  if (x !== undefined && y === undefined) throw new ConfigError(b, `required when ${a} is set`);
  if (x === undefined && y !== undefined) throw new ConfigError(a, `required when ${b} is set`);
  return x !== undefined ? [x, y!] : undefined;
}
