/**
 * A recogniser that keeps crashing is restarted a bounded number of times (STT_MAX_RESTARTS), then the
 * call hears that recognition is gone and ends politely. First with real processes: pocketsphinx's
 * plumbing (FIFO + cat) around a stand-in binary that dies like a crashing recogniser; then through
 * the conversation (AgentCall) on a fake clock.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Playout } from "../../src/media/playout";
import { AgentCall } from "../../src/pipeline/agent-call";
import type { CallRecord } from "../../src/pipeline/call-record";
import { DEFAULT_CONVERSATION } from "../../src/pipeline/conversation-settings";
import { STT_MAX_RESTARTS, SttInput } from "../../src/pipeline/stt-input";
import { PocketsphinxStt } from "../../src/providers/pocketsphinx/pocketsphinx-stt";
import { ProviderError, type LlmProvider, type SttProvider, type TtsProvider } from "../../src/providers/types";
import { Pacer } from "../../src/rtp/pacer";
import { AsyncQueue } from "../../src/util/async-queue";
import { FakeClock } from "../../src/util/clock";
import { silentLogger } from "../../src/util/log";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A stand-in `pocketsphinx_continuous` that reads a little audio and then dies of SIGSEGV. */
function crashingRecogniser(): { binary: string; modelDir: string; pidsFile: string } {
  const dir = mkdtempSync(join(tmpdir(), "va-crash-stt-"));
  dirs.push(dir);
  const pidsFile = join(dir, "pids");
  const binary = join(dir, "pocketsphinx_continuous");
  writeFileSync(binary, `#!/bin/sh\necho $$ >> ${pidsFile}\nhead -c 3200 >/dev/null\necho "ERROR: simulated crash" >&2\nkill -SEGV $$\n`);
  chmodSync(binary, 0o755);
  const modelDir = join(dir, "model");
  mkdirSync(join(modelDir, "en-us"), { recursive: true });
  writeFileSync(join(modelDir, "cmudict-en-us.dict"), "");
  writeFileSync(join(modelDir, "en-us.lm.bin"), "");
  return { binary, modelDir, pidsFile };
}

const frame = { pcm: new Int16Array(160).fill(2000), payload: new Uint8Array(160), codec: "PCMU" as const };

describe("STT restarts are bounded", () => {
  test("a crashing pocketsphinx process: restarted STT_MAX_RESTARTS times, then onGiveUp once; no process left", async () => {
    const c = crashingRecogniser();
    const stt = new PocketsphinxStt({ binary: c.binary, modelDir: c.modelDir, cmninit: null });
    let opens = 0;
    const counting: SttProvider = { name: "pocketsphinx", open: (o) => (opens++, stt.open(o)) };
    const gaveUp: unknown[] = [];
    const input = new SttInput({
      stt: counting,
      callId: "crashy",
      codec: "PCMU",
      signal: new AbortController().signal,
      log: silentLogger,
      onFinal: () => {},
      onUtteranceEnd: () => {},
      onFallback: () => {},
      onGiveUp: (err) => gaveUp.push(err),
    });
    expect(await input.open()).toBe(true);
    const deadline = Date.now() + 20_000;
    while (gaveUp.length === 0 && Date.now() < deadline) {
      input.push(frame); // 20 ms of audio at a time: each recogniser dies after 3200 bytes (100 ms at 16 kHz)
      await Bun.sleep(20);
    }
    expect(gaveUp).toHaveLength(1);
    expect(opens).toBe(1 + STT_MAX_RESTARTS);
    expect(input.restarts).toBe(STT_MAX_RESTARTS);
    expect(gaveUp[0]).toBeInstanceOf(ProviderError);
    expect((gaveUp[0] as ProviderError).message).toMatch(/pocketsphinx exited \(code .*\) unexpectedly: .*simulated crash/);
    for (let i = 0; i < 20; i++) input.push(frame); // after giving up: ignored, nothing is opened again
    await Bun.sleep(200);
    expect(opens).toBe(1 + STT_MAX_RESTARTS);
    const pids = (await Bun.file(c.pidsFile).text()).trim().split("\n").map(Number);
    expect(pids).toHaveLength(1 + STT_MAX_RESTARTS);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(); // every recogniser is gone
    input.close();
  }, 30_000);

  test("the conversation tells the caller and hangs up politely (end reason stt_failed)", async () => {
    const clock = new FakeClock();
    const playout = new Playout({ sink: { sendFrame: () => true }, codec: "PCMU" });
    new Pacer({ clock }).add(playout);
    const said: string[] = [];
    const tts: TtsProvider = {
      name: "fake-tts",
      open({ signal }) {
        const q = new AsyncQueue<Int16Array>();
        signal.addEventListener("abort", () => q.close());
        return {
          pushText(t) {
            said.push(t);
            q.push(new Int16Array(800 * t.split(/\s+/).length).fill(1000));
          },
          end: () => q.close(),
          cancel: () => q.close(),
          audio: q,
        };
      },
    };
    let opens = 0;
    const dying: SttProvider = {
      name: "dying-stt",
      async open() {
        opens++;
        const q = new AsyncQueue<any>();
        queueMicrotask(() => q.push({ type: "error", error: new ProviderError("dying-stt", "stt", "unavailable", "recogniser crashed", true) }));
        return { push() {}, flush() {}, end: async () => q.close(), close: () => q.close(), events: q };
      },
    };
    const llm: LlmProvider = {
      name: "fake-llm",
      async *generate() {
        yield { type: "text", text: "Hello." };
      },
    };
    const record: CallRecord = { id: "c1", sipCallId: "x", direction: "inbound", from: "a", to: "b", state: "connected", startedAt: new Date().toISOString(), turns: [], bargeIns: 0 };
    const hangups: string[] = [];
    const call = new AgentCall({
      record,
      clock,
      log: silentLogger,
      stt: dying,
      llm,
      tts,
      system: "s",
      tools: [],
      output: playout,
      codec: "PCMU",
      settings: { endpointing: { minSilenceMs: 900, maxSilenceMs: 1600 } },
      hangup: (r) => hangups.push(r),
    });
    await call.start();
    for (let t = 0; t < 8000; t += 10) {
      clock.advance(10);
      for (let i = 0; i < 5; i++) await Promise.resolve();
      await Bun.sleep(0);
    }
    expect(opens).toBe(1 + STT_MAX_RESTARTS);
    expect(said).toContain(DEFAULT_CONVERSATION.sttLostText);
    expect(hangups).toEqual(["agent_goodbye"]);
    expect(record.endReason).toBe("stt_failed");
    call.stop();
  }, 30_000);
});
