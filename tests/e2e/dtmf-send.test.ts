/**
 * The agent's own DTMF (the send_dtmf tool) on the wire: the compiled agent with the cloud fakes, whose
 * Gemini reply says a line and calls send_dtmf("1#"); SIPp is the caller (its offer names
 * telephone-event on PT 101); the capture, decoded by tshark's `rtpevent` dissector, shows exactly
 * the keys with RFC 4733 §2.5.1 shape: marker on the first packet, duration growing to 1280 (160 ms),
 * the end packet three times, one timestamp per event.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { missingTools } from "../support/process.ts";
import { startAgent, type RunningAgent } from "./agent.ts";
import { placeCall, startCloudFakes, repeatLine, type CloudFakes } from "./cloud-support.ts";

const missing = missingTools(["sipp", "tshark"]);
let fakes: CloudFakes | undefined;
let agent: RunningAgent | undefined;
const dir = mkdtempSync(join(tmpdir(), "va-dtmf-send-"));
afterAll(async () => {
  await agent?.stop();
  await fakes?.close();
  rmSync(dir, { recursive: true, force: true });
});

test.skipIf(missing.length > 0)(
  "send_dtmf(\"1#\") goes out as RFC 4733 events that tshark decodes to 1 and #, 160 ms each, end ×3",
  async () => {
    fakes = startCloudFakes({ script: repeatLine("hello", 10) });
    fakes.gemini.setReply([[{ text: "I will press one and pound now." }], [{ functionCall: { name: "send_dtmf", args: { digits: "1#" } } }]]);
    agent = await startAgent(fakes.env());
    const call = await placeCall(agent, { phrases: [], leadSilenceMs: 6000, listenMs: 1000 });
    const pcap = join(dir, "call.pcap");
    writeFileSync(pcap, call.capture.pcap);
    const p = Bun.spawn(
      ["tshark", "-r", pcap, "-o", "rtp.heuristic_rtp:TRUE", "-o", "rtpevent.event_payload_type_value:101", "-Y", "rtpevent",
        "-T", "fields", "-E", "separator=,", "-e", "rtp.marker", "-e", "rtp.timestamp", "-e", "rtpevent.event_id", "-e", "rtpevent.end_of_event", "-e", "rtpevent.duration"],
      { stdout: "pipe", stderr: "pipe" },
    );
    const out = (await new Response(p.stdout).text()).trim();
    expect(await p.exited, await new Response(p.stderr).text()).toBe(0);
    const rows = out.split("\n").filter(Boolean).map((l) => l.split(","));
    const summary = `${call.describe}\n${out}`;
    const events = [...new Set(rows.map((r) => r[1]))].map((ts) => rows.filter((r) => r[1] === ts));
    expect(events.map((e) => e[0]![2]), summary).toEqual(["1", "11"]);
    for (const e of events) {
      expect(e.map((r) => Number(r[4])), summary).toEqual([160, 320, 480, 640, 800, 960, 1120, 1280, 1280, 1280]);
      expect(e.map((r) => r[3] === "1" || r[3] === "True"), summary).toEqual([false, false, false, false, false, false, false, true, true, true]);
      expect(e.map((r) => r[0] === "1" || r[0] === "True"), summary).toEqual([true, false, false, false, false, false, false, false, false, false]);
    }
    expect(call.sipp.exitCode, call.describe).toBe(0);
  },
  90_000,
);
