/**
 * A hang-up wave against the compiled agent (issue 13: a call's end must not cost the others, and nothing
 * accepted may be lost when many end at once — a trunk failing, a campaign's calls ending together):
 * 50 SIPp callers (tests/scenarios/inbound-call-wave.xml) set up over 2 s, talk (flite), and all send
 * their BYEs at the same wall-clock moment. Then:
 *  - every BYE got its 200 (SIPp exits 0);
 *  - every call's record is stored ended, with reason "remote_bye", an end time at the wave (not when a
 *    deferred write ran), a duration from its answer to that end, and its greeting turn;
 *  - the metrics count the 50 ends (voice_agent_calls_total{result="remote_bye"}) and no call is live;
 *  - after a SIGTERM right behind a second wave, the database file alone holds all 100 records ended.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { freeUdpPort, freeUdpPortRange } from "../support/ports.ts";
import { missingTools, spawnManaged, stopAllManaged, type ManagedProcess } from "../support/process.ts";
import { SCENARIO_DIR } from "../support/sipp.ts";
import { synthesizeCallerAudio } from "../support/speech.ts";
import { repeatLine, startCloudFakes, type CloudFakes } from "./cloud-support.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const CALLS = 50;
/** New calls a second: all 50 are up after 2 s. */
const RATE = 25;
/** From the first call's start to the wave, ms: every call has answered and greeted. */
const WAVE_AFTER_MS = 6000;

let agent: RunningAgent | undefined;
let fakes: CloudFakes | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  await fakes?.close();
  fakes = undefined;
  await stopAllManaged();
}, 20_000);

/** `CALLS` callers whose BYEs all go out at `atMs` (epoch ms); resolves with SIPp's exit code. */
async function wave(a: RunningAgent, audio: string, atMs: number): Promise<ManagedProcess> {
  const localPort = await freeUdpPort();
  const mediaPort = await freeUdpPortRange(4 * CALLS + 8);
  return spawnManaged(
    [
      "sipp", `127.0.0.1:${a.sipPort}`, "-sf", `${SCENARIO_DIR}/inbound-call-wave.xml`, "-m", String(CALLS), "-l", String(CALLS),
      "-r", String(RATE), "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", String(localPort), "-mp", String(mediaPort),
      "-key", "audio", `${audio},-1,0`, "-set", "hangup_at", String(atMs), "-set", "step_ms", "0", "-nostdin", "-s", "agent",
      "-timeout", "60s", "-timeout_error",
    ],
    { name: "sipp" },
  );
}

async function metric(a: RunningAgent, line: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${a.httpPort}/metrics`)).text();
  const m = text.split("\n").find((l) => line.test(l));
  return m === undefined ? undefined : Number(m.slice(m.lastIndexOf(" ") + 1));
}

describe.skipIf(missingTools(["sipp", "flite", "sox"]).length > 0)("a hang-up wave", () => {
  test(
    "50 calls hang up at once: every record ends with its reason, end time and duration; metrics count 50; a SIGTERM behind a second wave loses none",
    async () => {
      const caller = await synthesizeCallerAudio(["I would like to book a table for two tonight, please."], { leadSilenceMs: 1500, trailSilenceMs: 3000 });
      fakes = startCloudFakes({ script: repeatLine("I would like to book a table", 20 * CALLS), reply: ["Certainly, a table for two tonight."], direct: true });
      const rtpStart = await freeUdpPortRange(4 * CALLS + 40);
      agent = await startAgent({
        ...fakes.env(),
        RTP_PORT_START: String(rtpStart),
        RTP_PORT_END: String(rtpStart + 4 * CALLS + 39),
        MAX_CALLS: String(CALLS + 10),
        SIP_RATE_LIMIT: "0",
        SIP_MAX_PENDING_PER_SOURCE: "1000",
        ADMISSION_CPU_PCT: "0",
        ADMISSION_PACER_P99_MS: "0",
        ADMISSION_VAD_SKIP_PCT: "0",
      });
      const a = agent;

      const atMs = Date.now() + WAVE_AFTER_MS;
      const sipp = await wave(a, caller.path, atMs);
      expect(await sipp.exited, sipp.stderr().slice(-500)).toBe(0); // every INVITE answered, every BYE got its 200
      const lastOk = Date.now(); // every call had ended by then: the agent answers the BYE when it ends the call
      const list = await waitFor(async () => {
        const l = await a.get("/calls?limit=1000");
        return l.active.length === 0 && l.recent.length === CALLS ? l : undefined;
      }, 10_000, "50 ended calls and none live");
      const offsets = list.recent.map((r: { endedAt: string }) => Date.parse(r.endedAt) - atMs).sort((x: number, y: number) => x - y);
      console.log(`ends after the wave's BYEs went out, ms: first ${offsets[0]}, median ${offsets[CALLS >> 1]}, last ${offsets[CALLS - 1]}`);
      for (const r of list.recent) {
        expect(r.state).toBe("ended");
        expect(r.endReason).toBe("remote_bye");
        const ended = Date.parse(r.endedAt);
        // Ended when its BYE came (between the wave and SIPp's last 200), not when some deferred work ran.
        expect(ended).toBeGreaterThanOrEqual(atMs - 50);
        expect(ended).toBeLessThanOrEqual(lastOk);
        expect(r.durationMs).toBe(ended - Date.parse(r.answeredAt));
        expect(r.durationMs).toBeGreaterThanOrEqual(0);
      }
      // A call up for 3 s has its greeting (cut or whole) among its stored turns (a loaded machine may answer some late).
      const long = list.recent.filter((r: { durationMs: number }) => r.durationMs >= 3000);
      expect(long.length).toBeGreaterThan(CALLS / 2);
      for (const r of long) expect(r.turns.length).toBeGreaterThanOrEqual(1);
      expect(await metric(a, /^voice_agent_calls_total\{.*result="remote_bye".*\} /)).toBe(CALLS);
      expect(await metric(a, /^voice_agent_active_calls /)).toBe(0);

      // A second wave, the agent stopped right behind it: the database alone has every record ended.
      const at2 = Date.now() + WAVE_AFTER_MS;
      const sipp2 = await wave(a, caller.path, at2);
      expect(await sipp2.exited, sipp2.stderr().slice(-500)).toBe(0);
      expect(await a.proc.stop({ signal: "SIGTERM", graceMs: 8000 })).toBe(0);
      const db = new Database(join(a.dataDir, "calls.db"), { readonly: true });
      try {
        const rows = db.query("SELECT state, end_reason AS endReason, ended_at AS endedAt FROM calls").all() as { state: string; endReason: string; endedAt: string }[];
        expect(rows.length).toBe(2 * CALLS);
        expect(rows.filter((r) => r.state === "ended" && r.endReason === "remote_bye" && r.endedAt).length).toBe(2 * CALLS);
      } finally {
        db.close();
      }
    },
    90_000,
  );
});
