/**
 * 200 INVITE + CANCEL pairs, 1 ms apart, against the compiled agent (issue 10): the CANCEL lands at
 * whatever point of the set-up each call has reached (port being bound, prompt being read, 200 already
 * sent — then the caller ACKs and BYEs, as RFC 3261 §9.2 leaves it; on loopback the set-up is usually
 * faster than the CANCEL, the exact await points are tested with gates in tests/call/inbound.test.ts). Afterwards every RTP port is back
 * in the pool, the process holds no more file descriptors than before, and its TMPDIR holds no new
 * file; every INVITE got exactly one final response, and the agent still answers a call.
 */
import type { udp } from "bun";
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, readlinkSync } from "node:fs";
import { LOOPBACK } from "../support/ports.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const PAIRS = 200;
const hasSipp = !!Bun.which("sipp");

let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
}, 15_000);

/** A request of call `n`; CANCEL and the ACK of a non-2xx reuse the INVITE's branch (§9.1, §17.1.1.3). */
function request(method: string, n: number, agentPort: number, localPort: number, extra: string[] = [], body = "", inviteBranch = method === "CANCEL"): string {
  return [
    `${method} sip:agent@127.0.0.1:${agentPort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK-storm-${n}${method === "INVITE" || inviteBranch ? "" : `-${method}`}`,
    "Max-Forwards: 70",
    `From: <sip:storm@127.0.0.1>;tag=storm${n}`,
    ...extra,
    `Call-ID: storm-${n}@127.0.0.1`,
    `CSeq: ${method === "BYE" ? 2 : 1} ${method}`,
    `Contact: <sip:storm@127.0.0.1:${localPort}>`,
    ...(body ? ["Content-Type: application/sdp"] : []),
    `Content-Length: ${body.length}`,
    "",
    body,
  ].join("\r\n");
}

