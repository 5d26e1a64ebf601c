import { describe, expect, test } from "bun:test";
import { ProviderError } from "../../src/providers/types.ts";
import { CALL_RESULTS, createMetrics } from "../../src/metrics/index.ts";
import { HEAP_WALKING_METRICS } from "../../src/metrics/metrics.ts";
import { ExpositionError, parseExposition, valueOf } from "./exposition-parser.ts";

async function scrape(m: ReturnType<typeof createMetrics>) {
  return parseExposition(await m.render());
}

describe("exposition parser (so the metrics assertions can fail)", () => {
  const ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 3\n";
  test("accepts a well-formed family", () => {
    const f = parseExposition(ok);
    expect(valueOf(f, "a_total", { x: "1" })).toBe(3);
    expect(f.get("a_total")?.type).toBe("counter");
    // Go ParseFloat spellings (prom-client writes "Nan" for an empty event-loop-lag gauge).
    const g = parseExposition("a Nan\nb -Inf\nc +inf 1700000000000\nd 1.5e-3\n");
    expect(valueOf(g, "a")).toBeNaN();
    expect(valueOf(g, "b")).toBe(-Infinity);
    expect(valueOf(g, "c")).toBe(Infinity);
    expect(g.get("c")?.samples[0].timestampMs).toBe(1_700_000_000_000);
    expect(valueOf(g, "d")).toBe(0.0015);
  });

  const bad: [string, string, RegExp][] = [
    ["bad metric name", "1abc 3\n", /bad metric name/],
    ["unterminated label", 'a{x="1} 3\n', /unterminated/],
    ["bad escape", 'a{x="\\t"} 3\n', /bad escape/],
    ["duplicate label", 'a{x="1",x="2"} 3\n', /duplicate label/],
    ["bad value", "a 3,5\n", /bad value/],
    ["bad special value", "a Infinite\n", /bad value/],
    ["missing value", "a\n", /expected "value/],
    ["bad timestamp", "a 3 1.5\n", /bad timestamp/],
    ["second TYPE", "# TYPE a gauge\n# TYPE a gauge\na 1\n", /second TYPE/],
    ["TYPE after samples", "a 1\n# TYPE a gauge\n", /after its samples/],
    ["bad type", "# TYPE a meter\na 1\n", /bad type/],
    ["non-contiguous family", "a 1\nb 1\na{x=\"y\"} 2\n", /not contiguous/],
    ["duplicate series", 'a{x="1"} 1\na{x="1"} 2\n', /duplicate series/],
    ["negative counter", "# TYPE c_total counter\nc_total -1\n", /counter c_total is -1/],
    ["no final newline", "a 1", /final newline/],
    [
      "histogram not cumulative",
      '# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="2"} 3\nh_bucket{le="+Inf"} 5\nh_sum 1\nh_count 5\n',
      /not cumulative/,
    ],
    ["histogram without +Inf", '# TYPE h histogram\nh_bucket{le="1"} 5\nh_sum 1\nh_count 5\n', /no \+Inf/],
    ["histogram +Inf != count", '# TYPE h histogram\nh_bucket{le="+Inf"} 4\nh_sum 1\nh_count 5\n', /!= _count/],
    ["bucket without le", '# TYPE h histogram\nh_bucket{x="1"} 4\nh_sum 1\nh_count 4\n', /without le/],
  ];
  test.each(bad)("rejects %s", (_name, text, message) => {
    expect(() => parseExposition(text)).toThrow(message);
    expect(() => parseExposition(text)).toThrow(ExpositionError);
  });
});

describe("createMetrics", () => {
  test("a scripted sequence of events gives exactly these counters", async () => {
    const m = createMetrics({ defaultMetrics: false });
    // Two inbound calls and one outbound; one inbound refused while full.
    m.sipRequestReceived("INVITE");
    m.sipResponseSent("INVITE", 100);
    m.callStarted("inbound");
    m.sipResponseSent("INVITE", 200);
    m.sipRequestReceived("ACK");
    m.sipRequestReceived("INVITE");
    m.callStarted("inbound");
    m.callStarted("outbound");
    m.sipRequestReceived("INVITE");
    m.sipResponseSent("INVITE", 486);
    m.callRefused("inbound", "busy");
    m.sipRequestReceived("OPTIONS");
    m.sipResponseSent("options", 200); // case-insensitive method
    for (let i = 0; i < 250; i++) m.rtpPacketIn();
    for (let i = 0; i < 240; i++) m.rtpPacketOut();
    m.rtpPackets("out", 10);
    m.rtpPackets("in", -5); // ignored
    m.rtpPacketsLost(3);
    m.rtpPacketsLost(0);
    m.rtpPacketsLost(-2); // ignored
    m.pacerSkippedTicks(50); // a 1 s stall
    m.pacerSkippedTicks(0);
    m.bargeIn();
    m.bargeIn();
    m.bargeInPause("resumed", 240);
    m.bargeInPause("resumed", 460);
    m.bargeInPause("cut", 90);
    m.bargeInPause("cut", null); // late words after a resume: counted, no second observation
    m.providerError("deepgram", "stt", "unavailable");
    m.providerErrorFrom(new ProviderError("gemini", "llm", "rate_limited", "429", true, 429));
    m.providerError("cartesia", "tts", 503);
    m.sipRequestReceived("BYE");
    m.sipResponseSent("BYE", 200);
    m.callEnded("inbound", "remote_bye");

    let f = await scrape(m);
    expect(valueOf(f, "voice_agent_active_calls")).toBe(2);
    expect(valueOf(f, "voice_agent_calls_total", { direction: "inbound", result: "remote_bye" })).toBe(1);
    expect(valueOf(f, "voice_agent_calls_total", { direction: "inbound", result: "busy" })).toBe(1);
    expect(valueOf(f, "voice_agent_sip_requests_total", { method: "INVITE" })).toBe(3);
    expect(valueOf(f, "voice_agent_sip_requests_total", { method: "ACK" })).toBe(1);
    expect(valueOf(f, "voice_agent_sip_requests_total", { method: "OPTIONS" })).toBe(1);
    expect(valueOf(f, "voice_agent_sip_requests_total", { method: "BYE" })).toBe(1);
    expect(valueOf(f, "voice_agent_sip_responses_total", { code: "100", method: "INVITE" })).toBe(1);
    expect(valueOf(f, "voice_agent_sip_responses_total", { code: "200", method: "INVITE" })).toBe(1);
    expect(valueOf(f, "voice_agent_sip_responses_total", { code: "486", method: "INVITE" })).toBe(1);
    expect(valueOf(f, "voice_agent_sip_responses_total", { code: "200", method: "OPTIONS" })).toBe(1);
    expect(valueOf(f, "voice_agent_sip_responses_total", { code: "200", method: "BYE" })).toBe(1);
    expect(valueOf(f, "voice_agent_rtp_packets_total", { direction: "in" })).toBe(250);
    expect(valueOf(f, "voice_agent_rtp_packets_total", { direction: "out" })).toBe(250);
    expect(valueOf(f, "voice_agent_rtp_packets_lost_total")).toBe(3);
    expect(valueOf(f, "voice_agent_pacer_skipped_ticks_total")).toBe(50);
    expect(valueOf(f, "voice_agent_barge_ins_total")).toBe(2);
    expect(valueOf(f, "voice_agent_barge_in_pauses_total", { result: "resumed" })).toBe(2);
    expect(valueOf(f, "voice_agent_barge_in_pauses_total", { result: "cut" })).toBe(2);
    expect(valueOf(f, "voice_agent_barge_in_pause_ms_sum", { result: "resumed" })).toBe(700);
    expect(valueOf(f, "voice_agent_barge_in_pause_ms_count", { result: "cut" })).toBe(1);
    expect(valueOf(f, "voice_agent_barge_in_pause_ms_bucket", { result: "resumed", le: "300" })).toBe(1);
    expect(valueOf(f, "voice_agent_provider_errors_total", { provider: "deepgram", kind: "stt", code: "unavailable" })).toBe(1);
    expect(valueOf(f, "voice_agent_provider_errors_total", { provider: "gemini", kind: "llm", code: "rate_limited" })).toBe(1);
    expect(valueOf(f, "voice_agent_provider_errors_total", { provider: "cartesia", kind: "tts", code: "503" })).toBe(1);

    m.callEnded("inbound", "shutdown");
    m.callEnded("outbound", "local_bye");
    f = await scrape(m);
    expect(valueOf(f, "voice_agent_active_calls")).toBe(0);
    expect(valueOf(f, "voice_agent_calls_total", { direction: "inbound", result: "shutdown" })).toBe(1);
    expect(valueOf(f, "voice_agent_calls_total", { direction: "outbound", result: "local_bye" })).toBe(1);
    expect(f.get("voice_agent_calls_total")?.samples.length).toBe(4);
  });

  test("active_calls agrees with /health/ready: inbound calls awaiting their ACK are not in it (unconfirmed_calls are); refusals for the per-source limit have their own result", async () => {
    const m = createMetrics({ defaultMetrics: false });
    let awaitingAck = 0;
    m.readUnconfirmedCalls(() => awaitingAck);
    // A flood source's INVITEs: three admitted and answered, never ACKed; the next ones refused 503.
    for (let i = 0; i < 3; i++) m.callStarted("inbound");
    awaitingAck = 3;
    m.callRefused("inbound", "pending_limit");
    m.callRefused("inbound", "pending_limit");
    m.callStarted("outbound"); // our INVITE: holds a place at once
    let f = await scrape(m);
    expect(valueOf(f, "voice_agent_active_calls")).toBe(1);
    expect(valueOf(f, "voice_agent_unconfirmed_calls")).toBe(3);
    expect(valueOf(f, "voice_agent_calls_total", { direction: "inbound", result: "pending_limit" })).toBe(2);
    expect(f.get("voice_agent_calls_total")?.samples.some((x) => x.labels.result === "busy")).toBe(false);
    // Two are given up, one ends for an unusable answer; a new call is confirmed.
    awaitingAck = 0;
    m.callEnded("inbound", "ack_given_up");
    m.callEnded("inbound", "ack_given_up");
    m.callEnded("inbound", "bad_answer_sdp");
    m.callStarted("inbound");
    f = await scrape(m);
    expect(valueOf(f, "voice_agent_active_calls")).toBe(2);
    expect(valueOf(f, "voice_agent_calls_total", { direction: "inbound", result: "bad_answer_sdp" })).toBe(1);
  });

  test("every metric has HELP and the right TYPE; series exist at 0 before any event", async () => {
    const f = await scrape(createMetrics({ defaultMetrics: false }));
    const want: Record<string, string> = {
      voice_agent_active_calls: "gauge",
      voice_agent_unconfirmed_calls: "gauge",
      voice_agent_calls_total: "counter",
      voice_agent_sip_responses_total: "counter",
      voice_agent_sip_requests_total: "counter",
      voice_agent_rtp_packets_total: "counter",
      voice_agent_rtp_packets_lost_total: "counter",
      voice_agent_pacer_lateness_ms: "histogram",
      voice_agent_pacer_skipped_ticks_total: "counter",
      voice_agent_turn_latency_ms: "histogram",
      voice_agent_barge_ins_total: "counter",
      voice_agent_barge_in_pauses_total: "counter",
      voice_agent_barge_in_pause_ms: "histogram",
      voice_agent_provider_errors_total: "counter",
      voice_agent_rtp_dropped_total: "counter",
      voice_agent_rtp_receive_deferred_total: "counter",
      voice_agent_sip_refused_total: "counter",
      voice_agent_sip_udp_datagrams_total: "counter",
      voice_agent_media_worker_frames_total: "counter",
      voice_agent_playout_held_total: "counter",
      voice_agent_playout_underruns_total: "counter",
      voice_agent_missing_media_frames_total: "counter",
      voice_agent_process_errors_total: "counter",
      voice_agent_log_lines_lost_total: "counter",
      voice_agent_store_writes_total: "counter",
      voice_agent_vad_total: "counter",
      voice_agent_vad_backlog_windows: "gauge",
      voice_agent_vad_lag_max_ms: "gauge",
      voice_agent_vad_batch_windows: "histogram",
      voice_agent_rtcp_rtt_ms: "histogram",
      voice_agent_rtcp_fraction_lost: "histogram",
      voice_agent_rtcp_jitter_ms: "histogram",
      voice_agent_stt_audio_seconds_total: "counter",
      voice_agent_llm_tokens_total: "counter",
      voice_agent_tts_characters_total: "counter",
    };
    expect([...f.keys()].sort()).toEqual(Object.keys(want).sort());
    for (const [name, type] of Object.entries(want)) {
      expect(f.get(name)?.type).toBe(type as never);
      expect(f.get(name)?.help?.length).toBeGreaterThan(10);
    }
    expect(valueOf(f, "voice_agent_rtp_packets_total", { direction: "in" })).toBe(0);
    expect(valueOf(f, "voice_agent_turn_latency_ms_count", { stage: "first_rtp" })).toBe(0);
    expect(valueOf(f, "voice_agent_pacer_lateness_ms_count")).toBe(0);
    expect(valueOf(f, "voice_agent_rtcp_rtt_ms_count")).toBe(0);
    for (const reason of ["oversize", "malformed", "payload_type", "source"]) {
      expect(valueOf(f, "voice_agent_rtp_dropped_total", { reason })).toBeGreaterThanOrEqual(0);
    }
    for (const reason of ["rate_limited", "untrusted_rejected", "untrusted_dropped", "malformed_rejected", "malformed_dropped"]) {
      expect(valueOf(f, "voice_agent_sip_refused_total", { reason })).toBeGreaterThanOrEqual(0);
    }
    for (const what of ["windows", "runs", "skipped"]) expect(valueOf(f, "voice_agent_vad_total", { what })).toBeGreaterThanOrEqual(0);
  });

  test("the VAD backlog gauges read the process-wide backlog; the lag maximum is per scrape", async () => {
    const { vadBacklog } = await import("../../src/media/vad/batcher.ts");
    const m = createMetrics({ defaultMetrics: false });
    vadBacklog.waiting += 7;
    vadBacklog.maxBehindMs = Math.max(vadBacklog.maxBehindMs, 192);
    try {
      const f = await scrape(m);
      expect(valueOf(f, "voice_agent_vad_backlog_windows")).toBeGreaterThanOrEqual(7);
      expect(valueOf(f, "voice_agent_vad_lag_max_ms")).toBeGreaterThanOrEqual(192);
      expect(valueOf(await scrape(m), "voice_agent_vad_lag_max_ms")).toBe(0); // taken by the first scrape
    } finally {
      vadBacklog.waiting -= 7;
    }
  });

  test("RTP drops and SIP refusals are read from the process totals at scrape time", async () => {
    const { rtpDropTotals } = await import("../../src/rtp/drop-counters.ts");
    const { sipRefusedTotals } = await import("../../src/sip/transport/drop-report.ts");
    const { sipUdpTotals } = await import("../../src/sip/transport/udp.ts");
    const m = createMetrics({ defaultMetrics: false });
    const before = await scrape(m);
    rtpDropTotals.oversize += 3;
    sipRefusedTotals.rate_limited += 5;
    sipUdpTotals.not_sent += 2;
    const after = await scrape(m);
    const d = (name: string, reason: string) => valueOf(after, name, { reason })! - valueOf(before, name, { reason })!;
    expect(d("voice_agent_rtp_dropped_total", "oversize")).toBe(3);
    expect(d("voice_agent_sip_refused_total", "rate_limited")).toBe(5);
    const sends = (f: typeof after, outcome: string) => valueOf(f, "voice_agent_sip_udp_datagrams_total", { outcome }) ?? 0;
    expect(sends(after, "not_sent") - sends(before, "not_sent")).toBe(2);
    expect(d("voice_agent_rtp_dropped_total", "source")).toBe(0);
  });

  test("histograms: buckets as specified, observations land in the right bucket", async () => {
    const m = createMetrics({ defaultMetrics: false });
    for (const ms of [-3, 0.2, 0.5, 0.7, 3, 19.9, 20, 45, 1000]) m.pacerLateness(ms);
    m.turnLatency("final_transcript", 180);
    m.turnLatency("first_token", 420);
    m.turnLatency("first_audio", 690);
    m.turnLatency("first_rtp", 710);
    m.turnLatency("first_rtp", 6000);
    m.turnLatency("first_rtp", Number.NaN); // ignored
    m.turnLatency("first_rtp", -1); // ignored
    const f = await scrape(m);
    const bucket = (le: string) => valueOf(f, "voice_agent_pacer_lateness_ms_bucket", { le });
    // -3 counts as 0; cumulative counts per upper bound.
    expect(["0.5", "1", "2", "5", "10", "20", "40", "+Inf"].map(bucket)).toEqual([3, 4, 4, 5, 5, 7, 7, 9]);
    expect(valueOf(f, "voice_agent_pacer_lateness_ms_sum")).toBeCloseTo(0.2 + 0.5 + 0.7 + 3 + 19.9 + 20 + 45 + 1000, 6);
    const les = f
      .get("voice_agent_turn_latency_ms")!
      .samples.filter((s) => s.name.endsWith("_bucket") && s.labels.stage === "first_rtp")
      .map((s) => s.labels.le);
    expect(les).toEqual(["50", "100", "200", "300", "500", "750", "1000", "1500", "2000", "3000", "5000", "+Inf"]);
    expect(valueOf(f, "voice_agent_turn_latency_ms_bucket", { stage: "first_rtp", le: "750" })).toBe(1);
    expect(valueOf(f, "voice_agent_turn_latency_ms_bucket", { stage: "first_rtp", le: "5000" })).toBe(1);
    expect(valueOf(f, "voice_agent_turn_latency_ms_count", { stage: "first_rtp" })).toBe(2);
    expect(valueOf(f, "voice_agent_turn_latency_ms_bucket", { stage: "final_transcript", le: "200" })).toBe(1);
    expect(valueOf(f, "voice_agent_turn_latency_ms_bucket", { stage: "final_transcript", le: "100" })).toBe(0);
    expect(valueOf(f, "voice_agent_turn_latency_ms_sum", { stage: "first_token" })).toBe(420);
  });

  test("turnLatencies observes the stages present; methods work detached (no this)", async () => {
    const m = createMetrics({ defaultMetrics: false });
    const { turnLatencies, bargeIn, callStarted, callEnded } = m;
    turnLatencies({ finalTranscriptMs: 210, firstTokenMs: 480, firstAudioMs: 620, firstRtpMs: 640 });
    turnLatencies({ firstAudioMs: 90 }); // e.g. a prompt without caller speech: only what is present
    bargeIn();
    callStarted("outbound");
    callEnded("outbound", "end_call");
    const f = await scrape(m);
    expect(valueOf(f, "voice_agent_turn_latency_ms_count", { stage: "final_transcript" })).toBe(1);
    expect(valueOf(f, "voice_agent_turn_latency_ms_count", { stage: "first_audio" })).toBe(2);
    expect(valueOf(f, "voice_agent_turn_latency_ms_sum", { stage: "first_audio" })).toBe(710);
    expect(valueOf(f, "voice_agent_turn_latency_ms_bucket", { stage: "first_rtp", le: "750" })).toBe(1);
    expect(valueOf(f, "voice_agent_turn_latency_ms_bucket", { stage: "first_rtp", le: "500" })).toBe(0);
    expect(valueOf(f, "voice_agent_barge_ins_total")).toBe(1);
    expect(valueOf(f, "voice_agent_calls_total", { direction: "outbound", result: "end_call" })).toBe(1);
  });

  test("every documented end reason is its own label value", async () => {
    const m = createMetrics({ defaultMetrics: false });
    for (const r of CALL_RESULTS) m.callRefused("inbound", r);
    const f = await scrape(m);
    for (const r of CALL_RESULTS) expect(valueOf(f, "voice_agent_calls_total", { direction: "inbound", result: r })).toBe(1);
    expect(f.get("voice_agent_calls_total")!.samples.length).toBe(CALL_RESULTS.length);
  });

  test("label values from the network or callers are bounded (unknown → other)", async () => {
    const m = createMetrics({ defaultMetrics: false });
    for (let i = 0; i < 50; i++) m.sipRequestReceived(`X-JUNK-${i}`);
    m.sipResponseSent("FROBNICATE", 999);
    m.providerError('evil"name\n', "stt", "weird code");
    m.callEnded("inbound", "exploded");
    const text = await m.render();
    const f = parseExposition(text);
    expect(valueOf(f, "voice_agent_sip_requests_total", { method: "other" })).toBe(50);
    expect(f.get("voice_agent_sip_requests_total")?.samples.length).toBe(1);
    expect(valueOf(f, "voice_agent_sip_responses_total", { code: "other", method: "other" })).toBe(1);
    expect(valueOf(f, "voice_agent_provider_errors_total", { provider: "other", kind: "stt", code: "other" })).toBe(1);
    expect(valueOf(f, "voice_agent_calls_total", { direction: "inbound", result: "other" })).toBe(1);
    expect(text).not.toContain("JUNK");
  });

  test("two instances have independent registries; prom-client's global registry stays empty", async () => {
    const { register } = await import("prom-client");
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.bargeIn();
    a.bargeIn();
    b.bargeIn();
    expect(valueOf(await scrape(a), "voice_agent_barge_ins_total")).toBe(2);
    expect(valueOf(await scrape(b), "voice_agent_barge_ins_total")).toBe(1);
    expect((await register.metrics()).trim()).toBe("");
  });

  test("default process metrics are on the private registry and parse; default labels apply", async () => {
    const m = createMetrics({ defaultLabels: { role: "inbound" } });
    expect(m.contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    const f = await scrape(m);
    const rss = valueOf(f, "process_resident_memory_bytes", { role: "inbound" });
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(rss).toBeLessThan(8 * 1024 * 1024 * 1024);
    expect(valueOf(f, "process_open_fds")).toBeGreaterThan(2);
    expect(valueOf(f, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(f.get("nodejs_eventloop_lag_seconds")?.type).toBe("gauge");
    expect(valueOf(f, "voice_agent_active_calls", { role: "inbound" })).toBe(0);
    // The heap's size is there; the per-space gauges, whose collection walks the heap (40–80 ms on the
    // RTP pacing thread with a ~100 MB heap), are not.
    expect(valueOf(f, "nodejs_heap_size_used_bytes", { role: "inbound" })).toBeGreaterThan(0);
    for (const name of HEAP_WALKING_METRICS) expect(f.has(name)).toBe(false);
  });
});

test("rtcpReport: RTT, fraction lost and jitter land in their histograms (an RR without LSR has no RTT)", async () => {
  const m = createMetrics({ defaultMetrics: false });
  m.rtcpReport({ fractionLost: 0.05, jitterMs: 3, rttMs: 42 });
  m.rtcpReport({ fractionLost: 0, jitterMs: 1 });
  const f = await scrape(m);
  expect(valueOf(f, "voice_agent_rtcp_rtt_ms_count")).toBe(1);
  expect(valueOf(f, "voice_agent_rtcp_rtt_ms_bucket", { le: "50" })).toBe(1);
  expect(valueOf(f, "voice_agent_rtcp_fraction_lost_count")).toBe(2);
  expect(valueOf(f, "voice_agent_rtcp_fraction_lost_bucket", { le: "0.02" })).toBe(1);
  expect(valueOf(f, "voice_agent_rtcp_jitter_ms_sum")).toBe(4);
});

test("usage counters: STT seconds, LLM tokens by kind, TTS characters, by provider (first word of its description)", async () => {
  const m = createMetrics({ defaultMetrics: false });
  const providers = { stt: "deepgram (nova-2-phonecall)", llm: "gemini (gemini-2.0-flash)", tts: "cartesia (sonic-2)" };
  m.usage({ llmInputTokens: 120, llmOutputTokens: 30, ttsChars: 64 }, providers);
  m.usage({ llmInputTokens: 200, llmOutputTokens: 0, ttsChars: 10 }, providers);
  m.usage({ sttAudioS: 12.5 }, providers);
  const text = await m.render();
  expect(text).toContain('voice_agent_llm_tokens_total{provider="gemini",kind="input"} 320');
  expect(text).toContain('voice_agent_llm_tokens_total{provider="gemini",kind="output"} 30');
  expect(text).toContain('voice_agent_tts_characters_total{provider="cartesia"} 74');
  expect(text).toContain('voice_agent_stt_audio_seconds_total{provider="deepgram"} 12.5');
});
