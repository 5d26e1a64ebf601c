/**
 * bench-udp: CPU µs per RTP packet of the send syscall paths Bun offers, at the agent's rate (issue 13:
 * native UDP send was 12 % of the call thread at 200 calls, session 19's profile).
 *
 * A sender process (pinned to `--cpu`, default 0) owns `--sockets` UDP sockets (default 200, one per
 * call) and sends one 172-byte packet (12-byte RTP header + 160 bytes of G.711) from each every 20 ms
 * (10,000 packets/s at 200), to a sink process's sockets (one per sender, on another core) on 127.0.0.1.
 * Modes, each in a fresh sender process:
 *   - `idle`:      the same 20 ms timer, nothing sent (the floor subtracted from the others);
 *   - `sendto`:    `socket.send(bytes, port, "127.0.0.1")` on an unconnected socket (what the agent does);
 *   - `connected`: `socket.send(bytes)` on a socket made with `Bun.udpSocket({ connect })`;
 *   - `sendMany`:  `socket.sendMany([bytes, port, address])` on an unconnected socket (one packet: a call
 *                  has one packet per 20 ms, there is nothing to batch within a socket);
 *   - `now`:       no send, `performance.now()` once per would-be packet (the receive path's clock read).
 * CPU time is the sender's own (process.cpuUsage, user + system) over `--seconds` after a 1 s warm-up;
 * per packet = (mode − idle) / packets. Modes alternate in order, `--repeat` rounds, a cpu0 core-speed
 * probe (tests/support/core-speed.ts) before each round.
 *
 *   bun run bench:udp [--sockets 200] [--seconds 6] [--repeat 3] [--modes idle,sendto,connected,sendMany,now]
 */
import { parseArgs } from "node:util";
import { coreSpeed } from "../tests/support/core-speed.ts";

const { values: opt } = parseArgs({
  options: {
    sockets: { type: "string", default: "200" },
    seconds: { type: "string", default: "6" },
    repeat: { type: "string", default: "3" },
    modes: { type: "string", default: "idle,sendto,connected,sendMany,now" },
    cpu: { type: "string", default: "0" },
    child: { type: "string" },
    sink: { type: "boolean", default: false },
    ports: { type: "string" },
  },
});

const N = Number(opt.sockets);
const HOST = "127.0.0.1";

if (opt.sink) {
  // The far ends: one socket per sender, counting.
  let got = 0;
  const ports: number[] = [];
  for (let i = 0; i < N; i++) {
    const s = await Bun.udpSocket({ hostname: HOST, port: 0, binaryType: "uint8array", socket: { data: () => void got++ } });
    ports.push(s.port);
  }
  console.log(JSON.stringify(ports));
  setInterval(() => console.error(`sink ${got}`), 5000).unref();
  await new Promise(() => {});
} else if (opt.child) {
  const mode = opt.child;
  const ports: number[] = JSON.parse(opt.ports!);
  const seconds = Number(opt.seconds);
  const packet = new Uint8Array(172);
  packet[0] = 0x80;
  const socks: Array<{ send: (...a: never[]) => boolean; sendMany: (p: never[]) => number }> = [];
  for (let i = 0; i < N; i++) {
    const socket = { data() {}, error() {} };
    socks.push(
      (mode === "connected"
        ? await Bun.udpSocket({ hostname: HOST, port: 0, binaryType: "uint8array", socket, connect: { hostname: HOST, port: ports[i]! } })
        : await Bun.udpSocket({ hostname: HOST, port: 0, binaryType: "uint8array", socket })) as never,
    );
  }
  const manyArgs = ports.map((p) => [packet, p, HOST]);
  let sent = 0;
  let sink = 0;
  const tick = (): void => {
    if (mode === "sendto") for (let i = 0; i < N; i++) (socks[i] as unknown as { send(d: Uint8Array, p: number, a: string): boolean }).send(packet, ports[i]!, HOST) && sent++;
    else if (mode === "connected") for (let i = 0; i < N; i++) (socks[i] as unknown as { send(d: Uint8Array): boolean }).send(packet) && sent++;
    else if (mode === "sendMany") for (let i = 0; i < N; i++) sent += (socks[i] as unknown as { sendMany(p: unknown[]): number }).sendMany(manyArgs[i]!);
    else if (mode === "now") for (let i = 0; i < N; i++) { sink += performance.now(); sent++; }
    else sent += N;
  };
  // Self-correcting 20 ms schedule, as the pacer does.
  let next = performance.now() + 20;
  let c0: NodeJS.CpuUsage | undefined;
  let sent0 = 0;
  const t0 = performance.now();
  const loop = (): void => {
    tick();
    const now = performance.now();
    if (!c0 && now - t0 >= 1000) {
      c0 = process.cpuUsage();
      sent0 = sent;
    }
    if (c0 && now - t0 >= 1000 + seconds * 1000) {
      const c = process.cpuUsage(c0);
      console.log(JSON.stringify({ mode, cpuUs: c.user + c.system, userUs: c.user, sysUs: c.system, packets: sent - sent0, sink }));
      process.exit(0);
    }
    next += 20;
    setTimeout(loop, Math.max(0, next - performance.now()));
  };
  setTimeout(loop, 20);
} else {
  const sinkCpu = opt.cpu === "0" ? "1" : "0";
  const sink = Bun.spawn(["taskset", "-c", sinkCpu, process.execPath, import.meta.path, "--sink", "--sockets", String(N)], { stdout: "pipe", stderr: "ignore" });
  const reader = sink.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
  const ports = text.trim();
  const modes = opt.modes!.split(",");
  const rows: Record<string, Array<{ cpuUs: number; packets: number }>> = {};
  try {
    for (let r = 0; r < Number(opt.repeat); r++) {
      const probe = coreSpeed(Number(opt.cpu));
      console.log(`round ${r + 1}: cpu${opt.cpu} speed compute ${probe.computeUs} µs, memory ${probe.memoryUs} µs`);
      const order = r % 2 === 0 ? modes : [...modes].reverse();
      for (const mode of order) {
        const p = Bun.spawnSync(["taskset", "-c", String(opt.cpu), process.execPath, import.meta.path, "--child", mode, "--ports", ports, "--sockets", String(N), "--seconds", String(opt.seconds)], { stdout: "pipe", stderr: "pipe" });
        if (p.exitCode !== 0) throw new Error(`${mode}: ${p.stderr.toString().slice(-400)}`);
        const row = JSON.parse(p.stdout.toString().trim().split("\n").pop()!);
        (rows[mode] ??= []).push(row);
        console.log(`  ${mode.padEnd(10)} cpu ${(row.cpuUs / 1000).toFixed(0).padStart(6)} ms (user ${(row.userUs / 1000).toFixed(0)}, sys ${(row.sysUs / 1000).toFixed(0)}) for ${row.packets} packets: ${(row.cpuUs / row.packets).toFixed(2)} µs/packet gross`);
      }
    }
  } finally {
    sink.kill();
  }
  const idle = rows.idle ?? [];
  const per = (v: { cpuUs: number; packets: number }, i: number): number => (v.cpuUs - (idle[i]?.cpuUs ?? 0)) / v.packets;
  console.log(`\nCPU µs per packet above idle (per round), ${N} sockets × 50 packets/s:`);
  for (const [mode, v] of Object.entries(rows)) {
    if (mode === "idle") continue;
    const each = v.map(per);
    const sorted = [...each].sort((a, b) => a - b);
    console.log(`  ${mode.padEnd(10)} ${each.map((x) => x.toFixed(2)).join("  ")}   median ${sorted[sorted.length >> 1]!.toFixed(2)}`);
  }
}
