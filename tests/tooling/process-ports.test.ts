/**
 * Free ports and managed processes: readiness lines, timeouts, and that nothing survives stop().
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freeUdpPort, freeTcpPort, freeUdpPortRange, isUdpPortBound, isUdpPortFree, waitUdpPortBound, workerSlice } from "../support/ports.ts";
import { spawnManaged, stopAllManaged, liveManagedCount, missingTools } from "../support/process.ts";

afterAll(async () => {
  await stopAllManaged();
});

/** True when `pid` exists and is not a zombie (an orphan's zombie may wait for a lazy init to reap it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

describe("ports", () => {
  test("free UDP/TCP ports are bindable, distinct enough, in range", async () => {
    const u = await freeUdpPort();
    expect(u).toBeGreaterThan(1023);
    expect(await isUdpPortFree(u)).toBe(true);
    const t = await freeTcpPort();
    const server = Bun.listen({ hostname: "127.0.0.1", port: t, socket: { data() {} } });
    expect(server.port).toBe(t);
    server.stop(true);
    const held = await Bun.udpSocket({ hostname: "127.0.0.1", port: u });
    expect(await isUdpPortFree(u)).toBe(false);
    held.close();
  });

  test("isUdpPortBound sees a port another process binds, without binding it (no race with that bind)", async () => {
    const port = await freeUdpPort();
    expect(await isUdpPortBound(port)).toBe(false);
    // A child binds the port 300 ms after start; polling all the while must never make its bind fail.
    const child = spawnManaged(["python3", "-c", `import socket,time\ntime.sleep(0.3)\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("127.0.0.1",${port}))\nprint("bound",flush=True)\ntime.sleep(30)`]);
    await waitUdpPortBound(port, { name: "python", running: () => child.running, detail: () => child.stderr(), timeoutMs: 10_000, pollMs: 1 });
    expect(await isUdpPortBound(port)).toBe(true);
    expect(await isUdpPortFree(port)).toBe(false);
    await child.stop({ signal: "SIGKILL", graceMs: 0 });
    const dead = spawnManaged(["sh", "-c", "exit 3"]);
    await expect(waitUdpPortBound(await freeUdpPort(), { name: "dead", running: () => dead.running, timeoutMs: 5000 })).rejects.toThrow("dead exited at start");
  });

  test("under bun test --parallel (TEST_WORKERS > 1) each worker has its own slice of [20000, first ephemeral port)", () => {
    const w = (id: string | undefined, n: string | undefined) => workerSlice({ BUN_TEST_WORKER_ID: id, TEST_WORKERS: n }, 32768);
    expect(w("1", "2")).toEqual([20000, 26384]);
    expect(w("2", "2")).toEqual([26384, 32768]);
    expect(w("3", "3")).toEqual([28512, 32768]);
    expect(w("1", "3")).toEqual([20000, 24256]);
    for (const [id, n] of [[undefined, "2"], ["1", undefined], ["1", "1"], ["3", "2"], ["0", "2"], ["x", "2"]] as const) expect(w(id, n)).toBeNull();
    expect(workerSlice({ BUN_TEST_WORKER_ID: "1", TEST_WORKERS: "2" }, 21000)).toBeNull(); // no room below the ephemeral range
  });

  test("a worker process hands out UDP ports, TCP ports and RTP ranges only from its slice, none twice", () => {
    const script = `
      import { freeUdpPort, freeTcpPort, freeUdpPortRange } from ${JSON.stringify(join(import.meta.dir, "../support/ports.ts"))};
      const udp = []; for (let i = 0; i < 100; i++) udp.push(await freeUdpPort());
      const tcp = []; for (let i = 0; i < 20; i++) tcp.push(await freeTcpPort());
      const ranges = []; for (let i = 0; i < 20; i++) ranges.push(await freeUdpPortRange(40));
      console.log(JSON.stringify({ udp, tcp, ranges }));`;
    for (const id of ["1", "2"]) {
      const r = Bun.spawnSync({ cmd: [process.execPath, "-e", script], env: { ...process.env, TEST_WORKERS: "2", BUN_TEST_WORKER_ID: id }, stdout: "pipe", stderr: "pipe" });
      expect(r.exitCode, r.stderr.toString()).toBe(0);
      const { udp, tcp, ranges } = JSON.parse(r.stdout.toString()) as { udp: number[]; tcp: number[]; ranges: number[] };
      const [lo, hi] = workerSlice({ BUN_TEST_WORKER_ID: id, TEST_WORKERS: "2" })!;
      const all = [...udp, ...tcp, ...ranges.flatMap((b) => Array.from({ length: 40 }, (_, i) => b + i))];
      expect(all.every((p) => p >= lo && p < hi), `worker ${id}: all in ${lo}-${hi - 1}`).toBe(true);
      expect(new Set(all).size, `worker ${id}: no port handed twice`).toBe(all.length);
      expect(ranges.every((b) => b % 2 === 0)).toBe(true);
    }
  });

  test("freeUdpPortRange returns an even base with all ports free", async () => {
    const base = await freeUdpPortRange(4);
    expect(base % 2).toBe(0);
    for (let p = base; p < base + 4; p++) expect(await isUdpPortFree(p)).toBe(true);
  });
});

describe("spawnManaged", () => {
  test("waits for a readiness line and returns the match; collects output", async () => {
    const p = spawnManaged(["sh", "-c", "echo starting; sleep 0.2; echo 'READY port=4242' >&2; sleep 30"]);
    const m = await p.waitForLine(/READY port=(\d+)/, { timeoutMs: 3000 });
    expect(m[1]).toBe("4242");
    expect(p.stdout()).toBe("starting\n");
    expect(p.stderr()).toContain("READY");
    await expect(p.waitForLine(/READY/, { timeoutMs: 100, stream: "stdout" })).rejects.toThrow("no line matching");
    expect(await p.stop()).toBeNull(); // killed by SIGTERM
    expect(p.signalCode).toBe("SIGTERM");
  });

  test("stop() kills the whole process group, grandchildren included", async () => {
    const p = spawnManaged(["sh", "-c", "sleep 30 & echo child=$!; sleep 30 & wait"]);
    const m = await p.waitForLine(/child=(\d+)/, { timeoutMs: 3000 });
    const child = Number(m[1]);
    expect(alive(child)).toBe(true);
    await p.stop({ graceMs: 500 });
    await Bun.sleep(50);
    expect(alive(child)).toBe(false);
    expect(alive(p.pid)).toBe(false);
  });

  test("SIGKILL after the grace period for a process that ignores SIGTERM", async () => {
    const p = spawnManaged(["sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.05; done"]);
    await p.waitForLine(/up/, { timeoutMs: 3000 });
    const t0 = performance.now();
    await p.stop({ graceMs: 300 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    expect(p.signalCode).toBe("SIGKILL");
  });

  test("exit before the readiness line rejects with the output tail; exit code is kept", async () => {
    const p = spawnManaged(["sh", "-c", "echo oops >&2; exit 3"]);
    await expect(p.waitForLine(/never/, { timeoutMs: 3000 })).rejects.toThrow("oops");
    expect(await p.exited).toBe(3);
    expect(p.running).toBe(false);
  });

  test("stdin bytes are delivered; a missing executable throws", async () => {
    const p = spawnManaged(["cat"], { stdin: "hello" });
    expect(await p.exited).toBe(0);
    expect(p.stdout()).toBe("hello");
    expect(() => spawnManaged(["/no/such/binary"])).toThrow();
    expect(missingTools(["sh", "no-such-tool-xyz"])).toEqual(["no-such-tool-xyz"]);
  });

  test("stopAllManaged leaves nothing running", async () => {
    const a = spawnManaged(["sleep", "30"]);
    const b = spawnManaged(["sleep", "30"]);
    expect(liveManagedCount()).toBe(2);
    await stopAllManaged();
    expect(liveManagedCount()).toBe(0);
    expect(alive(a.pid) || alive(b.pid)).toBe(false);
  });
});
