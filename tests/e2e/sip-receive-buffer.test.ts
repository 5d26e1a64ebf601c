/**
 * The compiled binary enlarges its SIP UDP socket's kernel receive buffer (SIP_UDP_RECEIVE_BUFFER_BYTES,
 * src/cli/sip-listeners.ts, src/util/socket-buffer.ts: bun:ffi setsockopt on the socket's fd): read from
 * outside with `ss -m` (the socket's `rb`), not only from the agent's own log. 0 keeps the kernel's
 * default; a bad value is a start-up error naming the variable. With SIP_FRONT=on the socket lives in
 * the SIP front thread (src/sip/front/, a worker entry embedded in the binary): the same buffer, OPTIONS
 * answered, and a whole call (INVITE, re-INVITE, BYE: SIPp) through it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { expectStartupError, startAgent } from "./agent.ts";
import { missingTools, stopAllManaged } from "../support/process.ts";
import { optionsProbe } from "../support/sip-options.ts";
import { freeUdpPortRange } from "../support/ports.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";

afterAll(() => stopAllManaged());

/** The `rb` (receive buffer, bytes) of the UDP socket bound to `port`, as `ss` reports it. */
function rbOf(port: number): number | undefined {
  const p = Bun.spawnSync(["ss", "-uamnH", `sport = :${port}`]);
  const m = /\brb(\d+)/.exec(p.stdout.toString());
  return m ? Number(m[1]) : undefined;
}

const rmemMax = Number(readFileSync("/proc/sys/net/core/rmem_max", "utf8").trim());
const rmemDefault = Number(readFileSync("/proc/sys/net/core/rmem_default", "utf8").trim());

describe("SIP UDP receive buffer in the compiled binary", () => {
  test.skipIf(missingTools(["ss"]).length > 0)("default 4 MiB asked: the socket holds 2 × min(4 MiB, rmem_max); 0 keeps the kernel's default", async () => {
    const a = await startAgent({});
    const b = await startAgent({ SIP_UDP_RECEIVE_BUFFER_BYTES: "0" });
    try {
      const want = 2 * Math.min(4 << 20, rmemMax);
      expect(rbOf(a.sipPort)).toBe(want);
      const line = a.logs().find((l) => l.msg === "sip udp receive buffer" || l.msg === "sip udp receive buffer capped by net.core.rmem_max");
      expect(line).toMatchObject({ asked: 4 << 20, bytes: want });
      expect(rbOf(b.sipPort)).toBe(rmemDefault);
      expect(b.logs().some((l) => String(l.msg).startsWith("sip udp receive buffer"))).toBe(false);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 60_000);

  test.skipIf(missingTools(["ss", "sipp"]).length > 0)("SIP_FRONT=on: the front thread's socket has the buffer, answers OPTIONS, carries a call with a re-INVITE", async () => {
    const a = await startAgent({ SIP_FRONT: "on", SIP_FRONT_SLICE_US: "300" });
    try {
      expect(a.logs().some((l) => l.msg === "sip front ready" && l.port === a.sipPort)).toBe(true);
      expect(a.logs().some((l) => l.msg === "sip front time slice set" && l.sliceUs === 300)).toBe(true);
      expect(rbOf(a.sipPort)).toBe(2 * Math.min(4 << 20, rmemMax));
      const probe = await optionsProbe(a.sipPort, "front");
      expect(probe.status).toBe(200);
      expect(probe.calls).toMatch(/^0\/\d+$/);
      const media = await freeUdpPortRange(2);
      const r = await runSipp({
        scenario: "media-move",
        target: `127.0.0.1:${a.sipPort}`,
        keys: { port_a: String(media), port_b: String(media + 1) },
        pauseMs: 500,
        timeoutMs: 20_000,
      });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(a.logs().some((l) => l.msg === "media renegotiated")).toBe(true);
      expect(a.logs().filter((l) => l.msg === "sip front status failed")).toEqual([]);
    } finally {
      await a.stop();
    }
  }, 60_000);

  test("SIP_UDP_RECEIVE_BUFFER_BYTES=-1, SIP_FRONT=maybe, SIP_FRONT_SLICE_US=50 are start-up errors naming the variable", async () => {
    await expectStartupError({ SIP_UDP_RECEIVE_BUFFER_BYTES: "-1" }, "SIP_UDP_RECEIVE_BUFFER_BYTES");
    await expectStartupError({ SIP_FRONT: "maybe" }, "SIP_FRONT");
    await expectStartupError({ SIP_FRONT_SLICE_US: "50" }, "SIP_FRONT_SLICE_US");
  }, 30_000);
});
