/**
 * Two agents on one machine (compiled binary): a second agent on the same DATA_DIR, the same HTTP port
 * or the same SIP port refuses to start with a message naming the variable, and the first one's live
 * call stays live in calls.db (the second never ran restart recovery on it).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freeTcpPort, freeUdpPort, freeUdpPortRange } from "../support/ports.ts";
import { spawnManaged } from "../support/process.ts";
import { udpExchange, parseSipStatusLine } from "../support/udp.ts";
import { BINARY, startAgent, waitFor, type RunningAgent } from "./agent.ts";

const started: RunningAgent[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(started.map((a) => a.stop().catch(() => null)));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
}, 30_000);

function invite(port: number, local: number, callId: string): string {
  const sdp = "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
  return [
    `INVITE sip:agent@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK-${callId};rport`,
    "Max-Forwards: 70",
    "From: <sip:first@127.0.0.1>;tag=f1",
    `To: <sip:agent@127.0.0.1:${port}>`,
    `Call-ID: ${callId}`,
    "CSeq: 1 INVITE",
    `Contact: <sip:first@127.0.0.1:${local}>`,
    "Content-Type: application/sdp",
    `Content-Length: ${sdp.length}`,
    "",
    sdp,
  ].join("\r\n");
}

/** Runs a second binary with `env` over the defaults and returns its exit code and stderr. */
async function second(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const rtp = await freeUdpPortRange(10);
  const dataDir = mkdtempSync(join(tmpdir(), "va-e2e-second-"));
  dirs.push(dataDir);
  const p = spawnManaged([BINARY, "--mode", "inbound"], {
    name: "second voice-agent",
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: process.env.TMPDIR,
      SIP_HOST: "127.0.0.1",
      SIP_PORT: String(await freeUdpPort()),
      SERVER_PORT: String(await freeTcpPort()),
      RTP_PORT_START: String(rtp),
      RTP_PORT_END: String(rtp + 9),
      DATA_DIR: dataDir,
      ...env,
    },
  });
  const code = await Promise.race([p.exited, Bun.sleep(30_000).then(() => "hung" as const)]);
  if (code === "hung") {
    await p.stop({ signal: "SIGKILL" });
    throw new Error(`the second agent did not exit:\n${p.stdout()}\n${p.stderr()}`);
  }
  return { code, stderr: p.stderr() };
}

describe("one agent per DATA_DIR, SIP port and HTTP port", () => {
  test("a second agent refuses to start; the first one's live call stays live", async () => {
    const first = await startAgent({ ANSWER_DELAY_MS: "60000", DRAIN_TIMEOUT_S: "0" }); // the call rings (live) for a minute
    started.push(first);
    const callId = `live-${Date.now()}@127.0.0.1`;
    const r = await udpExchange({ target: { port: first.sipPort }, payload: invite(first.sipPort, 5999, callId), timeoutMs: 3000, expectCount: 2 });
    expect(r.replies.map((x) => parseSipStatusLine(x.text)?.code)).toContain(180);
    const db = new Database(join(first.dataDir, "calls.db"), { readonly: true });
    const state = () => (db.query("SELECT state FROM calls WHERE sip_call_id = ?").get(callId) as { state: string } | null)?.state;
    await waitFor(() => state() === "ringing", 5000, "the live call's row");

    const sameDir = await second({ DATA_DIR: first.dataDir });
    expect(sameDir.code).toBe(2);
    expect(sameDir.stderr).toContain(`voice-agent: configuration error: DATA_DIR: ${first.dataDir} is in use by another voice-agent (pid `);
    expect(sameDir.stderr).toContain(`sip udp:127.0.0.1:${first.sipPort}`);

    const sameHttp = await second({ SERVER_PORT: String(first.httpPort) });
    expect(sameHttp.code).toBe(1);
    expect(sameHttp.stderr).toContain(`SERVER_PORT: cannot listen on 127.0.0.1:${first.httpPort}`);

    const sameSip = await second({ SIP_PORT: String(first.sipPort) });
    expect(sameSip.code).toBe(1);
    expect(sameSip.stderr).toContain(`SIP_PORT: cannot bind udp 127.0.0.1:${first.sipPort}`);

    expect(state()).toBe("ringing"); // not marked ended by anyone's restart recovery
    const health = await first.get("/");
    expect(health.status).toBe("ok");
    expect(health.activeCalls).toBe(1);
    db.close();
  }, 120_000);
});
