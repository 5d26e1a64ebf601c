/**
 * The call page (GET /ui) in headless Chromium against the compiled agent during a real SIPp call,
 * with the cloud providers as local fakes (Deepgram, Gemini, Cartesia): the page refuses the data
 * without the token; with it, the live list shows the call; the transcript shows the caller's words
 * and the agent's replies within a second of the agent recording them; the barge-in shows the unheard
 * part of the reply struck through; the agent's reply has its latency bar with a segment per stage;
 * at hang-up the call leaves the live list for the recent list. A phone-sized screenshot is saved as
 * .test-artifacts/call-page.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Browser, CHROMIUM } from "../support/chromium.ts";
import { missingTools } from "../support/process.ts";
import { placeCall, repeatLine, startCloudFakes, type CloudFakes, type PlacedCall } from "./cloud-support.ts";
import { startAgent, type RunningAgent } from "./agent.ts";

const TOKEN = "call-page-token-0123456789";
const CALLER_LINE = "I would like to book a table for two";
const GREETING = ["Hello, thank you for calling. ", "How can I help you today?"];
/** About 6 s of the fake's audio: long enough for the caller to cut it. */
const LONG_REPLY = ["Certainly. ", `${"We have many tables free tonight, at six, at seven, at eight and at nine. ".repeat(15)}`];
const skip = !CHROMIUM || missingTools(["sipp", "flite", "sox"]).length > 0;

/** Records in the page when each transcript entry first appeared (ms since epoch) and its text. */
const RECORDER = `(() => {
  window.__seen = [];
  const note = () => document.querySelectorAll("#transcript .turn").forEach((n) => {
    if (n.__t) return; n.__t = Date.now(); window.__seen.push({ node: n, t: n.__t });
  });
  new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
  return true;
})()`;

let fakes: CloudFakes;
let agent: RunningAgent;
let browser: Browser;
let call: PlacedCall;
let base: string;
const page: Record<string, any> = {};

beforeAll(async () => {
  if (skip) return;
  fakes = startCloudFakes({ script: repeatLine(CALLER_LINE, 10), reply: GREETING });
  fakes.cartesia.setMode({ chunkDelayMs: 30 });
  agent = await startAgent({ ...fakes.env(), API_TOKEN: TOKEN });
  base = `http://127.0.0.1:${agent.httpPort}`;
  browser = await Browser.start({ width: 390, height: 844 });
  await browser.navigate(`${base}/ui`);
  page.loginShown = await browser.waitFor(`!document.getElementById("login").hidden && document.getElementById("app").hidden`, 10_000);
  page.eventsWithoutToken = await browser.eval(`fetch("/events").then((r) => r.status)`);
  page.callsWithoutToken = await browser.eval(`fetch("/calls").then((r) => r.status)`);
  await browser.eval(`document.getElementById("token").value = "wrong-token-0123456789"; document.getElementById("login-form").requestSubmit(); true`);
  page.wrongToken = await browser.waitFor(`document.getElementById("login-error").textContent`, 10_000);
  await browser.eval(`document.getElementById("token").value = ${JSON.stringify(TOKEN)}; document.getElementById("login-form").requestSubmit(); true`);
  await browser.waitFor(`!document.getElementById("app").hidden && document.getElementById("conn").textContent === "live"`, 10_000);
  await browser.eval(RECORDER);

  call = await placeCall(agent, {
    phrases: [`${CALLER_LINE}.`, "Wait, sorry."],
    gapMs: 2600,
    listenMs: 3500,
    during: async () => {
      const switchReply = (async () => {
        while (fakes.gemini.requests.length < 1) await Bun.sleep(10);
        fakes.gemini.setReply(LONG_REPLY.map((t) => [{ text: t }]));
      })();
      // The row appears when the INVITE is taken; the codec once the media starts (a `call` update).
      page.liveRow = await browser.waitFor(`document.querySelector("#live-rows tr")?.textContent.includes("PCMU") && document.querySelector("#live-rows tr").textContent`, 15_000);
      await browser.eval(`document.querySelector("#live-rows tr").click(); true`);
      page.struck = await browser.waitFor(`document.querySelector("#transcript .turn.agent s")?.textContent`, 30_000);
      page.barSpans = await browser.waitFor(`document.querySelector("#transcript .turn.agent s").parentElement.querySelector(".bar")?.children.length`, 10_000);
      await browser.eval(`document.querySelector("#transcript .turn.agent s").parentElement.scrollIntoView({ block: "end" }); true`);
      await browser.screenshot(".test-artifacts/call-page.png");
      await switchReply;
    },
  });
  page.liveEmpty = await browser.waitFor(`document.querySelectorAll("#live-rows tr").length === 0 && document.querySelectorAll("#recent-rows tr").length`, 10_000);
  page.seen = await browser.eval(`window.__seen.map((s) => ({ cls: s.node.className, text: s.node.querySelector(".text")?.textContent ?? s.node.textContent, t: s.t }))`);
  page.interimShown = await browser.eval(`window.__seen.some((s) => s.node.classList.contains("interim"))`);
  await browser.screenshot(".test-artifacts/call-page-ended.png");
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await agent?.stop();
  await fakes?.close();
});