/** What the process's file descriptors point at (sockets, files, pipes), sorted. */
function fds(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`)
    .map((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/\[\d+\]$/, "[…]");
      } catch {
        return "(closed)";
      }
    })
    .filter((t) => t !== "(closed)")
    .sort();
}

describe.skipIf(!hasSipp)("INVITE + CANCEL storm (compiled agent)", () => {
  test(
    `${PAIRS} pairs 1 ms apart: one final response each, every port back in the pool, no fd or temp file left`,
    async () => {
      // A 50 ms ring (180, then 200) so most CANCELs land while the call rings with its port held; the
      // rest find the 200 already sent. Past 20 live calls (40 RTP ports) the agent answers 503.
      agent = await startAgent({ SIP_RATE_LIMIT: "0", SIP_MAX_PENDING_PER_SOURCE: "10000", MAX_CALLS: "500", ANSWER_DELAY_MS: "50" });
      const a = agent;
      // One ordinary call first, so what the first call opens lazily (the database's WAL, the prompt…)
      // is in the baseline.
      const warm = await runSipp({ scenario: "inbound-call", target: `127.0.0.1:${a.sipPort}`, audioFile: silenceFile(1), pauseMs: 1000, timeoutMs: 20_000 });
      expect(warm.exitCode, describeSipp(warm)).toBe(0);
      await waitFor(async () => (await a.get("/")).rtp.portsInUse === 0, 10_000, "the warm-up call's port back");
      const fdsBefore = fds(a.proc.pid);
      const tmpBefore = readdirSync(a.tmpDir).sort();
      const finals = new Map<number, number>();
      const responded = new Set<number>();
      /** BYEs not answered yet (resent like Timer E until their 200 arrives). */
      const byes = new Map<number, string>();
      const sdp = "v=0\r\no=storm 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
      const dec = new TextDecoder();
      const to = `To: <sip:agent@127.0.0.1:${a.sipPort}>`;
      let sock!: udp.Socket<"buffer">;
      sock = await Bun.udpSocket({
        hostname: LOOPBACK,
        port: 0,
        socket: {
          data(_s, buf) {
            const text = dec.decode(buf);
            const status = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1]);
            const n = Number(/^Call-ID: storm-(\d+)@/im.exec(text)?.[1]);
            if (!status || !Number.isFinite(n)) return;
            if (/^CSeq: 2 BYE/im.test(text)) {
              byes.delete(n);
              return;
            }
            if (!/^CSeq: 1 INVITE/im.test(text)) return;
            responded.add(n);
            if (status < 200) return;
            const tagged = `To: <sip:agent@127.0.0.1:${a.sipPort}>;tag=${/^To: .*;tag=([^;\s]+)/im.exec(text)![1]}`;
            // Every final is ACKed (§17.1.1.3 for a non-2xx: same branch; §13.2.2.4 for a 2xx: a new one),
            // including retransmissions, which are otherwise ignored.
            sock.send(request("ACK", n, a.sipPort, sock.port, [tagged], "", status !== 200), a.sipPort, LOOPBACK);
            if (finals.has(n)) return;
            finals.set(n, status);
            // A 2xx: the CANCEL came too late (§9.2: it has no effect after a final response); hang up.
            if (status === 200) {
              byes.set(n, request("BYE", n, a.sipPort, sock.port, [tagged]));
              sock.send(byes.get(n)!, a.sipPort, LOOPBACK);
            }
          },
          error() {},
        },
      });
      for (let n = 0; n < PAIRS; n++) {
        sock.send(request("INVITE", n, a.sipPort, sock.port, [to], sdp), a.sipPort, LOOPBACK);
        sock.send(request("CANCEL", n, a.sipPort, sock.port, [to]), a.sipPort, LOOPBACK);
        await Bun.sleep(1);
      }
      // Timer A as a real caller has it: an INVITE that got no response at all (a datagram dropped by a
      // full socket buffer) is sent again, then its CANCEL.
      for (let round = 0; round < 20 && responded.size < PAIRS; round++) {
        await Bun.sleep(500);
        for (let n = 0; n < PAIRS; n++) {
          if (responded.has(n)) continue;
          sock.send(request("INVITE", n, a.sipPort, sock.port, [to], sdp), a.sipPort, LOOPBACK);
          sock.send(request("CANCEL", n, a.sipPort, sock.port, [to]), a.sipPort, LOOPBACK);
        }
      }
      await waitFor(() => finals.size === PAIRS, 20_000, `a final response to each of ${PAIRS} INVITEs`);
      for (let round = 0; round < 20 && byes.size > 0; round++) {
        await Bun.sleep(500);
        for (const text of byes.values()) sock.send(text, a.sipPort, LOOPBACK);
      }
      expect(byes.size).toBe(0);
      await waitFor(async () => {
        const st = await a.get("/");
        return st.rtp.portsInUse === 0 && st.activeCalls === 0;
      }, 20_000, "every port back and no live call");
      sock.close();
      const byStatus: Record<number, number> = {};
      for (const st of finals.values()) byStatus[st] = (byStatus[st] ?? 0) + 1;
      console.log(`${PAIRS} INVITE+CANCEL pairs: finals ${JSON.stringify(byStatus)} (200 = answered before the CANCEL, then ACK+BYE)`);
      expect(Object.keys(byStatus).map(Number).every((s) => [487, 200, 503].includes(s))).toBe(true);
      expect(byStatus[487]).toBeGreaterThan(0);
      // The sockets of the RTP ports are closed, the records written; nothing else stays open.
      const same = await waitFor(() => fds(a.proc.pid).join() === fdsBefore.join(), 10_000, "the same file descriptors as before").catch(() => false);
      if (!same) expect(fds(a.proc.pid)).toEqual(fdsBefore);
      expect(readdirSync(a.tmpDir).sort()).toEqual(tmpBefore);
      // And it still takes a call.
      const r = await runSipp({ scenario: "inbound-call", target: `127.0.0.1:${a.sipPort}`, audioFile: silenceFile(2), pauseMs: 2000, timeoutMs: 20_000 });
      expect(r.exitCode, describeSipp(r)).toBe(0);
    },
    90_000,
  );
});
