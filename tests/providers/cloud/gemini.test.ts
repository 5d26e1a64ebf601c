import { afterEach, describe, expect, test } from "bun:test";
import { normalizeTurns, SILENCE_PROMPT, SPEAK_FIRST_PROMPT } from "../../../src/providers/gemini/history";
import { GeminiLlm, mapGeminiError } from "../../../src/providers/gemini/provider";
import { GEMINI_DEFAULTS } from "../../../src/providers/gemini/options";
import { defaultTools } from "../../../src/providers/tools/registry";
import { ProviderError, type ChatMessage, type LlmChunk, type LlmRequest } from "../../../src/providers/types";
import { FakeClock } from "../../../src/util/clock";
import { startFakeGemini, type FakeGemini } from "../../fakes/gemini";
import { LLM_HTTP_FAULTS } from "../../fakes/sse";
import { collect, waitUntil } from "../../fakes/wait";
import { KillableRelay } from "../../e2e/cloud-support";

let fake: FakeGemini;
afterEach(async () => {
  await fake?.close();
});

function llm(extra: Partial<ConstructorParameters<typeof GeminiLlm>[0]> = {}): GeminiLlm {
  return new GeminiLlm({ apiKey: "test-key", baseUrl: fake.url, ...extra });
}

function req(history: ChatMessage[], signal = new AbortController().signal, tools = defaultTools()): LlmRequest {
  return { system: "You are a phone receptionist. Be brief.", history, tools, signal };
}

