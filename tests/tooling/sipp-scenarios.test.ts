/**
 * Every SIPp scenario in tests/scenarios/ runs to success against the stand-in UAS (so the XML is
 * valid and the message flow is what the scenario comment says), and fails when the far end answers
 * wrongly (so the checks in the XML can fail).
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { runSipp, describeSipp, parseSippMessageLog, tellSippToHangUp, type SippResult } from "../support/sipp.ts";
import { freeUdpPort } from "../support/ports.ts";
import { silenceFile } from "../support/speech.ts";
import { stopAllManaged, liveManagedCount } from "../support/process.ts";
import { StandinUas } from "./standin-uas.ts";

let uas: StandinUas | undefined;
afterEach(() => {
  uas?.stop();
  uas = undefined;
});
afterAll(async () => {
  await stopAllManaged();
});

async function standin(opts: ConstructorParameters<typeof StandinUas>[0] = {}): Promise<StandinUas> {
  uas = await new StandinUas(opts).start();
  return uas;
}

function flow(r: SippResult): string[] {
  return r.messages.map((m) => `${m.direction === "sent" ? ">" : "<"} ${m.method ?? m.status}`);
}

function header(r: SippResult, index: number, name: string): string | undefined {
  const m = r.messages[index]!.text.match(new RegExp(`^${name}: *(.*)$`, "mi"));
  return m?.[1];
}

describe("SIPp scenarios against the stand-in UAS", () => {
  test("every scenario file is run by some test; the stand-in ones here", () => {
    const files = readdirSync("tests/scenarios").filter((f) => f.endsWith(".xml")).sort();
    const sources = [...new Bun.Glob("tests/**/*.ts").scanSync(".")].map((p) => readFileSync(p, "utf8")).join("\n");
    expect(files.filter((f) => !sources.includes(`"${f.slice(0, -4)}"`))).toEqual([]); // named as a string somewhere
    // Tested in this file (the outbound-*, turn-* and in-dialog suites test their own scenarios).
    for (const f of ["agent-hangup.xml", "bad-codec.xml", "cancel.xml", "inbound-call.xml", "options.xml", "pcma-only.xml", "unknown-bye.xml", "unsupported.xml"]) {
      expect(files).toContain(f);
    }
  }, 15_000);

  test("inbound-call: INVITE/100/180/200/ACK, μ-law RTP flows, BYE/200", async () => {
    const s = await standin();
    const r = await runSipp({ scenario: "inbound-call", target: `127.0.0.1:${s.sipPort}`, audioFile: silenceFile(1), pauseMs: 600, timeoutMs: 10_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(flow(r)).toEqual(["> INVITE", "< 100", "< 180", "< 200", "> ACK", "> BYE", "< 200"]);
    // ACK and BYE go to the 200's Contact (remote target, RFC 3261 §12.1.2) and carry its To tag.
    expect(r.messages[4]!.firstLine).toBe(`ACK sip:agent@127.0.0.1:${s.sipPort} SIP/2.0`);
    expect(header(r, 4, "To")).toMatch(/;tag=standin\d+/);
    expect(header(r, 5, "To")).toBe(header(r, 3, "To"));
    // The offer: PCMU, PCMA, telephone-event 101 on the SIPp media port.
    expect(r.messages[0]!.text).toContain(`m=audio ${r.mediaPort} RTP/AVP 0 8 101`);
    expect(r.messages[0]!.text).toContain("a=rtpmap:101 telephone-event/8000");
    expect(s.received).toEqual(["INVITE", "ACK", "BYE"]);
    expect(s.rtpIn).toBeGreaterThanOrEqual(25); // ~600 ms of 20 ms packets
  }, 15_000);

  test("inbound-call-until-info: talks until told (an INFO on its Call-ID gets 200), then BYE with the 200's To tag", async () => {
    const s = await standin();
    const port = await freeUdpPort();
    const t0 = performance.now();
    const run = runSipp({
      scenario: "inbound-call-until-info",
      target: `127.0.0.1:${s.sipPort}`,
      localPort: port,
      audioFile: silenceFile(30),
      timeoutMs: 20_000,
      extraArgs: ["-cid_str", `told-${port}-%u@%s`],
    });
    const deadline = Date.now() + 10_000;
    while (!s.received.includes("ACK") && Date.now() < deadline) await Bun.sleep(50);
    await Bun.sleep(500);
    expect(s.received).toEqual(["INVITE", "ACK"]); // still talking: no BYE before it is told
    await tellSippToHangUp(port, `told-${port}-1@127.0.0.1`);
    const r = await run;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(performance.now() - t0).toBeLessThan(15_000); // not the scenario's own 45 s
    expect(flow(r)).toEqual(["> INVITE", "< 100", "< 180", "< 200", "> ACK", "< INFO", "> 200", "> BYE", "< 200"]);
    expect(header(r, 7, "To")).toBe(header(r, 3, "To"));
    expect(header(r, 7, "To")).toMatch(/;tag=standin\d+/);
    expect(s.received).toEqual(["INVITE", "ACK", "BYE"]);
  }, 25_000);

  test("pcma-only: succeeds when the answer is PCMA", async () => {
    const s = await standin();
    const r = await runSipp({ scenario: "pcma-only", target: `127.0.0.1:${s.sipPort}`, audioFile: silenceFile(0.5, "alaw"), pauseMs: 300, timeoutMs: 10_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(r.messages[0]!.text).toContain(`m=audio ${r.mediaPort} RTP/AVP 8 101`);
    expect(r.messages.find((m) => m.status === 200)!.text).toContain("RTP/AVP 8 101");
  }, 15_000);

  test("pcma-only: fails the call when the answer is PCMU (the ereg check works)", async () => {
    const s = await standin({ forceAnswerPt: 0 });
    const r = await runSipp({ scenario: "pcma-only", target: `127.0.0.1:${s.sipPort}`, audioFile: silenceFile(0.5, "alaw"), pauseMs: 300, timeoutMs: 10_000 });
    expect(r.exitCode).toBe(1);
    expect(r.timedOut).toBe(false);
    // It failed on the answer, not at start-up.
    expect(r.messages.find((m) => m.status === 200)?.text).toContain("RTP/AVP 0 101");
    expect(r.errors).toContain("Failed regexp match");
  }, 15_000);

  test("bad-codec: G.729-only offer gets 488, ACKed on the INVITE's branch", async () => {
    const s = await standin();
    const r = await runSipp({ scenario: "bad-codec", target: `127.0.0.1:${s.sipPort}`, timeoutMs: 10_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(flow(r)).toEqual(["> INVITE", "< 100", "< 488", "> ACK"]);
    expect(r.messages[0]!.text).toContain("RTP/AVP 18");
    expect(header(r, 3, "Via")).toBe(header(r, 0, "Via")); // RFC 3261 §17.1.1.3
    expect(header(r, 3, "To")).toBe(header(r, 2, "To"));
  }, 15_000);

  test("bad-codec: fails when the far end accepts the call", async () => {
    const s = await standin({ forceAnswerPt: 18 });
    const r = await runSipp({ scenario: "bad-codec", target: `127.0.0.1:${s.sipPort}`, timeoutMs: 6_000 });
    expect(r.exitCode).not.toBe(0);
    expect(r.messages.some((m) => m.status === 200)).toBe(true);
  }, 15_000);

  test("cancel: 180 → CANCEL → 200 + 487 → ACK, CANCEL and ACK on the INVITE's branch", async () => {
    const s = await standin({ ringMs: 3000 });
    const r = await runSipp({ scenario: "cancel", target: `127.0.0.1:${s.sipPort}`, timeoutMs: 10_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(flow(r)).toEqual(["> INVITE", "< 100", "< 180", "> CANCEL", "< 200", "< 487", "> ACK"]);
    const branch = (i: number) => header(r, i, "Via")!.match(/branch=([^;]+)/)![1];
    expect(branch(3)).toBe(branch(0)); // RFC 3261 §9.1
    expect(branch(6)).toBe(branch(0)); // §17.1.1.3
    expect(header(r, 6, "To")).toBe(header(r, 5, "To"));
    expect(s.sent).toContain("CANCEL 200");
    expect(s.sent).toContain("INVITE 487");
  }, 15_000);

  test("unknown-bye: 481", async () => {
    const s = await standin();
    const r = await runSipp({ scenario: "unknown-bye", target: `127.0.0.1:${s.sipPort}`, timeoutMs: 10_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(flow(r)).toEqual(["> BYE", "< 481"]);
  }, 15_000);

  test("options: 200", async () => {
    const s = await standin();
    const r = await runSipp({ scenario: "options", target: `127.0.0.1:${s.sipPort}`, timeoutMs: 10_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(flow(r)).toEqual(["> OPTIONS", "< 200"]);
  }, 15_000);

  test("unsupported: SUBSCRIBE 405, MESSAGE 405, FROBNICATE 501; a 200 makes it fail", async () => {
    const s = await standin();
    const r = await runSipp({ scenario: "unsupported", target: `127.0.0.1:${s.sipPort}`, timeoutMs: 10_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(flow(r)).toEqual(["> SUBSCRIBE", "< 405", "> MESSAGE", "< 405", "> FROBNICATE", "< 501"]);
    s.stop();
    const yes = await standin({ acceptUnknownMethods: true });
    const bad = await runSipp({ scenario: "unsupported", target: `127.0.0.1:${yes.sipPort}`, timeoutMs: 6_000 });
    expect(bad.exitCode).not.toBe(0);
    expect(flow(bad).slice(0, 2)).toEqual(["> SUBSCRIBE", "< 200"]);
  }, 15_000);

  test("agent-hangup: the far end's BYE is answered 200", async () => {
    const s = await standin({ agentAudio: new Uint8Array(1600).fill(0xff), hangupAfterAudio: true });
    const r = await runSipp({ scenario: "agent-hangup", target: `127.0.0.1:${s.sipPort}`, audioFile: silenceFile(0.4), timeoutMs: 10_000 });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(flow(r)).toEqual(["> INVITE", "< 100", "< 180", "< 200", "> ACK", "< BYE", "> 200"]);
  }, 15_000);

  test("a missing key fails at start, and timeoutMs kills a call that hangs", async () => {
    const s = await standin();
    const noKey = await runSipp({ scenario: "inbound-call", target: `127.0.0.1:${s.sipPort}`, timeoutMs: 10_000 });
    expect(noKey.exitCode).not.toBe(0);
    expect(noKey.messages).toEqual([]);
    expect(noKey.stdout + noKey.stderr).toContain("keyword not supplied");
    // agent-hangup waits forever for a BYE the stand-in never sends.
    const t0 = performance.now();
    const hung = await runSipp({ scenario: "agent-hangup", target: `127.0.0.1:${s.sipPort}`, audioFile: silenceFile(0.2), timeoutMs: 1500 });
    expect(hung.timedOut).toBe(true);
    expect(hung.exitCode).toBeNull();
    expect(performance.now() - t0).toBeLessThan(4000);
    expect(liveManagedCount()).toBe(0);
  }, 15_000);
});

describe("parseSippMessageLog", () => {
  test("splits blocks and reads first lines", () => {
    const log = [
      "----------------------------------------------- 2026-11-29 07:24:03.734288",
      "UDP message sent (20 bytes):",
      "",
      "OPTIONS sip:a@127.0.0.1:5060 SIP/2.0",
      "Call-ID: x",
      "",
      "",
      "----------------------------------------------- 2026-11-29 07:24:03.734388",
      "UDP message received [30] bytes :",
      "",
      "SIP/2.0 200 OK",
      "Call-ID: x",
      "",
    ].join("\n");
    const m = parseSippMessageLog(log);
    expect(m.map((x) => [x.direction, x.method, x.status, x.time])).toEqual([
      ["sent", "OPTIONS", undefined, "2026-11-29 07:24:03.734288"],
      ["received", undefined, 200, "2026-11-29 07:24:03.734388"],
    ]);
    expect(m[1]!.text).toBe("SIP/2.0 200 OK\nCall-ID: x\n");
  });
});
