/**
 * The appliance's numbers: compiled binary size, time from exec to answering a SIP OPTIONS, and idle
 * memory (RSS) after start-up. Runs dist/voice-agent (built first if missing) on free loopback ports.
 * Idle RSS is measured three ways, the runs alternated: offline (flite is the TTS), and with cloud keys
 * (nothing is contacted while idle) with the flite fallback warmed in the background (FLITE_FALLBACK_WARM,
 * default) or left cold until the first fallback.
 *
 *   bun run scripts/bench-appliance.ts [--runs N]
 */
import { statSync, existsSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeTcpPort, freeUdpPort, freeUdpPortRange } from "../tests/support/ports.ts";
import { optionsRequest } from "../tests/support/sip-options.ts";

const BIN = "dist/voice-agent";
const runs = Number(process.argv[process.argv.indexOf("--runs") + 1] || 5) || 5;



/** Cloud keys pointing at a closed port: the agent runs its cloud pipeline's start-up, and no call comes. */
const CLOUD = {
  DEEPGRAM_API_KEY: "k",
  DEEPGRAM_BASE_URL: "ws://127.0.0.1:9",
  GEMINI_API_KEY: "k",
  GEMINI_BASE_URL: "http://127.0.0.1:9",
  CARTESIA_API_KEY: "k",
  CARTESIA_VOICE_ID: "v",
  CARTESIA_BASE_URL: "ws://127.0.0.1:9",
};
/** Idle time before RSS is read, ms: past the background fallback warm-up (1.5–3.6 s on a busy core). */
const IDLE_MS = 6000;

async function once(n: number, extraEnv: Record<string, string> = {}): Promise<{ optionsMs: number; rssMiB: number }> {
  const sipPort = await freeUdpPort();
  const httpPort = await freeTcpPort();
  const rtpStart = await freeUdpPortRange(100);
  const data = mkdtempSync(join(tmpdir(), "va-bench-"));
  let answered = false;
  let resolveAnswer!: () => void;
  const got = new Promise<void>((r) => (resolveAnswer = r));
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(_s, buf) {
        if (new TextDecoder().decode(buf).startsWith("SIP/2.0 200")) {
          answered = true;
          resolveAnswer();
        }
      },
      // ICMP port unreachable comes back as ECONNREFUSED while the agent has not bound its port yet:
      // that is the wait being measured, not a failure. Anything else is worth a line.
      // Bun 1.4.5 passes the error as the first argument (its typings say the second): take either.
      error(...args: unknown[]) {
        const err = args.find((a) => a instanceof Error) as NodeJS.ErrnoException | undefined;
        if (err && err.code !== "ECONNREFUSED") console.error(`bench-appliance: socket error ${err.code ?? ""} ${err.message}`);
      },
    },
  });
  let sent = 0;
  const t0 = performance.now();
  const proc = Bun.spawn([BIN, "--mode", "inbound"], {
    env: {
      PATH: process.env.PATH,
      SIP_HOST: "127.0.0.1",
      SIP_PORT: String(sipPort),
      SERVER_PORT: String(httpPort),
      RTP_PORT_START: String(rtpStart),
      RTP_PORT_END: String(rtpStart + 99),
      DATA_DIR: data,
      LOG_LEVEL: "warn",
      ...extraEnv,
    },
    stdout: "ignore",
    stderr: "pipe",
  });
  while (!answered && performance.now() - t0 < 20_000) {
    sock.send(optionsRequest(sipPort, sock.port, `bench${n}`, ++sent), sipPort, "127.0.0.1");
    await Promise.race([got, Bun.sleep(5)]);
  }
  const optionsMs = performance.now() - t0;
  await Bun.sleep(IDLE_MS); // idle
  if (proc.exitCode !== null || proc.signalCode !== null) {
    const err = await new Response(proc.stderr).text();
    throw new Error(`the agent exited (${proc.exitCode ?? proc.signalCode}) while idle: ${err.slice(-1500)}`);
  }
  const status = readFileSync(`/proc/${proc.pid}/status`, "utf8");
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  proc.kill("SIGTERM");
  await proc.exited;
  sock.close();
  rmSync(data, { recursive: true, force: true });
  if (!answered) throw new Error("no 200 OK to OPTIONS within 20 s");
  return { optionsMs, rssMiB: rssKiB / 1024 };
}

if (!existsSync(BIN)) {
  const b = Bun.spawnSync(["bun", "run", "build"], { stdout: "inherit", stderr: "inherit" });
  if (b.exitCode !== 0) process.exit(1);
}
const results = [];
const warm: number[] = [];
const cold: number[] = [];
for (let i = 0; i < runs; i++) {
  results.push(await once(i));
  warm.push((await once(i, CLOUD)).rssMiB);
  cold.push((await once(i, { ...CLOUD, FLITE_FALLBACK_WARM: "false" })).rssMiB);
}
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const q = (xs: number[], p: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const ms = results.map((r) => r.optionsMs);
const rss = results.map((r) => r.rssMiB);
console.log(`\nappliance (${runs} runs, loopback)`);
console.log("| metric | value |");
console.log("|---|---|");
console.log(`| binary size | ${(statSync(BIN).size / 1048576).toFixed(1)} MiB (${statSync(BIN).size} B) |`);
console.log(`| exec → 200 OK to OPTIONS, p50 / max | ${q(ms, 0.5).toFixed(0)} ms / ${Math.max(...ms).toFixed(0)} ms |`);
console.log(`| idle RSS after start, p50 / max | ${q(rss, 0.5).toFixed(1)} MiB / ${Math.max(...rss).toFixed(1)} MiB |`);
console.log(`| idle RSS, cloud keys, flite fallback warm (default), p50 / max | ${q(warm, 0.5).toFixed(1)} MiB / ${Math.max(...warm).toFixed(1)} MiB |`);
console.log(`| idle RSS, cloud keys, FLITE_FALLBACK_WARM=false, p50 / max | ${q(cold, 0.5).toFixed(1)} MiB / ${Math.max(...cold).toFixed(1)} MiB |`);
