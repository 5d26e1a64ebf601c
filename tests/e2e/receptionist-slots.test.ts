/**
 * The offline receptionist on the compiled binary (pocketsphinx, the scripted dialogue, flite), called by
 * SIPp: a caller who gives the name and the purpose in one breath ("My name is John Smith. I am calling
 * about my bill.") is not asked "What are you calling about today?" — the next reply is the billing
 * confirmation. Session 17 found the receptionist asking for the purpose the caller had just named
 * (README caller.wav; the name capture took the name and dropped the rest).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { missingTools } from "../support/process.ts";
import { runSipp, tellSippToHangUp } from "../support/sipp.ts";
import { silenceFile, synthesizeCallerAudio } from "../support/speech.ts";
import { freeUdpPort, freeUdpPortRange } from "../support/ports.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const missing = missingTools(["sipp", "flite", "pocketsphinx_continuous"]);
let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
}, 30_000);

describe.skipIf(missing.length > 0)("receptionist slot filling (compiled binary, SIPp caller)", () => {
  test("name and purpose in one answer: the next reply confirms the purpose instead of asking for it", async () => {
    agent = await startAgent({ IDLE_PROMPT_S: "60" });
    const phrase = await synthesizeCallerAudio(["My name is John Smith. I am calling about my bill."], {
      voice: "awb",
      leadSilenceMs: 0,
      trailSilenceMs: 30_000,
    });
    const sippPort = await freeUdpPort();
    const media = await freeUdpPortRange(4);
    const run = runSipp({
      scenario: "inbound-call-turns",
      target: `127.0.0.1:${agent.sipPort}`,
      localPort: sippPort,
      mediaPort: media,
      audioFile: silenceFile(30),
      keys: { phrase1: `${resolve(phrase.path)},1,0`, phrase2: `${silenceFile(30)},1,0` },
      timeoutMs: 60_000,
      extraArgs: ["-cid_str", `slots-${sippPort}-%u@%s`],
    });
    const callId = `slots-${sippPort}-1@127.0.0.1`;
    const turnsPlayed = () => agent!.logs().filter((l) => l.msg === "agent turn").length;
    await waitFor(() => turnsPlayed() >= 1, 45_000, "the greeting played");
    await tellSippToHangUp(sippPort, callId); // the caller speaks phrase 1
    const id = (await waitFor(async () => (await agent!.get("/calls")).active?.[0]?.id, 10_000, "the live call")) as string;
    const reply = await waitFor(
      async () => {
        const rec = await agent!.get(`/calls/${id}`);
        const agentTurns = (rec.turns ?? []).filter((t: { speaker: string }) => t.speaker === "agent");
        return agentTurns.length >= 2 ? { caller: rec.turns.filter((t: { speaker: string }) => t.speaker === "caller"), text: agentTurns[1].text as string } : undefined;
      },
      30_000,
      "the agent's reply to the caller's answer",
    );
    expect(reply.text, `caller heard as ${JSON.stringify(reply.caller.map((t: { text: string }) => t.text))}`).toContain("you are calling about a bill");
    expect(reply.text).not.toContain("What are you calling about");
    await tellSippToHangUp(sippPort, callId); // phrase 2 (silence)
    await tellSippToHangUp(sippPort, callId); // BYE
    await run;
  }, 90_000);
});
