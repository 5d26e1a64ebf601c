/**
 * The built-in caller (`voice-agent call`) against an agent on its default bind address (SIP_HOST 0.0.0.0),
 * both the compiled binary: the agent's SDP names this host's first network address while its RTP to a
 * caller on 127.0.0.1 leaves from 127.0.0.1. The caller used to drop all of it as from a wrong source (it
 * heard nothing; the README told users to start the agent with SIP_HOST=127.0.0.1).
 */
import { afterAll, expect, test } from "bun:test";
import { detectLocalIp } from "../../src/cli/config-sip";
import { silenceHint } from "../../src/cli/caller";
import { BINARY, startAgent, type RunningAgent } from "../e2e/agent";
import { missingTools } from "../support/process";

let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
}, 30_000);

// Without a non-loopback address the agent advertises 127.0.0.1 and there is nothing to prove.
const noLanAddress = detectLocalIp() === "127.0.0.1";

test.skipIf(noLanAddress || missingTools(["pocketsphinx_continuous"]).length > 0)(
  "a default agent (bound to 0.0.0.0, SDP naming this host's network address) is heard by the caller on 127.0.0.1",
  async () => {
    agent = await startAgent({ SIP_HOST: "0.0.0.0" });
    const p = Bun.spawn([BINARY, "call", `sip:agent@127.0.0.1:${agent.sipPort}`, "--json", "--reply-timeout", "15000"], { stdout: "pipe", stderr: "pipe" });
    const [code, out] = await Promise.all([p.exited, new Response(p.stdout).text()]);
    const result = JSON.parse(out.slice(out.indexOf("\n{") + 1));
    expect(code, out).toBe(0);
    expect(result.answered).toBe(true);
    expect(result.heardAgentMs, "the greeting heard").toBeGreaterThan(500);
    expect(agent.logs().find((l) => l.msg === "call answered")).toBeDefined();
  },
  60_000,
);

test("when nothing is heard, the caller says why and what to set", () => {
  expect(silenceHint(120, 0)).toContain("SIP_PUBLIC_IP");
  expect(silenceHint(0, 0)).toContain("no RTP from the agent");
  expect(silenceHint(0, 40)).toBe("heard only silence from the agent so far");
});
