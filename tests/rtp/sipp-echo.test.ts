/**
 * Interop with a real RTP peer: SIPp 3.6.1's `-rtp_echo` returns every datagram it gets on its media
 * port to the sender. Our session must latch onto it and decode what comes back. Skipped when `sipp`
 * is not installed.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { encodeFrame } from "../../src/media/g711.ts";
import type { AudioFrame } from "../../src/providers/types.ts";
import { RtpPortPool } from "../../src/rtp/port-pool.ts";
import { RtpSession } from "../../src/rtp/session.ts";
import { holdEvenPort, waitFor } from "./helpers.ts";

const sipp = Bun.which("sipp");
const procs: Bun.Subprocess[] = [];
afterAll(() => {
  for (const p of procs) p.kill();
});

describe.skipIf(!sipp)("interop: SIPp rtp_echo", () => {
  test("50 frames out, the same 50 frames back, latched and decoded", async () => {
    const sipPortHolder = await holdEvenPort();
    const mediaHolder = await holdEvenPort();
    const sipPort = sipPortHolder.port;
    const mediaPort = mediaHolder.port;
    sipPortHolder.close();
    mediaHolder.close();
    const proc = Bun.spawn(
      [sipp!, "-sn", "uas", "-i", "127.0.0.1", "-p", String(sipPort), "-mp", String(mediaPort), "-rtp_echo", "-m", "1", "-timeout", "20"],
      { stdout: "ignore", stderr: "ignore", stdin: "ignore" },
    );
    procs.push(proc);

    const pool = new RtpPortPool(27400, 27599, "127.0.0.1");
    const lease = await pool.allocate();
    const frames: AudioFrame[] = [];
    const session = new RtpSession({
      lease,
      remote: { address: "127.0.0.1", port: mediaPort },
      codec: "PCMU",
      payloadType: 0,
      onAudio: (f) => frames.push(f),
    });
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 50; i++) {
      const pcm = Int16Array.from({ length: 160 }, (_, k) => Math.round(4000 * Math.sin((i * 160 + k) / 5)));
      sent.push(encodeFrame(pcm, "PCMU"));
    }
    // SIPp needs a moment to open its media socket; resend the first frame until something comes back.
    await waitFor(() => {
      if (frames.length === 0) session.sendFrame(sent[0], true);
      return frames.length > 0;
    }, 5000);
    const warmup = frames.length;
    for (let i = 1; i < 50; i++) session.sendFrame(sent[i], false);
    await waitFor(() => frames.length >= warmup + 49, 5000);
    expect(session.latched).toBe(true);
    expect(session.remote).toEqual({ address: "127.0.0.1", port: mediaPort });
    expect(frames.slice(warmup).map((f) => Buffer.from(f.payload).toString("hex"))).toEqual(
      sent.slice(1).map((b) => Buffer.from(b).toString("hex")),
    );
    expect(session.stats.lost).toBe(0);
    session.close();
    proc.kill();
  });
});
