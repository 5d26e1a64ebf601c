/**
 * Runs `systemd-analyze` on copies of our unit files (systemd.test.ts, systemd-template.test.ts).
 * `verify` needs ExecStart's binary to exist and be executable, so each copy's ExecStart points at a
 * stand-in executable in a temp dir (one per test file, removed by `remove()`).
 *
 *   const units = UnitAnalyzer.create("va-systemd-");
 *   units.analyze(text, ["verify", "--man=no"], "voice-agent.service");   // { exitCode, output }
 *   settings(text).get("ProtectSystem");                                   // ["strict"]
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The ExecStart path our units name (rewritten to the stand-in in each copy). */
export const EXEC = "/usr/local/bin/voice-agent";

export const hasSystemdAnalyze = (): boolean => Bun.spawnSync({ cmd: ["sh", "-c", "command -v systemd-analyze"] }).exitCode === 0;

export class UnitAnalyzer {
  private n = 0;

  private constructor(
    readonly dir: string,
    private readonly standIn: string,
  ) {}

  /** A fresh temp dir (`prefix` + random) holding the stand-in executable `bin/voice-agent` (exits 0). */
  static create(prefix: string): UnitAnalyzer {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const standIn = join(dir, "bin", "voice-agent");
    mkdirSync(join(dir, "bin"));
    writeFileSync(standIn, "#!/bin/sh\nexit 0\n");
    chmodSync(standIn, 0o755);
    return new UnitAnalyzer(dir, standIn);
  }

  /** Writes `text` (ExecStart rewritten to the stand-in) as the unit file `name` in a directory of its own and runs `systemd-analyze ARGS FILE`. */
  analyze(text: string, args: string[], name: string): { exitCode: number; output: string } {
    const sub = join(this.dir, `u${this.n++}`);
    mkdirSync(sub);
    const file = join(sub, name);
    writeFileSync(file, text.replaceAll(EXEC, this.standIn));
    const r = Bun.spawnSync({ cmd: ["systemd-analyze", ...args, file], stdout: "pipe", stderr: "pipe", env: { ...process.env, SYSTEMD_COLORS: "0" } });
    return { exitCode: r.exitCode ?? -1, output: (r.stdout.toString() + r.stderr.toString()).trim() };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A unit's assignments: key → values in order (comments, blank lines and section headers dropped). */
export function settings(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("[")) continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    m.set(key, [...(m.get(key) ?? []), line.slice(eq + 1)]);
  }
  return m;
}
