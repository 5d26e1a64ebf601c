/**
 * A throwaway PostgreSQL 15 cluster for one test file (Debian's `postgresql` package, installed by
 * `scripts/bootstrap.sh --test`): `initdb` into a fresh temp dir, `pg_ctl start` on a free loopback
 * port, trust authentication, fsync off (a test cluster: a crash of the machine may lose it).
 * Runs as the `postgres` user when the tests run as root (initdb refuses root).
 *
 *   const pg = await startPostgres();   // pg.url = postgres://postgres@127.0.0.1:PORT/postgres
 *   await pg.createDb("a");             // → its URL
 *   await pg.stop(); await pg.start();  // a server restart, same data
 *   await pg.destroy();
 */
import { existsSync, mkdtempSync, rmSync, chownSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeTcpPort } from "./ports.ts";

export const PG_BIN = "/usr/lib/postgresql/15/bin";
/** True when the PostgreSQL 15 server binaries are installed. */
export const hasPostgres = existsSync(join(PG_BIN, "initdb")) && existsSync(join(PG_BIN, "pg_ctl"));

export interface TestPostgres {
  port: number;
  dir: string;
  /** URL of the `postgres` database. */
  url: string;
  /** Creates a database and returns its URL. */
  createDb(name: string): Promise<string>;
  /** Fast shutdown (open connections are terminated, as in a real restart). */
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;

function run(argv: string[]): { code: number; out: string } {
  const cmd = isRoot ? ["runuser", "-u", "postgres", "--", ...argv] : argv;
  const r = Bun.spawnSync({ cmd, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

export async function startPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "va-pg-"));
  if (isRoot) {
    const uid = Number(Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim());
    const gid = Number(Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  const init = run([join(PG_BIN, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  if (init.code !== 0) throw new Error(`initdb failed: ${init.out}`);
  const port = await freeTcpPort();
  const start = async () => {
    const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50`;
    const r = run([join(PG_BIN, "pg_ctl"), "-D", data, "-o", opts, "-l", join(dir, "log"), "-w", "-t", "60", "start"]);
    if (r.code !== 0) throw new Error(`pg_ctl start failed: ${r.out}`);
  };
  await start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    port,
    dir,
    url,
    async createDb(name) {
      const r = run([join(PG_BIN, "createdb"), "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", name]);
      if (r.code !== 0) throw new Error(`createdb ${name} failed: ${r.out}`);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      const r = run([join(PG_BIN, "pg_ctl"), "-D", data, "-m", "fast", "-w", "-t", "60", "stop"]);
      if (r.code !== 0) throw new Error(`pg_ctl stop failed: ${r.out}`);
    },
    start,
    async destroy() {
      run([join(PG_BIN, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
