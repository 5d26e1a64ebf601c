/**
 * The process-level guard, in a child process: an unhandled rejection and an exception thrown from a
 * timer are logged and counted, and the process keeps running (it exits 0 when done, not 1).
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

describe("installProcessGuard", () => {
  test("unhandled rejection and uncaught exception: logged with the real error, counted, the process lives on", async () => {
    const p = Bun.spawn(["bun", join(import.meta.dir, "process-guard.fixture.ts")], { stdout: "pipe", stderr: "pipe" });
    const killer = setTimeout(() => p.kill(9), 20_000);
    const code = await p.exited;
    clearTimeout(killer);
    const out = await new Response(p.stdout).text();
    expect(code).toBe(0);
    const lines = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const errors = lines.filter((l) => l.msg === "unhandled error: process kept running");
    expect(errors.map((e) => e.kind).sort()).toEqual(["uncaught_exception", "unhandled_rejection"]);
    expect(errors.find((e) => e.kind === "unhandled_rejection")).toMatchObject({ level: "error", err: "Error: provider socket closed", code: "ECONNRESET" });
    expect(errors.find((e) => e.kind === "uncaught_exception")).toMatchObject({ err: "TypeError: timer callback bug" });
    expect(errors[0].stack).toContain("process-guard.fixture.ts");
    expect(lines.at(-1)).toMatchObject({ msg: "still alive", totals: { unhandled_rejection: 1, uncaught_exception: 1 } });
  }, 30_000);
});
