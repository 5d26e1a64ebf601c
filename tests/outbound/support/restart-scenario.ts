/**
 * Records that survive: a real agent process places an outbound call that completes (SIPp trunk with a
 * digest challenge; the callee hangs up), is killed with SIGKILL between calls, restarted, places a
 * second call that is answered, is killed with SIGKILL during it, and restarted again. Through the HTTP
 * API afterwards: the completed call and its transcript are all there, the call that was live is ended
 * ("restart", status failed), nothing is left live.
 *
 * Used by restart-main.test.ts with two entries: `bun run src/cli/main.ts` and the compiled dist/voice-agent
 * (bun:sqlite inside the single executable).
 */
import { expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnManaged, type ManagedProcess } from "../../support/process.ts";
import { freeTcpPort, freeUdpPort, freeUdpPortRange } from "../../support/ports.ts";
import { silenceFile } from "../../support/speech.ts";
import { API_TOKEN } from "./agent.ts";
import { startSippUas } from "./sipp-uas.ts";

export const OPENING = "Hello! I'm calling about your order. Do you have a moment?";
const CALL = { phone_number: "+14155550100", opening_reason: "about your order", objective: "Tell them it ships tomorrow.", metadata: { order: 77 } };

/** Cloud keys are removed so the offline providers are chosen whatever the developer's shell holds. */
const CLOUD_VARS = ["DEEPGRAM_API_KEY", "GEMINI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_KEY", "CARTESIA_API_KEY", "STT_PROVIDER", "LLM_PROVIDER", "TTS_PROVIDER"];

export interface RestartTimings {
  startMs: number[];
  killToServingMs: number[];
}

export async function runRestartScenario(argv: string[], name: string): Promise<RestartTimings> {
  const dataDir = mkdtempSync(join(tmpdir(), `va-restart-${name}-`));
  const hold = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  const trunkPort = hold.port;
  const sipPort = await freeUdpPort();
  const httpPort = await freeTcpPort();
  const rtp = await freeUdpPortRange(20);
  hold.close();
  const env: Record<string, string | undefined> = {
    ...process.env,
    SIP_HOST: "127.0.0.1",
    SIP_PORT: String(sipPort),
    RTP_PORT_START: String(rtp),
    RTP_PORT_END: String(rtp + 19),
    SERVER_HOST: "127.0.0.1",
    SERVER_PORT: String(httpPort),
    DATA_DIR: dataDir,
    API_TOKEN,
    SIP_TRUNK_HOST: "127.0.0.1",
    SIP_TRUNK_PORT: String(trunkPort),
    SIP_CALLER_ID: "+14155550123",
    SIP_USERNAME: "alice",
    SIP_PASSWORD: "s3cret",
    LOG_LEVEL: "info",
    DRAIN_TIMEOUT_S: "1",
    // The callee is silent: the opening starts 300 ms after the answer (as in tests/outbound/support/agent.ts).
    OPENING_NO_SPEECH_MS: "300",
  };
  for (const v of CLOUD_VARS) delete env[v];
  const base = `http://127.0.0.1:${httpPort}`;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${API_TOKEN}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const waitFor = async (id: string, pred: (c: any) => boolean, timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const r = await api("GET", `/outbound/call/${id}`);
      if (r.status === 200 && pred(r.body)) return r.body;
      if (performance.now() > deadline) throw new Error(`${name}: call ${id} never matched: ${JSON.stringify(r.body)}`);
      await Bun.sleep(50);
    }
  };
  const timings: RestartTimings = { startMs: [], killToServingMs: [] };
  const start = async (): Promise<ManagedProcess> => {
    const t0 = performance.now();
    const p = spawnManaged(argv, { env, name });
    await p.waitForLine(/"msg":"voice-agent started"/, { timeoutMs: 15_000 });
    timings.startMs.push(Math.round(performance.now() - t0));
    return p;
  };
  const kill9 = async (p: ManagedProcess) => {
    p.signal("SIGKILL");
    await p.exited;
    expect(p.signalCode).toBe("SIGKILL");
  };

  try {
    // 1. A call that completes: digest challenge, answer, the opening, the callee's BYE. The opening
    // (~3.5 s of speech) starts OPENING_NO_SPEECH_MS (300 ms here) after the answer of a silent callee, and its
    // synthesis took over 2 s at load 15: the callee stays 9 s so the whole opening is heard.
    let agent = await start();
    const trunk1 = await startSippUas({ scenario: "outbound-trunk-auth", port: trunkPort, pauseMs: 9000, keys: { user: "alice", pass: "s3cret" }, audioFile: silenceFile(9) });
    const first = await api("POST", "/outbound/call", CALL);
    expect(first.status).toBe(201);
    const id1 = first.body.call_id as string;
    const done1 = await waitFor(id1, (c) => c.status === "completed", 20_000);
    expect(done1.transcript[0]).toMatchObject({ speaker: "agent", text: OPENING });
    expect((await trunk1.finish(5000)).exitCode).toBe(0);

    // 2. kill -9 between calls; restart: the completed call is all there.
    const k1 = performance.now();
    await kill9(agent);
    agent = await start();
    timings.killToServingMs.push(Math.round(performance.now() - k1));
    const after1 = await api("GET", `/outbound/call/${id1}`);
    expect(after1.status).toBe(200);
    expect(after1.body).toEqual(done1);

    // 3. A call that is live (answered, agent talking) when the process is killed.
    const trunk2 = await startSippUas({ scenario: "outbound-answer", port: trunkPort, audioFile: silenceFile(30) });
    const id2 = (await api("POST", "/outbound/call", CALL)).body.call_id as string;
    const live = await waitFor(id2, (c) => c.status === "connected", 5000);
    expect(live.ended_at).toBeUndefined();
    await Bun.sleep(300); // the agent's opening is under way (not needed for the assertions below)
    const k2 = performance.now();
    await kill9(agent);
    await trunk2.proc.stop({ signal: "SIGKILL", graceMs: 0 });
    agent = await start();
    timings.killToServingMs.push(Math.round(performance.now() - k2));
    expect(agent.stdout()).toMatch(/calls left live by the previous run marked ended \(restart\)/);

    // 4. After the restart: the live call is ended by the restart, the completed one untouched.
    const after2 = await api("GET", `/outbound/call/${id2}`);
    expect(after2.body).toMatchObject({
      status: "failed",
      end_reason: "restart",
      hangup_cause: { code: null, reason: "the agent restarted during the call", source: "local" },
      metadata: { order: 77 },
    });
    expect(Date.parse(after2.body.ended_at)).toBeGreaterThanOrEqual(Date.parse(after2.body.answered_at));
    expect((await api("GET", `/outbound/call/${id1}`)).body).toEqual(done1);
    const list = (await api("GET", "/outbound/calls")).body.calls as any[];
    expect(list.map((c) => c.call_id).sort()).toEqual([id1, id2].sort());
    expect(list.every((c) => ["completed", "failed"].includes(c.status))).toBe(true);
    const all = (await api("GET", "/calls")).body;
    expect(all.active).toEqual([]);
    expect(all.recent.find((r: any) => r.id === id2)).toMatchObject({ state: "ended", endReason: "restart" });

    // 5. A clean stop still works after all that.
    agent.signal("SIGTERM");
    expect(await agent.exited).toBe(0);
    return timings;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
