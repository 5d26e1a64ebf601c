/**
 * The compiled binary starts its flite synthesis workers (src/providers/flite/synth-pool.ts): the
 * worker entry is embedded by scripts/build.ts, and an agent whose TTS is flite brings FLITE_WORKERS
 * threads up before it takes calls, then speaks its greeting through them on a real call (SIPp).
 * FLITE_WORKERS=0 keeps synthesis on the main thread; a bad value is a start-up error naming the variable.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { expectStartupError, startAgent } from "./agent.ts";
import { freeUdpPortRange } from "../support/ports.ts";
import { missingTools, stopAllManaged } from "../support/process.ts";
import { RtpCapture } from "../support/capture.ts";
import { runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";

afterAll(() => stopAllManaged());

function threads(pid: number): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
}

describe("flite workers in the compiled binary", () => {
  test("FLITE_WORKERS=3: three workers ready before 'voice-agent started', three more threads than with 0", async () => {
    const a = await startAgent({ FLITE_WORKERS: "3" });
    const b = await startAgent({ FLITE_WORKERS: "0" });
    try {
      const ready = a.logs().find((l) => l.msg === "flite workers ready");
      expect(ready).toMatchObject({ workers: 3 });
      const order = a.logs().map((l) => l.msg);
      expect(order.indexOf("flite workers ready")).toBeLessThan(order.indexOf("voice-agent started"));
      expect(b.logs().some((l) => l.msg === "flite workers ready")).toBe(false);
      expect(threads(a.proc.pid) - threads(b.proc.pid)).toBeGreaterThanOrEqual(3);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 90_000);

  test.skipIf(missingTools(["sipp", "dumpcap"]).length > 0)("a call hears the greeting synthesised by the workers", async () => {
    const agent = await startAgent({ FLITE_WORKERS: "2" });
    try {
      const media = await freeUdpPortRange(4);
      const cap = await RtpCapture.start({ ports: [media] });
      const r = await runSipp({ scenario: "inbound-call", target: { host: "127.0.0.1", port: agent.sipPort }, mediaPort: media, audioFile: silenceFile(6), pauseMs: 6000, timeoutMs: 40_000 });
      const c = await cap.stop();
      expect(r.exitCode).toBe(0);
      const fromAgent = c.rtpStreams.find((s) => s.dst.port === media);
      expect(fromAgent).toBeDefined();
      // Speech, not just silence frames: the greeting is several seconds of audio.
      const speech = fromAgent!.audioPackets.filter((p) => p.payload.some((b) => b !== 0xff && b !== 0x7f)).length;
      expect(speech).toBeGreaterThan(50);
      expect(agent.logs().filter((l) => l.level === "error" || l.level === "fatal")).toEqual([]);
    } finally {
      await agent.stop();
    }
  }, 90_000);

  test("FLITE_WORKERS=-1 is a start-up error naming the variable", async () => {
    await expectStartupError({ FLITE_WORKERS: "-1" }, "FLITE_WORKERS");
  }, 30_000);
});
