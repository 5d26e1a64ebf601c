/**
 * DTMF into the conversation, through the compiled agent (offline pipeline, a keypad SCRIPT_FILE) with
 * SIPp as the caller (tests/scenarios/dtmf-caller.xml): RFC 4733 events on PT 96 without the marker bit,
 * a 3 s long press with updates only every 500 ms, end packets ×3 (tests/e2e/dtmf-pcap.ts), then SIP INFO
 * (dtmf-relay Signal=5, application/dtmf #). Exactly the keys pressed reach the conversation, grouped,
 * and the scripted dialogue branches on them to its end state (the agent's BYE).
 *
 * The same caller against the cloud pipeline (Deepgram, Gemini, Cartesia protocol fakes): the Gemini fake
 * receives the keys as caller turns in the `contents` of its requests, and its end_call ends the call.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { missingTools } from "../support/process.ts";
import { startAgent } from "./agent.ts";
import { startCloudFakes } from "./cloud-support.ts";
import { dtmfPackets, writeRtpPcap } from "./dtmf-pcap.ts";

const missing = missingTools(["sipp"]);
// SIPp's play_pcap_audio sends through a raw socket (CAP_NET_RAW).
const raw = process.getuid?.() === 0;

test.skipIf(missing.length > 0 || !raw)(
  "RFC 4733 on PT 96 (no marker, long press, triple ends) and SIP INFO: exactly the keys pressed, the script branches on them",
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "va-dtmf-"));
    const pcap = join(dir, "keys.pcap");
    // 2 held for 3 s (updates every 500 ms), then 1 (normal, 50 ms updates), then # → "21#".
    writeRtpPcap(pcap, dtmfPackets([{ event: 2, ms: 3000, everyMs: 500 }, { event: 1, ms: 160, everyMs: 50 }, { event: 11, ms: 120, everyMs: 40 }], { payloadType: 96, marker: false, startMs: 1500 }));
    const agent = await startAgent({ SCRIPT_FILE: "tests/fixtures/dtmf-menu.json", LLM_PROVIDER: "scripted" });
    try {
      const r = await runSipp({ scenario: "dtmf-caller", target: `127.0.0.1:${agent.sipPort}`, keys: { dtmf: pcap }, pauseMs: 9000, timeoutMs: 60_000 });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const { recent } = await agent.get("/calls");
      const record = await agent.get(`/calls/${recent[0].id}`);
      const turns = record.turns.map((t: any) => `${t.speaker}: ${t.text}`);
      const callerTurns = record.turns.filter((t: any) => t.speaker === "caller").map((t: any) => t.text);
      expect(callerTurns, turns.join("\n")).toEqual(["[keys pressed: 21#]", "[keys pressed: 5#]"]);
      expect(turns.at(-1), turns.join("\n")).toBe("agent: Code 5 received. Goodbye.");
      const keys = agent.logs().filter((l: any) => l.callId === record.id && l.msg === "dtmf received");
      expect(keys.map((l: any) => l.endSeen)).toEqual([true, true, true]);
      expect(keys[0].durationMs).toBe(3000);
    } finally {
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
  90_000,
);

test.skipIf(missing.length > 0 || !raw)(
  "the LLM (Gemini protocol fake) sees the keys as caller turns, grouped as DTMF_TERMINATOR/DTMF_INTER_DIGIT_MS say; its end_call hangs up",
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "va-dtmf-llm-"));
    const pcap = join(dir, "keys.pcap");
    // RFC 4733 (PT 96, no marker): 3 * 4, then 5 and # by SIP INFO (the scenario, 4 s later).
    writeRtpPcap(pcap, dtmfPackets([{ event: 3, ms: 160, everyMs: 50 }, { event: 10, ms: 120, everyMs: 40 }, { event: 4, ms: 160, everyMs: 50 }], { payloadType: 96, marker: false, startMs: 1500 }));
    const fakes = startCloudFakes({ script: [], reply: ["Hello, please enter your code."] });
    // "*" ends a group, "#" does not; a group also ends 1 s after its last key. Default settings would
    // give "3*4" (timeout) and "5#" instead.
    const agent = await startAgent(fakes.env({ DTMF_TERMINATOR: "*", DTMF_INTER_DIGIT_MS: "1000" }));
    // After the first two key turns, the model's next answer is end_call (the turn of "5#" gets it).
    let watching = true;
    const watcher = (async () => {
      while (watching && fakes.gemini.requests.length < 3) await Bun.sleep(10);
      fakes.gemini.setReply([[{ text: "Thank you, goodbye." }], [{ functionCall: { name: "end_call", args: {} } }]]);
    })();
    try {
      const r = await runSipp({ scenario: "dtmf-caller", target: `127.0.0.1:${agent.sipPort}`, keys: { dtmf: pcap }, pauseMs: 4000, timeoutMs: 40_000 });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const keyTurns = fakes.gemini.requests.map((q) =>
        (q.body.contents ?? []).filter((c) => c.role === "user").map((c) => (c.parts ?? []).map((p) => p.text ?? "").join("")).filter((t) => t.includes("keys pressed")),
      );
      // Request 1: the greeting; then one request per key turn, each carrying the history so far.
      expect(keyTurns, JSON.stringify(keyTurns)).toEqual([
        [],
        ["[keys pressed: 3*]"],
        ["[keys pressed: 3*]", "[keys pressed: 4]"],
        ["[keys pressed: 3*]", "[keys pressed: 4]", "[keys pressed: 5#]"],
      ]);
      const { recent } = await agent.get("/calls");
      expect(recent[0].endReason).toBe("end_call");
    } finally {
      watching = false;
      await watcher;
      await agent.stop();
      await fakes.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
  60_000,
);
