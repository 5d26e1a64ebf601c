/**
 * Tests that prove an object is collectable (a WeakRef to it cleared after `Bun.gc(true)`) hold in a
 * process of their own but not reliably inside the whole suite, where one long-lived process (or one
 * `--parallel` worker) has run hundreds of files before them and the collector may still see a stale
 * pointer (failed in 2 of 2 full runs, passed alone 10 of 10). Such a describe block is written as
 * `describe.skipIf(!IN_GC_PROBE)(NAME, …)` and a `test.skipIf(IN_GC_PROBE)` in the same file runs it with
 * `runInFreshProcess(import.meta.path, NAME)`: a new `bun test` process for that file, filtered to NAME.
 */
export const IN_GC_PROBE = process.env.VOICE_AGENT_GC_PROBE === "1";

/** Runs the tests of `file` whose names contain `name` in a fresh `bun test` process; its counts and output. */
export async function runInFreshProcess(file: string, name: string): Promise<{ passed: number; failed: number; output: string }> {
  const proc = Bun.spawn([process.execPath, "test", "--timeout", "60000", file, "-t", name], {
    env: { ...process.env, VOICE_AGENT_GC_PROBE: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const output = out + err;
  const count = (what: string) => Number(new RegExp(`^ *(\\d+) ${what}$`, "m").exec(output)?.[1] ?? 0);
  return { passed: count("pass"), failed: count("fail") + (proc.exitCode === 0 ? 0 : 1), output };
}
