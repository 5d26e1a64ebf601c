/**
 * A request whose next hop is `sips:` or says `;transport=tls` (RFC 3261 §26.2.2, RFC 3263 §4.1) with no
 * open TLS connection: it goes over a new TLS connection or not at all, never over UDP (session 19's
 * carrier engineer: the agent's BYE to such a Contact went out as a plain datagram). Real sockets on
 * 127.0.0.1; the peer listens on UDP on the same port number to catch a downgrade.
 */
import { afterEach, expect, test } from "bun:test";
import { parseMessage, type SipRequest } from "../../src/sip/message/index.ts";
import type { SipLogger } from "../../src/sip/log.ts";
import { MultiTransport, StreamTransport, UdpTransport } from "../../src/sip/transport/index.ts";
import { missingTools } from "../support/process.ts";
import { freeTcpPort } from "../support/ports.ts";
import { selfSignedCertificate } from "../support/tls-cert.ts";

const cleanup: Array<() => void> = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

function recorder() {
  const errors: string[] = [];
  const log: SipLogger = { debug() {}, info() {}, warn() {}, error: (_f, msg) => void errors.push(msg) };
  return { log, errors };
}

/** A UDP socket on `port` that records every datagram (a downgraded request would land here). */
async function udpPeer(port: number) {
  const got: string[] = [];
  const u = await Bun.udpSocket({ hostname: "127.0.0.1", port, socket: { data: (_s, d) => void got.push(new TextDecoder().decode(d)) } });
  cleanup.push(() => u.close());
  return got;
}

const bye = (uri: string, route?: string) =>
  parseMessage(
    [
      `BYE ${uri} SIP/2.0`,
      "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKtlsbye",
      ...(route ? [`Route: ${route}`] : []),
      "Max-Forwards: 70",
      "From: <sip:agent@127.0.0.1>;tag=a",
      "To: <sip:peer@127.0.0.1>;tag=b",
      "Call-ID: tls-nexthop@127.0.0.1",
      "CSeq: 2 BYE",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n"),
  ) as SipRequest;

test("no TLS transport: a sips: or transport=tls next hop gets nothing over UDP, an error is logged (was: the BYE as a datagram)", async () => {
  const { log, errors } = recorder();
  const udp = await UdpTransport.bind({ host: "127.0.0.1", port: 0 });
  const tcp = await StreamTransport.listen({ host: "127.0.0.1", port: udp.local.port });
  const multi = new MultiTransport(udp, [tcp], log);
  cleanup.push(() => multi.close());
  const port = await freeTcpPort();
  const got = await udpPeer(port);
  multi.send(bye(`sip:peer@127.0.0.1:${port};transport=tls`), { host: "127.0.0.1", port });
  multi.send(bye(`sips:peer@127.0.0.1:${port}`), { host: "127.0.0.1", port });
  multi.send(bye(`sip:peer@127.0.0.1:${port}`, `<sip:127.0.0.1:${port};transport=tls;lr>`), { host: "127.0.0.1", port });
  const plain = bye(`sip:peer@127.0.0.1:${port}`);
  multi.send(plain, { host: "127.0.0.1", port }); // the control: a plain sip: next hop still goes over UDP
  await Bun.sleep(300);
  expect(got).toHaveLength(1);
  expect(got[0]).toStartWith(`BYE sip:peer@127.0.0.1:${port} SIP/2.0`);
  expect(errors).toEqual(Array(3).fill("sip request not sent: its next hop requires TLS (sips: or transport=tls) and no TLS transport is configured; not downgraded to udp"));
});

test.skipIf(missingTools(["openssl"]).length > 0)("with a TLS transport: a peer whose certificate does not verify gets nothing, over TLS or UDP; an error is logged", async () => {
  const cert = selfSignedCertificate("va-tls-nexthop-");
  cleanup.push(() => cert.remove());
  const { log, errors } = recorder();
  const udp = await UdpTransport.bind({ host: "127.0.0.1", port: 0 });
  const tls = await StreamTransport.listen({ host: "127.0.0.1", port: await freeTcpPort(), tls: { certFile: cert.certFile, keyFile: cert.keyFile }, log });
  const multi = new MultiTransport(udp, [tls], log);
  cleanup.push(() => multi.close());
  // The peer: a TLS listener with a self-signed certificate this process does not trust, UDP on the same port.
  let overTls = "";
  const peer = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: await Bun.file(cert.certFile).text(), key: await Bun.file(cert.keyFile).text() },
    socket: { data: (_s, d) => void (overTls += new TextDecoder().decode(d)) },
  });
  cleanup.push(() => peer.stop(true));
  const got = await udpPeer(peer.port);
  multi.send(bye(`sip:peer@127.0.0.1:${peer.port};transport=tls`), { host: "127.0.0.1", port: peer.port });
  const end = Date.now() + 6000;
  while (errors.length === 0 && Date.now() < end) await Bun.sleep(20);
  expect(errors).toEqual(["sip request not sent: the TLS connection to its next hop failed; not downgraded to udp"]);
  expect(overTls).toBe("");
  expect(got).toHaveLength(0);
});
