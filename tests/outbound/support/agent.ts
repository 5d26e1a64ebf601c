/**
 * A real AgentServer in the test process (UDP SIP, RTP, pacer, HTTP on loopback, SQLite in a temp
 * DATA_DIR) with test providers: flite TTS (the real offline synthesiser, deterministic), an LLM that
 * says goodbye and calls end_call, and an energy-gated STT stand-in that "recognises" a fixed phrase
 * when the far end's audio has a talkspurt (so the callee's speech drives the conversation).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentServer } from "../../../src/cli/agent-server";
import { loadConfig } from "../../../src/cli/config";
import type { Providers } from "../../../src/cli/providers";
import { createFliteTts } from "../../../src/providers/flite/flite-tts";
import { FliteWorkerPool } from "../../../src/providers/flite/synth-pool";
import type { LlmChunk, LlmProvider, LlmRequest, SttEvent, SttProvider } from "../../../src/providers/types";
import { AsyncQueue } from "../../../src/util/async-queue";
import { createLogger, silentLogger } from "../../../src/util/log";
import { timerValues } from "../../../src/sip";
import { freeTcpPort, freeUdpPort, freeUdpPortRange } from "../../support/ports.ts";

export const API_TOKEN = "outbound-test-token-0123456789";

/** Frames (20 ms) above this RMS count as speech for the STT stand-in. */
const SPEECH_RMS = 400;

/**
 * STT stand-in: after ≥ 200 ms of loud frames followed by ≥ 300 ms of quiet ones, emits `text` as a final
 * with speechFinal. Reacts to the audio it is given, not to time.
 */
export function energyStt(text = "Yes, that works for me."): SttProvider & { heard: number } {
  const p = {
    name: "energy-stt",
    heard: 0,
    async open() {
      const events = new AsyncQueue<SttEvent>();
      let loud = 0;
      let quiet = 0;
      return {
        push(frame: { pcm: Int16Array }) {
          let sum = 0;
          for (const s of frame.pcm) sum += s * s;
          const rms = Math.sqrt(sum / frame.pcm.length);
          if (rms > SPEECH_RMS) {
            loud++;
            quiet = 0;
          } else if (loud >= 10 && ++quiet >= 15) {
            loud = 0;
            quiet = 0;
            p.heard++;
            events.push({ type: "final", text, speechFinal: true });
          }
        },
        flush() {},
        async end() {
          events.close();
        },
        close() {
          events.close();
        },
        events,
      };
    },
  };
  return p;
}

/** After the opening: `reply`, then end_call with `reason`. Records the requests. */
export function goodbyeLlm(reply = "Thank you. Goodbye.", reason = "the callee confirmed"): LlmProvider & { requests: LlmRequest[] } {
  const requests: LlmRequest[] = [];
  return {
    name: "test-llm",
    requests,
    async *generate(req: LlmRequest): AsyncIterable<LlmChunk> {
      requests.push(req);
      yield { type: "text", text: reply };
      yield { type: "tool_call", name: "end_call", args: { reason } };
    },
  };
}

export interface TestAgent {
  server: AgentServer;
  baseUrl: string;
  dataDir: string;
  stt: ReturnType<typeof energyStt>;
  llm: ReturnType<typeof goodbyeLlm>;
  /** JSON request with the bearer token. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Polls GET /outbound/call/:id until `pred` holds (network effect of real peers; bounded). */
  waitForCall(id: string, pred: (c: any) => boolean, timeoutMs: number): Promise<any>;
  /** Log lines (parsed JSON, level info and up) when started with `captureLogs`; else empty. */
  logs(): any[];
  stop(): Promise<void>;
}

