/**
 * The running agent writes every call to DATA_DIR/calls.db: an inbound call (SIPp caller; the agent
 * answers in --mode all, says goodbye and hangs up) is on disk with its turns after the agent stopped;
 * in --mode outbound an inbound INVITE is refused with 403 and nothing is stored.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { SqliteCallStore } from "../../src/store";
import { stopAllManaged } from "../support/process.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { startTestAgent } from "../outbound/support/agent.ts";

afterAll(() => stopAllManaged());

describe.skipIf(!Bun.which("sipp"))("agent call records in SQLite", () => {
  test("--mode all: an inbound call and its turns are written; they are there after the agent stopped", async () => {
    const agent = await startTestAgent({ env: { SIP_TRUNK_HOST: "127.0.0.1" }, mode: "all" });
    const dataDir = agent.dataDir;
    const r = await runSipp({ scenario: "agent-hangup", target: { host: "127.0.0.1", port: agent.server.sipPort }, audioFile: silenceFile(8), timeoutMs: 15_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const list = await fetch(`${agent.baseUrl}/calls`, { headers: { authorization: "Bearer outbound-test-token-0123456789" } }).then((x) => x.json() as any);
    const id = list.recent[0].id as string;
    await agent.server.shutdown(1000); // closes the store; the files stay
    const store = SqliteCallStore.open({ dir: dataDir });
    try {
      const rec = store.get(id)!;
      expect(rec).toMatchObject({ direction: "inbound", state: "ended", endReason: "end_call", codec: "PCMU" });
      expect(rec.answeredAt).toBeDefined();
      expect(rec.turns.map((t) => `${t.speaker}: ${t.text}`)).toEqual(["agent: Thank you. Goodbye."]);
      expect(rec.turns[0]!.latency?.firstRtpMs).toBeGreaterThanOrEqual(0);
      expect(store.recovery.ended).toEqual([]);
    } finally {
      store.close();
      await agent.stop().catch(() => {});
    }
  }, 30_000);

  test("--mode outbound: an inbound INVITE gets 403 and is not stored", async () => {
    const agent = await startTestAgent({ env: { SIP_TRUNK_HOST: "127.0.0.1" }, mode: "outbound" });
    try {
      const r = await runSipp({ scenario: "inbound-call", target: { host: "127.0.0.1", port: agent.server.sipPort }, audioFile: silenceFile(1), timeoutMs: 5000 });
      expect(r.messages.some((m) => m.status === 403)).toBe(true);
      expect(r.messages.find((m) => m.status === 403)!.text).toMatch(/Warning: 399 voice-agent "inbound calls are off \(--mode outbound\)"/);
      expect(agent.server.store.count()).toBe(0);
    } finally {
      await agent.stop();
    }
  }, 20_000);
});
