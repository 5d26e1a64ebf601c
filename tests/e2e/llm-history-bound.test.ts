/**
 * The LLM request's history is bounded (LLM_HISTORY_MAX_CHARS, src/pipeline/history-bound.ts): every caller
 * turn is a request carrying the conversation so far, so a long call made each request larger than the last
 * (s19 fresheyes finding 6). On the compiled agent with the cloud fakes (loopback), LLM_HISTORY_MAX_CHARS=200:
 * a call from raw SIP, then 10 key groups ("1#", "2#", … "10#", one every ~1.7 s, RFC 4733 events), each a caller
 * turn and an LLM request → the Gemini fake's request bodies stop growing once the bound is reached (the
 * conversation text in each ≤ 200 characters, the body sizes of the last requests within a small band while
 * the turns went on), the newest key group is the last user turn of each request, the conversation starts
 * with a user turn (no "(call connected)" in front of a cut history); the call record (GET /calls/:id) still
 * holds every turn, and the cut is logged once.
 * `VOICE_AGENT_E2E_BINARY=/path bun test …` runs it against another binary (the before/after).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { SPEAK_FIRST_PROMPT } from "../../src/providers/gemini/history.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { startCloudFakes, type CloudFakes } from "./cloud-support.ts";
import { rawDtmfCall, type RawDtmfCall } from "./raw-dtmf-call.ts";

let agent: RunningAgent | undefined;
let fakes: CloudFakes | undefined;
const closers: RawDtmfCall[] = [];
afterAll(async () => {
  for (const c of closers) c.close();
  await agent?.stop();
  await fakes?.close();
}, 30_000);

const BOUND = 200;
/**
 * Caller turns. The bound is reached at the 5th request (history chars 40 80 120 160 200, then 178 each), so
 * the second half of 10 requests — the ones the "stopped growing" band is read on — are all bounded ones.
 * (It was 14: four more bounded requests showed nothing new, 7 s of the file's 26 s.)
 */
const GROUPS = 10;

describe("LLM request history bound (compiled binary, cloud fakes, loopback)", () => {
  test(`${GROUPS} caller turns at LLM_HISTORY_MAX_CHARS=${BOUND}: requests stop growing, the newest turn is in each, the record keeps all`, async () => {
    fakes = startCloudFakes({ script: [], direct: true });
    const binary = process.env.VOICE_AGENT_E2E_BINARY;
    agent = await startAgent(fakes.env({ IDLE_PROMPT_S: "3600", LLM_HISTORY_MAX_CHARS: String(BOUND) }), ["--mode", "inbound"], binary ? { binary } : {});
    const callId = `history-bound-${process.pid}@127.0.0.1`;
    const call = await rawDtmfCall(agent, { callId, tag: "hist", ssrc: 0x415 });
    closers.push(call);
    const gemini = fakes.gemini;
    await waitFor(() => gemini.requests.length >= 1, 15_000, "the greeting's LLM request");
    const key = async (event: number) => (call.key(event), await Bun.sleep(80));
    const groups = Array.from({ length: GROUPS }, (_, i) => String(i + 1)); // "1" … "10": each turn's text differs
    for (const [i, g] of groups.entries()) {
      const before = gemini.requests.length;
      for (const d of g) await key(Number(d));
      await key(11);
      // each group is one caller turn and one LLM request (the newest turn ends its history)
      await waitFor(() => gemini.requests.length > before, 10_000, `the LLM request for key group ${i + 1}`);
      await Bun.sleep(1500);
    }
    const requests = gemini.requests.slice(1); // after the greeting's
    // The conversation's text: the provider's own "(call connected)" turn in front of a whole history (one
    // starting with the greeting, gemini/history.ts) is not the conversation's, and not counted by the bound.
    const textOf = (r: (typeof requests)[number]) =>
      (r.body.contents ?? []).map((c) => (c.parts ?? []).map((p) => p.text ?? "").join("")).filter((t, i) => i > 0 || t !== SPEAK_FIRST_PROMPT).join("");
    const rows = requests.map((r) => ({ body: JSON.stringify(r.body).length, text: textOf(r).length, last: r.body.contents?.at(-1), first: r.body.contents?.[0] }));
    console.log(`llm-history-bound: ${requests.length} requests, body bytes ${rows.map((r) => r.body).join(" ")}; history chars ${rows.map((r) => r.text).join(" ")}`);
    expect(requests.length).toBeGreaterThanOrEqual(GROUPS);
    for (const r of rows) expect(r.text).toBeLessThanOrEqual(BOUND);
    // The newest key group is the last user turn of its request (requests in order of the groups).
    const lastTexts = rows.map((r) => (r.last?.parts ?? []).map((p) => p.text ?? "").join(""));
    for (const [i, g] of groups.entries()) expect(lastTexts[i]).toContain(`keys pressed: ${g}#`);
    expect(rows.at(-1)!.last?.role).toBe("user");
    // Bounded: the last requests start with a caller turn (no "(call connected)" before a cut history) …
    expect(rows.at(-1)!.first?.role).toBe("user");
    expect(JSON.stringify(rows.at(-1)!.first)).not.toContain(SPEAK_FIRST_PROMPT);
    // … and stopped growing: the second half of the call's requests lie within a small band of sizes.
    const late = rows.slice(Math.floor(rows.length / 2)).map((r) => r.body);
    expect(Math.max(...late) - Math.min(...late)).toBeLessThanOrEqual(120);
    expect(Math.max(...late)).toBeLessThan(rows[0]!.body + BOUND + 400);
    // The call record keeps every turn: each key group is a caller turn in it.
    const list = await agent.get("/calls");
    const hit = [...(list.active ?? []), ...(list.recent ?? [])].find((c: any) => c.sipCallId === callId);
    // The greeting, then a caller turn and the agent's reply per key group: the last reply may still be playing.
    const running = agent;
    const record = await waitFor(async () => {
      const r = await running.get(`/calls/${hit.id}`);
      return r.turns.length >= 2 * GROUPS + 1 && r;
    }, 10_000, `the record's ${2 * GROUPS + 1} turns`);
    const callerTurns = record.turns.filter((t: any) => t.speaker === "caller").map((t: any) => t.text as string);
    for (const g of groups) expect(callerTurns.some((t: string) => t.includes(`keys pressed: ${g}#`))).toBe(true);
    expect(callerTurns.length).toBeGreaterThanOrEqual(GROUPS);
    const recordChars = record.turns.map((t: any) => t.text ?? "").join("").length;
    console.log(`llm-history-bound: the record's turns ${record.turns.length}, ${recordChars} chars`);
    expect(recordChars).toBeGreaterThan(2 * BOUND);
    const cut = agent.logs().filter((l) => l.msg === "LLM history bounded: oldest turns left out of the request");
    expect(cut).toHaveLength(1);
    expect(cut[0]).toMatchObject({ maxChars: BOUND });
    await call.hangUp(); // a call left up holds the agent's stop for its 8 s grace (DRAIN_TIMEOUT_S)
  }, 90_000);
});