describe("Gemini LLM against the local fake", () => {
  test("sends system instruction, history as user/model contents and the tools; streams text chunks", async () => {
    fake = startFakeGemini({ reply: [[{ text: "Sure, " }], [{ text: "one moment." }]] });
    const chunks = await collect(
      llm({ model: "gemini-2.0-flash" }).generate(
        req([
          { role: "assistant", text: "Hello, Acme, how can I help?" },
          { role: "user", text: "I'd like to book a table." },
        ]),
      ),
    );
    expect(chunks).toEqual([
      { type: "text", text: "Sure, " },
      { type: "text", text: "one moment." },
      // The last response's usageMetadata (promptTokenCount, candidatesTokenCount), once, at the end.
      { type: "usage", inputTokens: 10, outputTokens: 2 },
    ]);
    const r = fake.requests[0];
    expect(r.version).toBe("v1");
    expect(r.model).toBe("gemini-2.0-flash");
    expect(r.query.alt).toBe("sse");
    expect(r.headers["x-goog-api-key"]).toBe("test-key");
    expect(r.body.systemInstruction?.parts?.[0]?.text).toBe("You are a phone receptionist. Be brief.");
    expect(r.body.contents).toEqual([
      { role: "user", parts: [{ text: SPEAK_FIRST_PROMPT }] },
      { role: "model", parts: [{ text: "Hello, Acme, how can I help?" }] },
      { role: "user", parts: [{ text: "I'd like to book a table." }] },
    ]);
    const decls = r.body.tools?.[0]?.functionDeclarations ?? [];
    expect(decls.map((d) => d.name)).toEqual(["end_call", "send_dtmf"]);
    expect(decls[0].parametersJsonSchema).toEqual(defaultTools()[0].parameters);
    expect(decls[0].description).toContain("goodbye");
  });

  test("consecutive requests reuse one kept-alive connection (no new TCP/TLS handshake per turn)", async () => {
    fake = startFakeGemini();
    const g = llm();
    for (let i = 0; i < 3; i++) await collect(g.generate(req([{ role: "user", text: `turn ${i}` }])));
    const ports = fake.requests.map((r) => r.remotePort);
    expect(ports).toHaveLength(3);
    expect(ports[0]).toBeNumber();
    expect(new Set(ports).size, `client ports ${ports.join(", ")}`).toBe(1);
  });

  test("prepare() opens the connection the first request then uses (one TCP accept in all)", async () => {
    fake = startFakeGemini();
    const relay = KillableRelay.start(Number(new URL(fake.url).port));
    try {
      const g = new GeminiLlm({ apiKey: "test-key", baseUrl: `http://127.0.0.1:${relay.port}` });
      g.prepare();
      await waitUntil(() => relay.accepted === 1, "the prepared connection accepted");
      await collect(g.generate(req([{ role: "user", text: "hi" }])));
      g.prepare(); // one is pooled: nothing new
      await collect(g.generate(req([{ role: "user", text: "again" }])));
      expect(fake.requests).toHaveLength(2);
      expect(relay.accepted).toBe(1);
      new GeminiLlm({ apiKey: "k", baseUrl: "not a url" }).prepare(); // never throws
    } finally {
      relay.kill();
    }
  });

  test("request body: generationConfig only with temperature/maxOutputTokens set; the model in the path", async () => {
    fake = startFakeGemini();
    await collect(llm({ model: "gemini-x", temperature: 0.2, maxOutputTokens: 64 }).generate(req([{ role: "user", text: "hi" }], undefined, [])));
    await collect(llm().generate(req([{ role: "user", text: "hi" }], undefined, [])));
    expect(fake.requests[0].model).toBe("gemini-x");
    expect(fake.requests[0].body.generationConfig).toEqual({ temperature: 0.2, maxOutputTokens: 64 });
    // Unset → not sent (the SDK sends an empty generationConfig object; Gemini's defaults apply).
    expect(fake.requests[1].body.generationConfig ?? {}).toEqual({});
    expect(fake.requests[1].model).toBe(GEMINI_DEFAULTS.model);
  });

  test("functionCall parts become tool_call chunks, text around them kept in order", async () => {
    fake = startFakeGemini({
      reply: [[{ text: "Goodbye, have a nice day!" }], [{ functionCall: { name: "end_call", args: { reason: "caller said bye" } } }]],
    });
    const chunks = await collect(llm().generate(req([{ role: "user", text: "That's all, bye." }])));
    expect(chunks).toEqual<LlmChunk[]>([
      { type: "text", text: "Goodbye, have a nice day!" },
      { type: "tool_call", name: "end_call", args: { reason: "caller said bye" } },
      { type: "usage", inputTokens: 10, outputTokens: 2 },
    ]);
  });

  test("speak first: an empty history sends one user turn '(call connected)'; no tools → no tools field", async () => {
    fake = startFakeGemini();
    await collect(llm().generate(req([], undefined, [])));
    expect(fake.requests[0].body.contents).toEqual([{ role: "user", parts: [{ text: SPEAK_FIRST_PROMPT }] }]);
    expect(fake.requests[0].body.tools).toBeUndefined();
  });

  test("abort mid-stream: the iterator throws 'aborted' at once and the HTTP request is cancelled", async () => {
    fake = startFakeGemini({ reply: [[{ text: "First part. " }], [{ text: "never sent" }]] });
    fake.setMode({ stallAfter: 1 });
    const ac = new AbortController();
    const it = llm().generate(req([{ role: "user", text: "hi" }], ac.signal))[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: "text", text: "First part. " });
    const pending = it.next();
    const t0 = performance.now();
    ac.abort();
    const err = await pending.catch((e) => e);
    // "At once": not after the stalled stream or the 15 s idle timeout. 1 s of slack for a busy machine.
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: "aborted", retryable: false, kind: "llm" });
    await waitUntil(() => fake.requests[0].clientGone, "server saw the request cancelled");
    expect(fake.requests[0].chunksSent).toBe(1);
  });

  test("a signal aborted before generate() throws 'aborted'", async () => {
    fake = startFakeGemini();
    const ac = new AbortController();
    ac.abort();
    const err = await collect(llm().generate(req([{ role: "user", text: "hi" }], ac.signal))).catch((e) => e);
    expect(err).toMatchObject({ code: "aborted" });
  });

  test("no chunk within idleTimeoutMs → 'timeout', retryable (FakeClock)", async () => {
    fake = startFakeGemini();
    fake.setMode({ stallAfter: 1 });
    const clock = new FakeClock();
    const it = llm({ clock, idleTimeoutMs: 5000 }).generate(req([{ role: "user", text: "hi" }]))[Symbol.asyncIterator]();
    await it.next();
    const pending = it.next().catch((e) => e);
    clock.advance(4999);
    await Bun.sleep(10);
    clock.advance(1);
    expect(await pending).toMatchObject({ code: "timeout", retryable: true });
    await waitUntil(() => fake.requests[0].clientGone, "request cancelled");
  });

  test.each(LLM_HTTP_FAULTS)("HTTP %d → ProviderError %s (retryable %p)", async (status, code, retryable) => {
    fake = startFakeGemini();
    fake.setMode({ status });
    const err = await collect(llm().generate(req([{ role: "user", text: "hi" }]))).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ provider: "gemini", kind: "llm", code, retryable, status });
  });

  test("a wrong key (Google answers 400 API_KEY_INVALID) is 'auth', key rejected", async () => {
    fake = startFakeGemini({ apiKey: "right" });
    const err = await collect(new GeminiLlm({ apiKey: "wrong", baseUrl: fake.url }).generate(req([]))).catch((e) => e);
    expect(err).toMatchObject({ code: "auth", retryable: false, status: 400 });
    expect(err.message).toContain("key rejected");
  });

  test("an error event mid-stream → ProviderError after the chunks already yielded", async () => {
    fake = startFakeGemini({ reply: [[{ text: "a" }], [{ text: "b" }], [{ text: "c" }]] });
    fake.setMode({ errorAfter: { chunks: 1, status: 503 } });
    const got: LlmChunk[] = [];
    const err = await (async () => {
      for await (const c of llm().generate(req([{ role: "user", text: "hi" }]))) got.push(c);
    })().catch((e) => e);
    expect(got).toEqual([{ type: "text", text: "a" }]);
    expect(err).toMatchObject({ code: "unavailable", retryable: true, status: 503 });
  });

  test("connection dropped mid-stream → 'unavailable', retryable", async () => {
    fake = startFakeGemini({ reply: [[{ text: "a" }], [{ text: "b" }]] });
    fake.setMode({ dropAfter: 1 });
    const err = await collect(llm().generate(req([{ role: "user", text: "hi" }]))).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: "unavailable", retryable: true });
  });

  test("an event that is not JSON → 'protocol', not retryable", () => {
    let e: unknown;
    try {
      JSON.parse("{not json");
    } catch (err) {
      e = err;
    }
    expect(mapGeminiError({ provider: "gemini", kind: "llm" }, e)).toMatchObject({ code: "protocol", retryable: false });
  });

  test("server not listening → 'unavailable', retryable", async () => {
    fake = startFakeGemini();
    const url = fake.url;
    await fake.close();
    const err = await collect(new GeminiLlm({ apiKey: "k", baseUrl: url }).generate(req([]))).catch((e) => e);
    expect(err).toMatchObject({ code: "unavailable", retryable: true });
  });
});

describe("normalizeTurns (shared by Gemini and OpenAI-compatible)", () => {
  const u = (text: string): ChatMessage => ({ role: "user", text });
  const a = (text: string): ChatMessage => ({ role: "assistant", text });
  test.each<[string, ChatMessage[], ChatMessage[]]>([
    ["empty → speak first", [], [u(SPEAK_FIRST_PROMPT)]],
    ["starts with the greeting", [a("Hi!"), u("Hello")], [u(SPEAK_FIRST_PROMPT), a("Hi!"), u("Hello")]],
    ["ends with the assistant → silence turn", [u("Hello"), a("Yes?")], [u("Hello"), a("Yes?"), u(SILENCE_PROMPT)]],
    ["merges consecutive roles, drops empty", [u("one"), u(" "), u("two"), a("ok")], [u("one two"), a("ok"), u(SILENCE_PROMPT)]],
    ["plain alternation unchanged", [u("a"), a("b"), u("c")], [u("a"), a("b"), u("c")]],
  ])("%s", (_name, input, expected) => {
    const before = structuredClone(input);
    expect(normalizeTurns(input)).toEqual(expected);
    expect(input).toEqual(before); // pure
  });
});
