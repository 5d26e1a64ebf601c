/**
 * One agent per DATA_DIR: the flock is exclusive across processes, released on exit (even kill -9),
 * and the refusal names the directory and the holder.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataDirLock, DataDirLockError, LOCK_FILE } from "../../src/store";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "va-lock-"));
  dirs.push(d);
  return d;
};

/** A child process that takes the lock, prints "locked", and waits to be killed. */
function holder(dir: string) {
  const script = `import { DataDirLock } from ${JSON.stringify(join(import.meta.dir, "../../src/store/data-dir-lock.ts"))};
DataDirLock.acquire(${JSON.stringify(dir)}, { sip: "udp:127.0.0.1:5999" }); console.log("locked"); setInterval(() => {}, 1000);`;
  const file = join(dir, "holder.ts");
  Bun.write(file, script);
  return Bun.spawn(["bun", file], { stdout: "pipe", stderr: "inherit" });
}

async function waitLocked(p: ReturnType<typeof holder>): Promise<void> {
  const reader = p.stdout.getReader();
  const { value } = await reader.read();
  expect(new TextDecoder().decode(value)).toContain("locked");
  reader.releaseLock();
}

describe("DataDirLock", () => {
  test("a second holder in another process is refused with the holder's pid and ports; kill -9 frees it", async () => {
    const dir = fresh();
    const p = holder(dir);
    await waitLocked(p);
    let err: unknown;
    try {
      DataDirLock.acquire(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataDirLockError);
    expect((err as DataDirLockError).code).toBe("data_dir_in_use");
    expect((err as Error).message).toContain(`${dir} is in use by another voice-agent (pid ${p.pid}, sip udp:127.0.0.1:5999`);
    // A second start right after a SIGTERM meets the draining agent: the message says so and whom to wait for.
    expect((err as Error).message).toContain(`keeps it while its live calls drain (up to DRAIN_TIMEOUT_S, 30 s by default): wait for pid ${p.pid} to exit`);
    expect((err as Error).message).toContain("each agent needs its own DATA_DIR");
    p.kill(9);
    await p.exited;
    const lock = DataDirLock.acquire(dir, { http: "127.0.0.1:8000" });
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8"))).toMatchObject({ pid: process.pid, http: "127.0.0.1:8000" });
    lock.release();
  }, 20_000);

  test("release lets the next one in; the directory is created 0700", () => {
    const dir = join(fresh(), "nested", "data");
    const a = DataDirLock.acquire(dir);
    expect(() => DataDirLock.acquire(dir)).toThrow(DataDirLockError);
    a.release();
    a.release();
    const b = DataDirLock.acquire(dir);
    b.release();
  });

  test("a directory that cannot be created → lock_failed naming the path", () => {
    const err = (() => {
      try {
        DataDirLock.acquire("/proc/voice-agent-cannot-exist");
      } catch (e) {
        return e as DataDirLockError;
      }
    })();
    expect(err?.code).toBe("lock_failed");
    expect(err?.message).toMatch(/cannot create \/proc\/voice-agent-cannot-exist\/voice-agent.lock/);
  });

  describe("check (check-config): what acquire would meet, leaving nothing behind", () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as DataDirLockError;
      }
    };
    test("a file, a path under a file, /proc and /sys → lock_failed with the message acquire gives", () => {
      const file = join(fresh(), "calls-here");
      writeFileSync(file, "x");
      for (const dir of [file, join(file, "sub"), "/proc/voice-agent-cannot-exist", "/sys/voice-agent-cannot-exist"]) {
        const checked = code(() => DataDirLock.check(dir));
        const acquired = code(() => DataDirLock.acquire(dir));
        expect(acquired?.code).toBe("lock_failed"); // the agent refuses it…
        expect(checked?.code).toBe("lock_failed"); // …so check-config does too
        expect(checked?.message).toStartWith(`cannot create ${join(dir, LOCK_FILE)}: `);
      }
      expect(code(() => DataDirLock.check(file))?.message).toContain(`${file} is not a directory`);
      expect(code(() => DataDirLock.check("/proc/voice-agent-cannot-exist"))?.message).toContain("/proc is not writable");
    });

    test("a directory still to be made passes and is not made; a held one is named, not refused", () => {
      const root = fresh();
      const dir = join(root, "a", "b");
      expect(DataDirLock.check(dir)).toBeUndefined();
      expect(readdirSync(root)).toEqual([]); // no probe or lock file left
      const lock = DataDirLock.acquire(dir, { sip: "udp:127.0.0.1:5998" });
      expect(DataDirLock.check(dir)).toContain(`${dir} is in use by another voice-agent (pid ${process.pid}, sip udp:127.0.0.1:5998`);
      lock.release();
      expect(DataDirLock.check(dir)).toBeUndefined();
      expect(readdirSync(dir)).toEqual([LOCK_FILE]);
    });
  });
});