export async function startTestAgent(o: { env: Record<string, string>; mode?: "outbound" | "all"; sipT1Ms?: number; captureLogs?: boolean; llm?: ReturnType<typeof goodbyeLlm>; stt?: ReturnType<typeof energyStt> }): Promise<TestAgent> {
  const dataDir = mkdtempSync(join(tmpdir(), "va-agent-"));
  const rtp = await freeUdpPortRange(60);
  const httpPort = await freeTcpPort();
  const cfg = loadConfig({
    SIP_HOST: "127.0.0.1",
    SIP_PORT: String(await freeUdpPort()),
    RTP_PORT_START: String(rtp),
    RTP_PORT_END: String(rtp + 59),
    SERVER_HOST: "127.0.0.1",
    SERVER_PORT: String(httpPort),
    DATA_DIR: dataDir,
    API_TOKEN,
    SIP_CALLER_ID: "+14155550123",
    LOG_LEVEL: "silent",
    // These callees are silent for seconds before they speak: the opening starts 300 ms after the answer,
    // as it did before it learnt to wait for "Hello?" (tests/e2e/amd.test.ts covers that wait).
    OPENING_NO_SPEECH_MS: "300",
    ...o.env,
  });
  // Synthesis in worker threads, as the agent runs it (src/cli/providers.ts): on this thread, ten
  // openings rendered at once stall the loop for seconds and the 180s of other calls wait behind them.
  const flitePool = new FliteWorkerPool(2);
  await flitePool.start();
  const tts = createFliteTts({ pool: flitePool });
  const stt = o.stt ?? energyStt();
  const llm = o.llm ?? goodbyeLlm();
  const providers: Providers = {
    stt,
    llm,
    tts,
    fallback: { stt, llm, tts }, // the same LLM: a failure is answered with the apology, as before (StageProviders.useFallback)
    flite: tts,
    describe: { stt: "energy (test)", llm: "goodbye (test)", tts: "flite (offline)" },
  };
  const lines: string[] = [];
  const log = o.captureLogs
    ? createLogger({ level: "info", destination: { write: (s: string) => void lines.push(s) } as never })
    : process.env.OUTBOUND_TEST_LOG ? createLogger({ level: process.env.OUTBOUND_TEST_LOG, destination: { write: (s: string) => void process.stderr.write(s) } as never }) : silentLogger;
  const server = await AgentServer.start({
    cfg,
    providers,
    log,
    version: "0.0.0-test",
    mode: o.mode ?? "outbound",
    sipTimers: o.sipT1Ms ? timerValues(o.sipT1Ms) : undefined,
  });
  const baseUrl = `http://127.0.0.1:${httpPort}`;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${API_TOKEN}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json() };
  };
  return {
    server,
    baseUrl,
    dataDir,
    stt,
    llm,
    api,
    logs: () => lines.flatMap((l) => l.split("\n")).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)),
    async waitForCall(id, pred, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const r = await api("GET", `/outbound/call/${id}`);
        if (r.status === 200 && pred(r.body)) return r.body;
        if (performance.now() > deadline) throw new Error(`call ${id} did not reach the expected state: ${JSON.stringify(r.body)}`);
        await Bun.sleep(50);
      }
    },
    async stop() {
      await server.shutdown(2000);
      flitePool.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A test agent whose SIP trunk is 127.0.0.1:`trunkPort`, a port that was free while the agent picked its
 * own (held until the agent is up, so the two cannot coincide) and that nothing listens on afterwards:
 * the SIPp trunk binds it next, or it stays closed (ICMP port unreachable). `env` adds to the trunk's
 * SIP_TRUNK_HOST/SIP_TRUNK_PORT.
 */
export async function startTrunkAgent(
  env: Record<string, string> = {},
  o: Omit<Parameters<typeof startTestAgent>[0], "env"> = {},
): Promise<{ agent: TestAgent; trunkPort: number }> {
  const hold = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  const trunkPort = hold.port;
  try {
    const agent = await startTestAgent({ ...o, env: { SIP_TRUNK_HOST: "127.0.0.1", SIP_TRUNK_PORT: String(trunkPort), ...env } });
    return { agent, trunkPort };
  } finally {
    hold.close();
  }
}
