/**
 * A Contact that says `;transport=tls` with no TLS connection open (RFC 3263 §4.1, RFC 3261 §26.2.2), on
 * the compiled agent: its BYE goes over a new TLS connection when the agent has SIP_TLS_PORT (the peer's
 * certificate trusted through NODE_EXTRA_CA_CERTS), and is not sent at all when it has none — never over
 * UDP, which would carry the dialog in clear text (the start-of-session agent sent it over UDP). The
 * peer listens on both TLS and UDP on the Contact's port to see which one the BYE takes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { freeTcpPort } from "../support/ports.ts";
import { missingTools } from "../support/process.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { selfSignedCertificate, type TestCertificate } from "../support/tls-cert.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const missing = missingTools(["sipp", "openssl"]);
let plain: RunningAgent;
let secure: RunningAgent;
let cert: TestCertificate;

beforeAll(async () => {
  if (missing.length > 0) return;
  cert = selfSignedCertificate("va-tls-contact-");
  // No RTP comes from the caller: each agent ends its call with BYE after RTP_TIMEOUT_S.
  [plain, secure] = await Promise.all([
    startAgent({ RTP_TIMEOUT_S: "2" }),
    startAgent({
      RTP_TIMEOUT_S: "2",
      SIP_TLS_PORT: String(await freeTcpPort()),
      SIP_TLS_CERT_FILE: cert.certFile,
      SIP_TLS_KEY_FILE: cert.keyFile,
      NODE_EXTRA_CA_CERTS: cert.certFile,
    }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([plain?.stop(), secure?.stop()]);
  cert?.remove();
});

/** The Contact's port: a TLS listener (the test certificate) and a UDP socket on the same number. */
async function contactPeer() {
  const port = await freeTcpPort();
  let tls = "";
  const udp: string[] = [];
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port,
    tls: { cert: await Bun.file(cert.certFile).text(), key: await Bun.file(cert.keyFile).text() },
    socket: { data: (_s, d) => void (tls += new TextDecoder().decode(d)) },
  });
  const socket = await Bun.udpSocket({ hostname: "127.0.0.1", port, socket: { data: (_s, d) => void udp.push(new TextDecoder().decode(d)) } });
  return { port, tls: () => tls, udp, close: () => (listener.stop(true), socket.close()) };
}

async function callAndWaitForEnd(agent: RunningAgent, port: number) {
  const caller = await runSipp({ scenario: "tls-contact-caller", target: `127.0.0.1:${agent.sipPort}`, keys: { tls_port: String(port) }, timeoutMs: 20_000 });
  expect(caller.exitCode, describeSipp(caller)).toBe(0);
  await waitFor(async () => (await agent.get("/calls")).recent?.[0]?.endReason === "rtp_timeout" || undefined, 15_000, "the call recorded as ended");
}

test.skipIf(missing.length > 0)("no TLS transport: the BYE is not sent (an error logged), not downgraded to UDP", async () => {
  const peer = await contactPeer();
  try {
    await callAndWaitForEnd(plain, peer.port);
    await waitFor(() => plain.logs().some((l) => /no TLS transport is configured; not downgraded/.test(l.msg)) || undefined, 10_000, "the error logged");
    await Bun.sleep(1000); // a downgraded BYE, or its retransmission, would have landed by now
    expect(peer.udp).toEqual([]);
    expect(peer.tls()).toBe("");
  } finally {
    peer.close();
  }
}, 60_000);

test.skipIf(missing.length > 0)("with SIP_TLS_PORT: the BYE goes over a new TLS connection (Via TLS), nothing over UDP", async () => {
  const peer = await contactPeer();
  try {
    await callAndWaitForEnd(secure, peer.port);
    await waitFor(() => peer.tls().includes("\r\n\r\n") || undefined, 10_000, "the BYE over TLS");
    expect(peer.tls()).toMatch(/^BYE sip:caller@127\.0\.0\.1:\d+;transport=tls SIP\/2\.0\r\n/);
    expect(peer.tls()).toMatch(/^Via: SIP\/2\.0\/TLS /m);
    await Bun.sleep(1000);
    expect(peer.udp).toEqual([]);
    expect(peer.tls().match(/^BYE /gm)).toHaveLength(1); // no Timer E copies over TLS
  } finally {
    peer.close();
  }
}, 60_000);
