/**
 * The process logger: per-message-kind rate limit with a summary line, pii removal, and an
 * asynchronous stdout that never blocks when nobody reads it (a child process with an unread pipe).
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createLogger, flushLog, LogLimiter, logTotals, SUPPRESSED_MSG } from "../../src/util/log";

function memoryLogger(opts: Parameters<typeof createLogger>[0] = {}) {
  const lines: any[] = [];
  const log = createLogger({ ...opts, destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { log, lines };
}

describe("log rate limit per message kind", () => {
  test("a burst of one message becomes `burst` lines and one summary with the count; other kinds pass", async () => {
    const { log, lines } = memoryLogger({ rateLimit: { burst: 5, windowMs: 60_000 } });
    const before = logTotals.suppressed;
    for (let i = 0; i < 200; i++) log.warn({ i, source: { host: "192.0.2.1", port: 5060 } }, "sip datagram dropped");
    log.info({ callId: "a" }, "call offered");
    expect(lines.filter((l) => l.msg === "sip datagram dropped")).toHaveLength(5);
    expect(lines.filter((l) => l.msg === "call offered")).toHaveLength(1);
    expect(logTotals.suppressed - before).toBe(195);
    await flushLog(log); // ends the window: the summary
    const summary = lines.filter((l) => l.msg === SUPPRESSED_MSG);
    expect(summary).toEqual([expect.objectContaining({ level: "warn", kind: "sip datagram dropped", suppressed: 195, windowMs: 60_000 })]);
    // A new window lets the kind through again.
    log.warn({}, "sip datagram dropped");
    expect(lines.at(-1).msg).toBe("sip datagram dropped");
  });

  test("the window ends on its own timer: the summary arrives without another line", async () => {
    const { log, lines } = memoryLogger({ rateLimit: { burst: 2, windowMs: 50 } });
    for (let i = 0; i < 10; i++) log.error({ i }, "pacer source failed");
    await Bun.sleep(200);
    expect(lines.filter((l) => l.msg === "pacer source failed")).toHaveLength(2);
    expect(lines.find((l) => l.msg === SUPPRESSED_MSG)).toMatchObject({ level: "error", kind: "pacer source failed", suppressed: 8 });
  });

  test("burst 0 turns the limit off", () => {
    const { log, lines } = memoryLogger({ rateLimit: { burst: 0 } });
    for (let i = 0; i < 500; i++) log.info({ i }, "x");
    expect(lines).toHaveLength(500);
  });

  test("LogLimiter keeps at most 1,000 kinds per window (the rest pass unlimited)", () => {
    const summaries: string[] = [];
    const l = new LogLimiter(1, 60_000, (k) => summaries.push(k));
    for (let i = 0; i < 1500; i++) expect(l.admit(`kind ${i}`, 30)).toBe(true);
    expect(l.admit("kind 1", 30)).toBe(false);
    expect(l.admit("kind 1400", 30)).toBe(true);
    l.endWindow();
    expect(summaries).toEqual(["kind 1"]);
  });
});

describe("pii", () => {
  test("LOG_PII=false removes pii (DTMF digits, SIP parse details, numbers); true keeps it", () => {
    const off = memoryLogger({ pii: false });
    off.log.info({ callId: "c", durationMs: 120, pii: { key: "5" } }, "dtmf received");
    expect(off.lines[0]).toEqual(expect.objectContaining({ callId: "c", durationMs: 120 }));
    expect(off.lines[0].pii).toBeUndefined();
    const on = memoryLogger({ pii: true });
    on.log.info({ pii: { key: "5" } }, "dtmf received");
    expect(on.lines[0].pii).toEqual({ key: "5" });
  });
});

describe("asynchronous stdout", () => {
  test("with stdout a pipe nobody reads, 20,000 lines cost no waiting: the writer finishes, overflow is dropped and counted", async () => {
    const script = join(import.meta.dir, "log-writer.fixture.ts");
    const p = Bun.spawn(["bun", script], { stdout: "pipe", stderr: "pipe" });
    // Nobody reads stdout (a 64 KB pipe): a synchronous logger would block at the first full pipe.
    const killer = setTimeout(() => p.kill(9), 20_000);
    const code = await p.exited;
    clearTimeout(killer);
    expect(code).toBe(0);
    const report = JSON.parse((await new Response(p.stderr).text()).trim().split("\n").at(-1)!);
    expect(report.lines).toBe(20_000);
    expect(report.dropped).toBeGreaterThan(0); // 20,000 × ~300 B > 4 MiB buffer + 64 KB pipe
    expect(report.p99Ms).toBeLessThan(5); // no call waited for the pipe (generous for a busy machine)
  }, 30_000);
});
