import { afterEach, describe, expect, test } from "bun:test";
import { isUnreachableError, unprovenMediaAddress } from "../../src/rtp/media-consent.ts";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { RtpPortPool } from "../../src/rtp/port-pool.ts";
import { RtpSession } from "../../src/rtp/session.ts";
import { freeUdpPort } from "../support/ports.ts";
import { waitFor } from "./helpers.ts";

const pool = new RtpPortPool(27000, 27099, "127.0.0.1");
const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

describe("rule 1: which media addresses are unproven", () => {
  const table: Array<[string, { address: string; port: number }, string | undefined, boolean]> = [
    ["the signalling source itself", { address: "127.0.0.1", port: 40000 }, "127.0.0.1", false],
    ["a third party", { address: "127.0.0.9", port: 40000 }, "127.0.0.1", true],
    ["IPv4-mapped form of the signalling source", { address: "::ffff:127.0.0.1", port: 40000 }, "127.0.0.1", false],
    ["no signalling address known", { address: "127.0.0.9", port: 40000 }, undefined, false],
    ["hold address 0.0.0.0 (nothing is sent)", { address: "0.0.0.0", port: 40000 }, "127.0.0.1", false],
    ["port 0 (nothing is sent)", { address: "127.0.0.9", port: 0 }, "127.0.0.1", false],
  ];
  for (const [name, remote, signalling, unproven] of table) test(name, () => expect(unprovenMediaAddress(remote, signalling)).toBe(unproven));
});

test("rule 2's test: ICMP unreachable codes, from the socket's code or the media worker's message", () => {
  const coded = (code: string) => Object.assign(new Error(`${code}: connection refused, recv`), { code });
  expect(isUnreachableError(coded("ECONNREFUSED"))).toBe(true);
  expect(isUnreachableError(coded("EHOSTUNREACH"))).toBe(true);
  expect(isUnreachableError(coded("ENETUNREACH"))).toBe(true);
  expect(isUnreachableError(coded("ENOBUFS"))).toBe(false);
  expect(isUnreachableError(new Error("ECONNREFUSED: connection refused, recv"))).toBe(true);
  expect(isUnreachableError(undefined)).toBe(false);
});

describe("rule 2 on real sockets: ICMP port unreachable before the far end's first packet", () => {
  async function session(remote: string, signalling: string) {
    const port = await freeUdpPort(); // closed: the kernel answers our packets with port unreachable
    const lease = await pool.allocate();
    const s = new RtpSession({ lease, remote: { address: remote, port }, signallingAddress: signalling, codec: "PCMU", payloadType: 0 });
    cleanup.push(() => s.close());
    const frame = new Uint8Array(160).fill(0xff);
    const timer = setInterval(() => s.sendFrame(frame, false), 20);
    cleanup.push(() => clearInterval(timer));
    return { s, port, lease };
  }

  test("to a third party: sending stops at the first unreachable; the first packet from there resumes it", async () => {
    const { s, port, lease } = await session("127.0.0.9", "127.0.0.1");
    await waitFor(() => s.mutedUnreachable, 3000);
    const sent = s.stats.packetsOut;
    expect(sent).toBeLessThan(10);
    await Bun.sleep(200);
    expect(s.stats.packetsOut).toBe(sent); // ~10 frames offered meanwhile, none sent
    // The far end speaks from the SDP address: latched, sending resumes towards it.
    const got: number[] = [];
    const far = await Bun.udpSocket({ hostname: "127.0.0.9", port, socket: { data: () => void got.push(1) } });
    cleanup.push(() => far.close());
    far.send(serializeRtp({ marker: true, payloadType: 0, sequenceNumber: 1, timestamp: 160, ssrc: 5, payload: new Uint8Array(160) }), lease.port, "127.0.0.1");
    await waitFor(() => got.length >= 3, 3000);
    expect(s.mutedUnreachable).toBe(false);
  });

  test("a re-INVITE moving an established call to a third party: rule 2 again, from the move (s17)", async () => {
    // The call starts on the signalling source, which sends (proven); then the SDP names 127.0.0.9's closed port.
    const lease = await pool.allocate();
    const ownPort = await freeUdpPort();
    const own = await Bun.udpSocket({ hostname: "127.0.0.1", port: ownPort, socket: { data: () => {} } });
    cleanup.push(() => own.close());
    const s = new RtpSession({ lease, remote: { address: "127.0.0.1", port: ownPort }, signallingAddress: "127.0.0.1", codec: "PCMU", payloadType: 0 });
    cleanup.push(() => s.close());
    own.send(serializeRtp({ marker: true, payloadType: 0, sequenceNumber: 1, timestamp: 160, ssrc: 5, payload: new Uint8Array(160) }), lease.port, "127.0.0.1");
    await waitFor(() => s.stats.packetsIn >= 1, 3000);
    const frame = new Uint8Array(160).fill(0xff);
    const timer = setInterval(() => s.sendFrame(frame, false), 20);
    cleanup.push(() => clearInterval(timer));
    s.update({ address: "127.0.0.9", port: await freeUdpPort() }, "sendrecv");
    await waitFor(() => s.mutedUnreachable, 3000);
    const sent = s.stats.packetsOut;
    await Bun.sleep(200);
    expect(s.stats.packetsOut).toBe(sent);
    // Moved back to the signalling source: sending resumes, and its ICMP never stops it.
    s.update({ address: "127.0.0.1", port: ownPort }, "sendrecv");
    expect(s.mutedUnreachable).toBe(false);
    await Bun.sleep(100);
    expect(s.stats.packetsOut).toBeGreaterThan(sent);
  });

  test("to the signalling source's own address: never stopped (the old rule, RTP_TIMEOUT_S only)", async () => {
    const { s } = await session("127.0.0.1", "127.0.0.1");
    await waitFor(() => s.stats.socketErrors >= 2, 3000);
    expect(s.mutedUnreachable).toBe(false);
    const sent = s.stats.packetsOut;
    await Bun.sleep(200);
    expect(s.stats.packetsOut).toBeGreaterThan(sent);
  });
});
