/**
 * baresip 1.0.0 (Debian `baresip-core`) as the callee of an outbound call: auto-answer, plays a WAV
 * (8 kHz mono S16) as its microphone, records what it hears (`sndfile` → `dump-*-dec.wav`).
 *
 * Measured facts this relies on (FACTS.md): modules g711 aufile aubridge sndfile account menu; it needs
 * `net_interface 127.0.0.1`; it also binds SIP port + 1 (TLS); it hangs up when its WAV ends, so the
 * WAV length decides when the callee's BYE comes; its recording drops gaps in the received RTP (the agent
 * sends silence frames between replies, so there are none).
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnManaged, type ManagedProcess } from "../../support/process.ts";
import { freeUdpPortRange } from "../../support/ports.ts";
import { readWavFile, writeWavFile } from "../../support/wav.ts";

export interface Baresip {
  /** SIP port (127.0.0.1) the callee listens on. */
  port: number;
  /** The account's user part (the number the agent dials). */
  user: string;
  proc: ManagedProcess;
  dir: string;
  /** What the callee heard (PCM16, 8 kHz), once the call ended; undefined when nothing was recorded. */
  recording(): Int16Array | undefined;
  stop(): Promise<void>;
}

/**
 * Starts baresip with one account `<sip:USER@127.0.0.1:PORT>` in auto-answer mode, playing `micPcm`.
 * Resolves once it printed "baresip is ready".
 */
export async function startBaresipCallee(o: { user: string; micPcm: Int16Array; port?: number }): Promise<Baresip> {
  const dir = mkdtempSync(join(tmpdir(), "baresip-"));
  const base = o.port ?? (await freeUdpPortRange(2));
  const rtp = await freeUdpPortRange(20);
  const wav = join(dir, "mic.wav");
  writeWavFile(wav, o.micPcm, 8000);
  await Bun.write(
    join(dir, "config"),
    [
      "poll_method epoll",
      `sip_listen 127.0.0.1:${base}`,
      "net_interface 127.0.0.1",
      `audio_source aufile,${wav}`,
      "audio_player aubridge,nil",
      "audio_alert aubridge,nil",
      "module_path /usr/lib/baresip/modules",
      "module g711.so",
      "module aufile.so",
      "module aubridge.so",
      "module sndfile.so",
      "module_app account.so",
      "module_app menu.so",
      `snd_path ${dir}`,
      `rtp_ports ${rtp}-${rtp + 19}`,
      "",
    ].join("\n"),
  );
  await Bun.write(join(dir, "accounts"), `<sip:${o.user}@127.0.0.1:${base}>;regint=0;answermode=auto\n`);
  const proc = spawnManaged(["baresip", "-f", dir, "-t", "60"], { cwd: dir, name: "baresip" });
  await proc.waitForLine(/baresip is ready/, { timeoutMs: 5000 });
  return {
    port: base,
    user: o.user,
    proc,
    dir,
    recording() {
      const f = readdirSync(dir).find((n) => /^dump-.*-dec\.wav$/.test(n));
      return f ? readWavFile(join(dir, f)).pcm : undefined;
    },
    async stop() {
      await proc.stop({ graceMs: 1000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
