import { afterEach, describe, expect, test } from "bun:test";
import { SPEAK_FIRST_PROMPT } from "../../../src/providers/gemini/history";
import { OpenAiLlm } from "../../../src/providers/openai/provider";
import { ToolCallAssembler } from "../../../src/providers/openai/tool-calls";
import { defaultTools } from "../../../src/providers/tools/registry";
import { ProviderError, type ChatMessage, type LlmChunk, type LlmRequest } from "../../../src/providers/types";
import { FakeClock } from "../../../src/util/clock";
import { startFakeOpenAi, toolCallDeltas, type FakeOpenAi } from "../../fakes/openai";
import { LLM_HTTP_FAULTS } from "../../fakes/sse";
import { collect, waitUntil } from "../../fakes/wait";

let fake: FakeOpenAi;
afterEach(async () => {
  await fake?.close();
});

function llm(extra: Partial<ConstructorParameters<typeof OpenAiLlm>[0]> = {}): OpenAiLlm {
  return new OpenAiLlm({ apiKey: "test-key", baseUrl: fake.url, model: "llama3.2", ...extra });
}
function req(history: ChatMessage[], signal = new AbortController().signal, tools = defaultTools()): LlmRequest {
  return { system: "Be brief.", history, tools, signal };
}

describe("OpenAI-compatible LLM against the local fake", () => {
  test("sends system + history + tools with stream:true and Bearer auth; streams text deltas", async () => {
    fake = startFakeOpenAi({ reply: [{ content: "Sure" }, { content: ", one moment." }] });
    const chunks = await collect(llm().generate(req([{ role: "user", text: "Book a table" }])));
    expect(chunks).toEqual([
      { type: "text", text: "Sure" },
      { type: "text", text: ", one moment." },
    ]);
    const r = fake.requests[0];
    expect(r.headers.authorization).toBe("Bearer test-key");
    expect(r.body.model).toBe("llama3.2");
    expect(r.body.stream).toBe(true);
    expect(r.body.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Book a table" },
    ]);
    expect(r.body.tools).toEqual(
      defaultTools().map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.parameters } })),
    );
    expect(r.body.tools!.map((t: { function: { name: string } }) => t.function.name)).toEqual(["end_call", "send_dtmf"]);
  });

  test("tool-call argument fragments are assembled into one tool_call chunk after the text", async () => {
    fake = startFakeOpenAi({
      reply: [{ content: "Goodbye!" }, ...toolCallDeltas(0, "call_1", "end_call", { reason: "caller hung up politely" }, 4)],
    });
    const chunks = await collect(llm().generate(req([{ role: "user", text: "bye" }])));
    expect(chunks).toEqual<LlmChunk[]>([
      { type: "text", text: "Goodbye!" },
      { type: "tool_call", name: "end_call", args: { reason: "caller hung up politely" } },
    ]);
    expect(fake.requests[0].chunksSent).toBe(6); // 1 text + 1 header fragment + 4 argument fragments
  });

  test("two parallel tool calls come out in index order", async () => {
    fake = startFakeOpenAi({
      reply: [...toolCallDeltas(1, "b", "end_call", { reason: "two" }, 2), ...toolCallDeltas(0, "a", "end_call", {}, 1)],
    });
    const chunks = await collect(llm().generate(req([{ role: "user", text: "x" }])));
    expect(chunks).toEqual<LlmChunk[]>([
      { type: "tool_call", name: "end_call", args: {} },
      { type: "tool_call", name: "end_call", args: { reason: "two" } },
    ]);
  });

  test("no key configured: a placeholder bearer is sent (local servers ignore it); speak first", async () => {
    fake = startFakeOpenAi({ apiKey: null });
    await collect(new OpenAiLlm({ baseUrl: fake.url, model: "m" }).generate(req([], undefined, [])));
    expect(fake.requests[0].headers.authorization).toBe("Bearer not-needed");
    expect(fake.requests[0].body.messages).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: SPEAK_FIRST_PROMPT },
    ]);
    expect(fake.requests[0].body.tools).toBeUndefined();
  });

  test("abort mid-stream throws 'aborted' at once and cancels the request", async () => {
    fake = startFakeOpenAi({ reply: [{ content: "a" }, { content: "b" }] });
    fake.setMode({ stallAfter: 1 });
    const ac = new AbortController();
    const it = llm().generate(req([{ role: "user", text: "hi" }], ac.signal))[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: "text", text: "a" });
    const pending = it.next();
    const t0 = performance.now();
    ac.abort();
    const err = await pending.catch((e) => e);
    // "At once": not after the stalled stream or the 15 s idle timeout. 1 s of slack for a busy machine.
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(err).toMatchObject({ code: "aborted", retryable: false });
    await waitUntil(() => fake.requests[0].clientGone, "request cancelled");
  });

  test("idle timeout → 'timeout' (FakeClock)", async () => {
    fake = startFakeOpenAi();
    fake.setMode({ headersDelayMs: 60_000 });
    const clock = new FakeClock();
    const p = collect(llm({ clock, idleTimeoutMs: 1000 }).generate(req([{ role: "user", text: "hi" }]))).catch((e) => e);
    await waitUntil(() => fake.requests.length === 1, "request");
    clock.advance(1000);
    expect(await p).toMatchObject({ code: "timeout", retryable: true });
  });

  test.each(LLM_HTTP_FAULTS)("HTTP %d → ProviderError %s (retryable %p)", async (status, code, retryable) => {
    fake = startFakeOpenAi();
    fake.setMode({ status });
    const err = await collect(llm().generate(req([{ role: "user", text: "hi" }]))).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ provider: "openai", kind: "llm", code, retryable, status });
  });

  test("error event mid-stream (rate limit) → rate_limited, retryable", async () => {
    fake = startFakeOpenAi({ reply: [{ content: "a" }, { content: "b" }] });
    fake.setMode({ errorAfter: { chunks: 1, type: "requests", code: "rate_limit_exceeded" } });
    const got: LlmChunk[] = [];
    const err = await (async () => {
      for await (const c of llm().generate(req([{ role: "user", text: "hi" }]))) got.push(c);
    })().catch((e) => e);
    expect(got).toEqual([{ type: "text", text: "a" }]);
    expect(err).toMatchObject({ code: "rate_limited", retryable: true });
  });

  test("connection dropped mid-stream → unavailable, retryable", async () => {
    fake = startFakeOpenAi({ reply: [{ content: "a" }, { content: "b" }] });
    fake.setMode({ dropAfter: 1 });
    const err = await collect(llm().generate(req([{ role: "user", text: "hi" }]))).catch((e) => e);
    expect(err).toMatchObject({ code: "unavailable", retryable: true });
  });
});

describe("ToolCallAssembler", () => {
  const src = { provider: "openai", kind: "llm" } as const;
  test("whole call in one delta (Ollama style)", () => {
    const a = new ToolCallAssembler(src);
    a.add([{ index: 0, id: "x", function: { name: "end_call", arguments: '{"reason":"done"}' } }]);
    expect(a.take()).toEqual([{ type: "tool_call", name: "end_call", args: { reason: "done" } }]);
    expect(a.pending).toBe(0);
  });
  test.each([
    ["arguments not JSON", [{ index: 0, function: { name: "f", arguments: "{bad" } }]],
    ["arguments not an object", [{ index: 0, function: { name: "f", arguments: "[1]" } }]],
    ["no name", [{ index: 0, function: { arguments: "{}" } }]],
  ])("%s → protocol error", (_n, deltas) => {
    const a = new ToolCallAssembler(src);
    a.add(deltas);
    expect(() => a.take()).toThrow(ProviderError);
  });
});
