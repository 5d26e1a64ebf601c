/**
 * Logging never blocks the media path (compiled agent): stdout is a pipe nobody reads, the agent is
 * made to log thousands of ~3 KB lines (stray SIP responses at debug level, no rate limit), and a call placed
 * afterwards is still served end to end. The lines that did not fit are dropped and counted
 * (`voice_agent_log_lines_lost_total{outcome="dropped"}`), never waited for.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, constants, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeTcpPort, freeUdpPort, freeUdpPortRange } from "../support/ports.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { BINARY, ensureBinary, waitFor } from "./agent.ts";

let agent: Bun.Subprocess | undefined;
const fds: number[] = [];
const dataDir = mkdtempSync(join(tmpdir(), "va-e2e-logbp-"));
afterAll(async () => {
  agent?.kill("SIGKILL");
  await agent?.exited;
  for (const fd of fds) closeSync(fd);
  rmSync(dataDir, { recursive: true, force: true });
});

describe.skipIf(!Bun.which("sipp"))("log back-pressure", () => {
  test("stdout never read: thousands of 3 KB log lines later a call is still answered and completed; overflow dropped and counted", async () => {
    await ensureBinary();
    const sipPort = await freeUdpPort();
    const httpPort = await freeTcpPort();
    const rtp = await freeUdpPortRange(10);
    // stdout is a FIFO whose read end is open here and never read: its 64 KB fill and stay full.
    const fifo = join(dataDir, "stdout.fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    fds.push(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK));
    const writeEnd = openSync(fifo, constants.O_WRONLY);
    fds.push(writeEnd);
    agent = Bun.spawn([BINARY, "--mode", "inbound"], {
      stdout: writeEnd,
      stderr: "ignore",
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: process.env.TMPDIR,
        SIP_HOST: "127.0.0.1",
        SIP_PORT: String(sipPort),
        SERVER_PORT: String(httpPort),
        RTP_PORT_START: String(rtp),
        RTP_PORT_END: String(rtp + 9),
        DATA_DIR: dataDir,
        LOG_LEVEL: "debug",
        LOG_RATE_LIMIT: "0",
        SIP_RATE_LIMIT: "0",
      },
    });
    const base = `http://127.0.0.1:${httpPort}`;
    await waitFor(async () => (await fetch(`${base}/`).catch(() => null))?.ok, 30_000, "the agent's HTTP API");

    // Stray responses: each one is a debug line "sip stray response dropped" carrying its ~3 KB Call-ID.
    const pad = "x".repeat(3000);
    const sock = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    const stray = (i: number) =>
      new TextEncoder().encode(
        `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:${sipPort};branch=z9hG4bK-stray${i}\r\nFrom: <sip:a@127.0.0.1>;tag=a${i}\r\nTo: <sip:b@127.0.0.1>;tag=b${i}\r\nCall-ID: stray-${i}-${pad}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
      );
    const lost = async () => Number(/voice_agent_log_lines_lost_total\{outcome="dropped"\} (\d+)/.exec(await (await fetch(`${base}/metrics`)).text())?.[1] ?? 0);
    // The pipe (64 KB) and then the logger's buffer (LOG_BUFFER_MAX_BYTES, 4 MB: ~1,400 of these lines)
    // must fill before a line is dropped. On a busy machine the kernel drops part of the strays at the
    // agent's socket (and its receive queue sheds more), so strays are sent in rounds of 3,000 until the
    // agent reports dropped lines, up to 10 rounds (about 9 MB of lines if all arrived).
    let sent = 0;
    for (let round = 0; round < 10 && (await lost()) === 0; round++) {
      for (let i = 0; i < 3000; i++, sent++) {
        sock.send(stray(sent), sipPort, "127.0.0.1");
        if (i % 20 === 19) await Bun.sleep(2); // let the agent keep up (the kernel drops beyond the socket buffer)
      }
      await waitFor(async () => (await lost()) > 0, 2_000, "log lines to be dropped").catch(() => false);
    }
    sock.close();
    await waitFor(async () => (await lost()) > 0, 20_000, `log lines to be dropped (the pipe is full) after ${sent} strays`);

    const r = await runSipp({ scenario: "inbound-call", target: `127.0.0.1:${sipPort}`, audioFile: silenceFile(2), pauseMs: 2500, timeoutMs: 20_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const recent = async () => ((await (await fetch(`${base}/calls`)).json()) as { recent: any[] }).recent;
    await waitFor(async () => (await recent()).length === 1, 10_000, "the call record");
    const call = (await recent())[0];
    expect(call).toMatchObject({ state: "ended", endReason: "remote_bye" });
    expect(call.turns[0]?.speaker).toBe("agent"); // the greeting was played: the media path ran
    expect(agent.exitCode).toBeNull(); // still running
  }, 120_000);
});
