/**
 * The transport a Contact names (RFC 3263 §4.1: "If the URI specifies a transport protocol in the
 * transport parameter, that transport protocol SHOULD be used"), on the compiled agent with two SIPp
 * peers: a caller over UDP whose Contact says `;transport=tcp` on another port, and a SIPp listening
 * there over TCP only. With no connection open to that Contact, the agent's BYE must open one: over UDP
 * it would reach no one (the start-of-session agent sent it over UDP).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { freeTcpPort } from "../support/ports.ts";
import { missingTools } from "../support/process.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const missing = missingTools(["sipp"]);
let agent: RunningAgent;

beforeAll(async () => {
  // No RTP comes from the caller: the agent ends the call with BYE after RTP_TIMEOUT_S.
  if (missing.length === 0) agent = await startAgent({ RTP_TIMEOUT_S: "2" });
}, 120_000);

afterAll(async () => {
  await agent?.stop();
});

test.skipIf(missing.length > 0)("a Contact with ;transport=tcp gets the agent's BYE over a new TCP connection", async () => {
  const tcpPort = await freeTcpPort();
  const target = `127.0.0.1:${agent.sipPort}`;
  const listener = runSipp({ scenario: "tcp-bye-uas", target, localPort: tcpPort, extraArgs: ["-t", "t1"], timeoutMs: 40_000 });
  // Give the TCP SIPp a moment to listen before the call can end.
  await Bun.sleep(500);
  const caller = await runSipp({ scenario: "tcp-contact-caller", target, keys: { tcp_port: String(tcpPort) }, timeoutMs: 20_000 });
  expect(caller.exitCode, describeSipp(caller)).toBe(0);
  const bye = await listener;
  expect(bye.exitCode, describeSipp(bye)).toBe(0);
  const received = bye.messages.find((m) => m.direction === "received" && m.method === "BYE");
  expect(received?.text).toMatch(/^Via: SIP\/2\.0\/TCP /m);
  await waitFor(async () => (await agent.get("/calls")).recent?.[0]?.endReason === "rtp_timeout" || undefined, 10_000, "the call recorded as ended");
}, 60_000);
