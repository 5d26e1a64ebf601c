import { afterEach, expect, test } from "bun:test";
import { serializeRtp } from "../../src/rtp/packet.ts";
import { RtpPortPool } from "../../src/rtp/port-pool.ts";
import { RtpSession } from "../../src/rtp/session.ts";
import { allowedSources } from "../../src/rtp/symmetric-latch.ts";
import { freeUdpPort } from "../support/ports.ts";
import { waitFor } from "./helpers.ts";

// s15 finding 1: baresip on 127.0.0.1 called an agent that advertised 192.0.2.2; baresip sent its RTP
// to 192.0.2.2, so the kernel gave it source 192.0.2.2, and RTP_LATCH=signalled dropped all of it.
const pool = new RtpPortPool(27100, 27199, "127.0.0.1");
const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

test("the advertised address is allowed only when the signalling came from loopback", () => {
  expect(allowedSources("127.0.0.1", "192.0.2.2")).toEqual(["127.0.0.1", "192.0.2.2"]);
  expect(allowedSources("::ffff:127.0.0.1", "192.0.2.2")).toEqual(["::ffff:127.0.0.1", "192.0.2.2"]);
  expect(allowedSources("52.9.254.127", "192.0.2.2")).toEqual(["52.9.254.127"]); // a remote trunk: unchanged
  expect(allowedSources("127.0.0.1", "127.0.0.1")).toEqual(["127.0.0.1"]);
  expect(allowedSources("127.0.0.1", undefined)).toEqual(["127.0.0.1"]);
  expect(allowedSources(undefined, "192.0.2.2")).toEqual([]);
});

test("real sockets: a loopback caller's RTP that arrives from the advertised address is heard and latched; without it, dropped as before", async () => {
  // 127.0.0.5 stands for the machine's own advertised address (the caller's packets carry it as source).
  const callerPort = await freeUdpPort();
  const heard: number[] = [];
  const caller = await Bun.udpSocket({ hostname: "127.0.0.5", port: callerPort, socket: { data: () => void heard.push(1) } });
  cleanup.push(() => caller.close());
  const open = async (advertisedAddress?: string) => {
    const lease = await pool.allocate();
    const s = new RtpSession({ lease, remote: { address: "127.0.0.1", port: callerPort }, signallingAddress: "127.0.0.1", advertisedAddress, codec: "PCMU", payloadType: 0 });
    cleanup.push(() => s.close());
    for (let i = 0; i < 5; i++) caller.send(serializeRtp({ marker: i === 0, payloadType: 0, sequenceNumber: i, timestamp: i * 160, ssrc: 9, payload: new Uint8Array(160) }), lease.port, "127.0.0.1");
    return s;
  };
  const withRule = await open("127.0.0.5");
  await waitFor(() => withRule.packetsReceived === 5, 3000);
  expect(withRule.latched).toBe(true);
  expect(withRule.remote).toEqual({ address: "127.0.0.5", port: callerPort }); // our audio goes back to it
  withRule.sendFrame(new Uint8Array(160).fill(0xff), true);
  await waitFor(() => heard.length === 1, 3000);

  const without = await open(undefined);
  await waitFor(() => without.stats.ignoredSourceIn === 5, 3000);
  expect(without.packetsReceived).toBe(0);
});