describe.skipIf(skip)("the call page in Chromium, during a SIPp call", () => {
  test("without the token the page shows only its login form and the API refuses the data", () => {
    expect(page.loginShown).toBe(true);
    expect(page.eventsWithoutToken).toBe(401);
    expect(page.callsWithoutToken).toBe(401);
    expect(page.wrongToken).toContain("refused");
  });

  test("the live list showed the call while it ran, and the recent list has it once it ended", () => {
    expect(call.sipp.exitCode).toBe(0);
    expect(page.liveRow).toContain("in");
    expect(page.liveRow).toContain("PCMU"); // present in the row, hidden by CSS on a phone-sized screen
    expect(page.liveEmpty).toBeGreaterThanOrEqual(1);
  });

  test("each turn appeared on the page within a second of the agent recording it", () => {
    const turns = call.record.turns as Array<{ speaker: string; text: string; at: string }>;
    expect(turns.length).toBeGreaterThanOrEqual(3); // greeting, caller, interrupted reply (and more)
    const seen = page.seen as Array<{ cls: string; text: string; t: number }>;
    for (const turn of turns) {
      const hit = seen.find((s) => s.cls.includes(turn.speaker) && !s.cls.includes("interim") && s.text === turn.text);
      expect(hit, `turn on the page: ${turn.speaker} "${turn.text}"`).toBeDefined();
      // The page opened the call before the caller spoke: turns recorded earlier came with the snapshot.
      expect(hit!.t - Date.parse(turn.at)).toBeLessThan(1000);
    }
    expect(seen.some((s) => s.cls.includes("caller") && s.text.includes("book a table"))).toBe(true);
  });

  test("the agent's reply shows while it is spoken, before its turn is recorded", () => {
    const cut = (call.record.turns as any[]).find((t) => t.speaker === "agent" && t.interrupted);
    const seen = page.seen as Array<{ cls: string; text: string; t: number }>;
    const saying = seen.filter((s) => s.cls.includes("agent") && s.cls.includes("interim"));
    expect(saying.length).toBeGreaterThanOrEqual(1);
    // The cut reply was recorded at the barge-in, ~1.5 s after it started: its live text came before.
    expect(saying.some((s) => s.t < Date.parse(cut.at) - 500)).toBe(true);
  });

  test("interim words are shown greyed when the STT sent any", () => {
    const interims = fakes.deepgram.connections.flatMap((c: any) => c.sent).filter((m: any) => m.type === "Results" && !m.is_final && m.channel?.alternatives?.[0]?.transcript);
    console.log(`interim results sent by the STT fake: ${interims.length}`);
    if (interims.length > 0) expect(page.interimShown).toBe(true);
    else expect(page.interimShown).toBe(false);
  });

  test("the barge-in shows the unheard part of the reply struck through", () => {
    const cut = (call.record.turns as any[]).find((t) => t.speaker === "agent" && t.interrupted);
    expect(cut).toBeDefined();
    expect(call.record.bargeIns).toBeGreaterThanOrEqual(1);
    expect(page.struck.trim().length).toBeGreaterThan(20);
    expect(cut.generatedText.replace(/\s+/g, " ")).toContain(page.struck.trim().replace(/\s+/g, " "));
  });

  test("the cut reply has its latency bar with one segment per stage (end of speech → transcript → token → audio → RTP)", () => {
    const cut = (call.record.turns as any[]).find((t) => t.speaker === "agent" && t.interrupted);
    // The four stages of the bar (the record also keeps the provider requests' times and the end, for traces).
    expect(Object.keys(cut.latency)).toEqual(expect.arrayContaining(["finalTranscriptMs", "firstAudioMs", "firstRtpMs", "firstTokenMs"]));
    expect(page.barSpans).toBe(4);
  });
});
