/**
 * No file descriptor left (s19 fresheyes finding; README "On a public address", the HTTP API paragraph): idle
 * HTTP connections, which the agent does not cap, can take every descriptor the process may open; a new call's
 * RTP port then cannot be bound (EMFILE). That INVITE got 500 Server Internal Error; it now gets 503 with
 * `Retry-After: 5` (RFC 3261 §21.5.4: temporary overload), so a trunk or balancer tries again or elsewhere, and
 * once the connections close the next INVITE is answered. On the compiled agent under `ulimit -n 256`.
 * `VOICE_AGENT_E2E_BINARY=/path bun test …` runs it against another binary (the before/after).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BINARY, ensureBinary, startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { sipRequest, type Udp } from "./attack-support.ts";

let agent: RunningAgent | undefined;
const sockets: Udp[] = [];
const held: { end(): void }[] = [];
afterAll(async () => {
  for (const c of held) c.end();
  for (const s of sockets) s.close();
  await agent?.stop();
}, 30_000);

describe("an INVITE while idle HTTP connections hold every file descriptor (compiled binary, loopback)", () => {
  test("503 + Retry-After: 5, not 500; answered again once the connections close", async () => {
    const binary = resolve(process.env.VOICE_AGENT_E2E_BINARY ?? BINARY);
    if (!process.env.VOICE_AGENT_E2E_BINARY) await ensureBinary();
    const dir = mkdtempSync(join(tmpdir(), "va-e2e-fd-"));
    const wrapper = join(dir, "limited.sh");
    writeFileSync(wrapper, `#!/bin/sh\nulimit -n 256\nexec "${binary}" "$@"\n`);
    chmodSync(wrapper, 0o755);
    // DRAIN_TIMEOUT_S 0: the calls this test leaves unconfirmed would hold the agent's stop at the end (SIGTERM
    // lets live calls go on for the drain, 30 s by default) for its whole 8 s grace; the drain is not tested here.
    agent = await startAgent({ IDLE_PROMPT_S: "3600", DRAIN_TIMEOUT_S: "0" }, ["--mode", "inbound"], { binary: wrapper });
    const to = { host: "127.0.0.1", port: agent.sipPort };
    const sip: string[] = [];
    const sock = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void sip.push(Buffer.from(d).toString()) } });
    sockets.push(sock);
    const from = { host: "127.0.0.1", port: sock.port };
    const finalFor = (callId: string) =>
      waitFor(() => sip.find((m) => /^SIP\/2\.0 [2-6]\d\d /.test(m) && m.includes(callId)), 10_000, `the final answer for ${callId}`);

    // 300 connections that send half a request and wait (Bun closes such a one after ~10 s).
    let opened = 0;
    for (let i = 0; i < 300; i++) {
      try {
        const c = await Bun.connect({ hostname: "127.0.0.1", port: agent.httpPort, socket: { data() {}, error() {} } });
        c.write("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        held.push(c);
        opened++;
      } catch {
        break;
      }
    }
    await Bun.sleep(300);
    sock.send(sipRequest("INVITE", { to, from, callId: "fd-1@127.0.0.1" }), to.port, to.host);
    const refused = await finalFor("fd-1@127.0.0.1");
    for (const c of held.splice(0)) c.end();
    console.log(`fd-exhaustion: ${opened} idle HTTP connections; INVITE → ${refused.split("\r\n")[0]}`);
    expect(refused).toMatch(/^SIP\/2\.0 503 /);
    expect(refused).toMatch(/^Retry-After:\s*5\s*$/m);
    await Bun.sleep(500);
    sock.send(sipRequest("INVITE", { to, from, callId: "fd-2@127.0.0.1" }), to.port, to.host);
    expect(await finalFor("fd-2@127.0.0.1")).toMatch(/^SIP\/2\.0 200 /);
  }, 60_000);
});
