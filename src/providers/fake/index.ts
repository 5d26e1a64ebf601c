/**
 * Scripted fakes of each provider kind, for tests (STYLE habit 8): FakeStt (events by frame count, on
 * flush, or on demand), FakeLlm (replies from a list, optional first-token/chunk delay, records
 * requests), FakeTts (deterministic tone per text, optional delay, records texts and cancels).
 * Delays run on an injected Clock, so FakeClock tests need no real sleeping.
 */
export { FakeStt, FakeSttStream, type FakeSttOptions, type FakeUtterance } from "./fake-stt.ts";
export { FakeLlm, type FakeLlmOptions, type FakeReply } from "./fake-llm.ts";
export { FakeTts, type FakeTtsContext, type FakeTtsOptions } from "./fake-tts.ts";
