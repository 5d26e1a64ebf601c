/**
 * The install steps written at the top of scripts/deploy/voice-agent.service, run as written into a
 * scratch root (every absolute destination moved under it), leave every file the units name: the
 * binary of ExecStart= and the Documentation= page, for voice-agent.service and voice-agent@.service
 * (whose steps come after these). Before, Documentation= named
 * /usr/local/share/doc/voice-agent/README.md, which no step installed (`systemctl help voice-agent`
 * then found nothing).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dir, "../..");
const unit = (name: string) => Bun.file(join(REPO, "scripts/deploy", name)).text();
const root = mkdtempSync(join(tmpdir(), "va-install-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The `#   install …` lines of a unit's header, without their trailing comments. */
function installSteps(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => /^#\s+install\s/.test(l))
    .map((l) => l.replace(/^#\s+/, "").replace(/\s+#.*$/, ""));
}

/** A step with its absolute destinations under `root` (/dev/null stays) and the binary replaced by a stand-in. */
function rooted(step: string, standIn: string): string {
  return step
    .split(/\s+/)
    .map((w) => (w === "dist/voice-agent" ? standIn : w.startsWith("/") && w !== "/dev/null" ? join(root, w) : w))
    .join(" ");
}

describe("the units' install steps", () => {
  test("run into a scratch root, they install the ExecStart binary and the Documentation= page of both units", async () => {
    // What every Debian system has already; /usr/local/share/doc/voice-agent is for the steps to make.
    for (const dir of ["usr/local/bin", "etc/systemd/system"]) mkdirSync(join(root, dir), { recursive: true });
    const standIn = join(root, "stand-in-voice-agent");
    writeFileSync(standIn, "#!/bin/sh\nexit 0\n");
    chmodSync(standIn, 0o755);
    const steps = [...installSteps(await unit("voice-agent.service")), ...installSteps(await unit("voice-agent@.service"))];
    expect(steps.length).toBeGreaterThanOrEqual(5);
    for (const step of steps) {
      const r = Bun.spawnSync(["sh", "-c", rooted(step, standIn)], { cwd: REPO, stderr: "pipe" });
      expect(`${step}: exit ${r.exitCode} ${r.stderr.toString()}`).toBe(`${step}: exit 0 `);
    }
    for (const name of ["voice-agent.service", "voice-agent@.service"]) {
      const text = await unit(name);
      const docs = [...text.matchAll(/^Documentation=(.*)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
      expect(docs.length).toBeGreaterThan(0);
      for (const doc of docs) {
        expect(doc).toStartWith("file:///");
        expect(`${name}: ${doc} ${existsSync(join(root, doc.slice("file://".length)))}`).toBe(`${name}: ${doc} true`);
      }
      const exec = /^ExecStart=(\S+)/m.exec(text)![1]!;
      expect(existsSync(join(root, exec))).toBe(true);
      expect(existsSync(join(root, "etc/systemd/system", name))).toBe(true);
    }
  });
});
