/**
 * SO_RCVBUF on a Bun UDP socket (src/util/socket-buffer.ts): what the kernel grants, and what it is for —
 * a burst that arrives while the thread is busy is kept, not dropped unseen. The burst is real: a child
 * process sends it to two bound sockets while this thread is blocked in spawnSync.
 */
import { describe, expect, test } from "bun:test";
import { fdOf, receiveBuffer, receiveBufferMax, setReceiveBuffer } from "../../src/util/socket-buffer.ts";

const BURST = 600;
const DATAGRAM_BYTES = 1000;
const ASK = 4 << 20;

async function counting(): Promise<{ socket: Bun.udp.Socket<"uint8array">; got: () => number }> {
  let n = 0;
  const socket = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, binaryType: "uint8array", socket: { data: () => void n++ } });
  return { socket, got: () => n };
}

describe("SO_RCVBUF through the socket's fd", () => {
  test("setReceiveBuffer reads back what the kernel granted: 2 × min(asked, rmem_max)", async () => {
    const { socket } = await counting();
    try {
      const before = receiveBuffer(fdOf(socket));
      expect(before.ok).toBe(true);
      const r = setReceiveBuffer(fdOf(socket), 300_000);
      const max = receiveBufferMax();
      expect(r).toEqual({ ok: true, bytes: 2 * Math.min(300_000, max ?? 300_000) });
      expect(receiveBuffer(fdOf(socket))).toEqual(r);
    } finally {
      socket.close();
    }
  });

  test("a bad descriptor is an error result, not a throw", () => {
    expect(setReceiveBuffer(-1, 1000)).toMatchObject({ ok: false });
    const r = setReceiveBuffer(1_000_000, 1000);
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.error).toContain("errno 9"); // EBADF
  });

  test.skipIf((receiveBufferMax() ?? 0) < 2 * BURST * 2304)(`a burst of ${BURST} datagrams sent while the thread is busy: the enlarged buffer keeps all of it`, async () => {
    const plain = await counting();
    const big = await counting();
    try {
      expect(setReceiveBuffer(fdOf(big.socket), ASK).ok).toBe(true);
      const send = `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d = b"x" * ${DATAGRAM_BYTES}
for i in range(${BURST}):
    s.sendto(d, ("127.0.0.1", ${plain.socket.port}))
    s.sendto(d, ("127.0.0.1", ${big.socket.port}))
`;
      // This thread is blocked until the child exits: every datagram waits in the kernel's buffers.
      const p = Bun.spawnSync(["python3", "-c", send]);
      expect(p.exitCode).toBe(0);
      const deadline = Date.now() + 10_000;
      while (big.got() < BURST && Date.now() < deadline) await Bun.sleep(20);
      await Bun.sleep(100);
      console.log(`burst: default buffer ${plain.got()} of ${BURST}, enlarged ${big.got()}`);
      expect(big.got()).toBe(BURST);
      // The burst is big enough to overflow the kernel's default buffer (so this test can fail).
      const plainBytes = receiveBuffer(fdOf(plain.socket));
      if (plainBytes.ok && plainBytes.bytes < BURST * DATAGRAM_BYTES) expect(plain.got()).toBeLessThan(BURST);
    } finally {
      plain.socket.close();
      big.socket.close();
    }
  }, 30_000);
});
