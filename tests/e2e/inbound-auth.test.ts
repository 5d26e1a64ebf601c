/**
 * Inbound digest authentication against a real peer (issue 10): the compiled agent with
 * SIP_INBOUND_USERNAME/SIP_INBOUND_PASSWORD; SIPp plays a PBX that answers the 401. SIPp 3.6 speaks MD5
 * only and answers only the first challenge ("createAuthHeader: authentication must use MD5" on a first
 * SHA-256 one), so this PBX-style deployment sets SIP_INBOUND_DIGEST_ALGORITHMS=MD5,SHA-256. A call
 * with a wrong password never becomes a call: 401 again, nothing recorded.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { missingTools } from "../support/process.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { synthesizeCallerAudio } from "../support/speech.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const missing = missingTools(["sipp", "flite"]);
let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
});

describe.skipIf(missing.length > 0)("inbound digest authentication (compiled binary, SIPp PBX)", () => {
  test("right credentials: 401, then the authenticated INVITE is answered; wrong password: 401 again, no call", async () => {
    agent = await startAgent({
      SIP_INBOUND_USERNAME: "pbx-7",
      SIP_INBOUND_PASSWORD: "s3cret pass",
      SIP_INBOUND_REALM: "agent.test",
      SIP_INBOUND_DIGEST_ALGORITHMS: "MD5,SHA-256",
    });
    const audio = await synthesizeCallerAudio([{ silenceMs: 2000 }], { leadSilenceMs: 0, trailSilenceMs: 0 });
    const call = (password: string, timeoutMs = 20_000) =>
      runSipp({
        scenario: "inbound-auth",
        target: `127.0.0.1:${agent!.sipPort}`,
        audioFile: audio.path,
        pauseMs: 2000,
        timeoutMs,
        extraArgs: ["-au", "pbx-7", "-ap", password],
      });
    const ok = await call("s3cret pass");
    expect(ok.exitCode, describeSipp(ok)).toBe(0);
    const challenge = ok.messages.find((m) => m.direction === "received" && m.text.startsWith("SIP/2.0 401"));
    expect(challenge?.text).toMatch(/WWW-Authenticate: Digest realm="agent.test", nonce="[^"]+", algorithm=SHA-256, qop="auth"/);
    expect(challenge?.text).toMatch(/WWW-Authenticate: Digest realm="agent.test", nonce="[^"]+", algorithm=MD5, qop="auth"/);
    expect(ok.messages.some((m) => m.direction === "received" && m.text.startsWith("SIP/2.0 100") && /CSeq: 1 INVITE/.test(m.text))).toBe(false); // no 100 before the challenge
    const sent = ok.messages.filter((m) => m.direction === "sent" && m.text.startsWith("INVITE"));
    expect(sent.at(-1)?.text).toMatch(/Authorization: Digest .*algorithm=MD5/i);
    await waitFor(async () => (await agent!.get("/calls")).recent.length === 1, 10_000, "the call record");

    const bad = await call("wrong", 6000); // SIPp keeps retransmitting against the second 401: cut it short
    expect(bad.exitCode).not.toBe(0);
    expect(bad.messages.filter((m) => m.direction === "received" && m.text.startsWith("SIP/2.0 401")).length).toBeGreaterThanOrEqual(2);
    expect(bad.messages.some((m) => m.direction === "received" && m.text.startsWith("SIP/2.0 200"))).toBe(false);
    expect((await agent.get("/calls")).recent.length).toBe(1); // the refused one left no record
  }, 60_000);
});
