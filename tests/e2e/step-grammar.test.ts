/**
 * The per-step grammar on the compiled binary (offline pipeline): a dialogue step that expects
 * categories makes the agent's pocketsphinx listen with that step's JSGF grammar
 * (src/providers/pocketsphinx/grammar.ts). The caller (flite kal16 through μ-law) says "I want to pay
 * my invoice" — which the open language model hears as "i want to pay my envoy" (bench
 * tests/providers/offline/bench/stt-grammar.ts) — and the dialogue takes the billing branch.
 */
import { expect, test } from "bun:test";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { missingTools } from "../support/process.ts";
import { synthesizeCallerAudio } from "../support/speech.ts";
import { startAgent } from "./agent.ts";

const missing = missingTools(["sipp", "pocketsphinx_continuous", "flite"]);

test.skipIf(missing.length > 0)(
  "a category step's grammar hears 'invoice' and the dialogue answers with the billing branch",
  async () => {
    const agent = await startAgent({ SCRIPT_FILE: "tests/fixtures/category-menu.json", LLM_PROVIDER: "scripted", IDLE_PROMPT_S: "60" });
    try {
      // The greeting takes ~4 s (longer on a loaded machine); the caller answers after it.
      const caller = await synthesizeCallerAudio([{ silenceMs: 9000 }, "I want to pay my invoice.", { silenceMs: 2000 }], { voice: "kal16", leadSilenceMs: 0 });
      const r = await runSipp({ scenario: "agent-hangup", target: `127.0.0.1:${agent.sipPort}`, audioFile: caller.path, timeoutMs: 60_000 });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const { recent } = await agent.get("/calls");
      const record = await agent.get(`/calls/${recent[0].id}`);
      const turns = record.turns.map((t: any) => `${t.speaker}: ${t.text}`);
      expect(turns.at(-1), turns.join("\n")).toBe("agent: Billing. Goodbye.");
      expect(record.turns.filter((t: any) => t.speaker === "caller").map((t: any) => t.text).join(" "), turns.join("\n")).toContain("invoice");
    } finally {
      await agent.stop();
    }
  },
  90_000,
);
