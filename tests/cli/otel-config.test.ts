/** The standard OTEL_* variables (src/cli/otel-config.ts): endpoints, headers, protocol, limits, errors naming the variable. */
import { describe, expect, test } from "bun:test";
import { tracingConfig } from "../../src/cli/otel-config";
import { ConfigError, loadConfig } from "../../src/cli/config";

describe("tracingConfig", () => {
  test("off without an endpoint, or with OTEL_SDK_DISABLED=true", () => {
    expect(tracingConfig({})).toBeUndefined();
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })).toBeUndefined();
    expect(loadConfig({ STT_PROVIDER: "pocketsphinx", LLM_PROVIDER: "scripted", TTS_PROVIDER: "flite", SIP_PUBLIC_IP: "127.0.0.1" }).tracing).toBeUndefined();
  });

  test("the base endpoint gets /v1/traces; the per-signal endpoint is used as is and wins", () => {
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })!.url).toBe("http://collector:4318/v1/traces");
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "https://otlp.example/api/" })!.url).toBe("https://otlp.example/api/v1/traces");
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:9999/custom" })!.url).toBe("http://b:9999/custom");
  });

  test("headers (percent-decoded, per-signal wins per key), resource attributes, service name, timeout, batch settings", () => {
    const c = tracingConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
      OTEL_EXPORTER_OTLP_HEADERS: "x-key=a%20b, x-team=ops",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-team=voice",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=prod,service.version=1.2",
      OTEL_SERVICE_NAME: "agent-eu",
      OTEL_EXPORTER_OTLP_TIMEOUT: "3000",
      OTEL_BSP_SCHEDULE_DELAY: "500",
    })!;
    expect(c.headers).toEqual({ "x-key": "a b", "x-team": "voice" });
    expect(c.resourceAttributes).toEqual({ "deployment.environment": "prod", "service.version": "1.2" });
    expect(c.serviceName).toBe("agent-eu");
    expect(c.timeoutMs).toBe(3000);
    expect(c.scheduledDelayMs).toBe(500);
    expect([c.maxQueueSize, c.maxExportBatchSize]).toEqual([2048, 16]);
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" })!.serviceName).toBe("voice-agent");
  });

  test("resource attributes: values percent-decoded (non-ASCII that way), '=' in a value kept, empty pairs skipped; loadConfig refuses garbage with tracing off", () => {
    const c = tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_RESOURCE_ATTRIBUTES: "team=voice%20ops, ,note=a=b,city=M%C3%BCnchen" })!;
    expect(c.resourceAttributes).toEqual({ team: "voice ops", note: "a=b", city: "München" });
    const base = { STT_PROVIDER: "pocketsphinx", LLM_PROVIDER: "scripted", TTS_PROVIDER: "flite", SIP_PUBLIC_IP: "127.0.0.1" };
    expect(() => loadConfig({ ...base, OTEL_RESOURCE_ATTRIBUTES: "env:prod" })).toThrow(/^OTEL_RESOURCE_ATTRIBUTES: expected key=value pairs separated by commas, got "env:prod"$/);
    expect(() => loadConfig({ ...base, OTEL_RESOURCE_ATTRIBUTES: "env=prod;x=y" })).toThrow('OTEL_RESOURCE_ATTRIBUTES: "env": the value "prod;x=y" has a character that must be percent-encoded');
  });

  test.each([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }, "OTEL_EXPORTER_OTLP_ENDPOINT"],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "grpc://c:4317" }, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, "OTEL_EXPORTER_OTLP_PROTOCOL"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf" }, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_HEADERS: "novalue" }, "OTEL_EXPORTER_OTLP_HEADERS"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_HEADERS: "k=%zz" }, "OTEL_EXPORTER_OTLP_HEADERS"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TIMEOUT: "soon" }, "OTEL_EXPORTER_OTLP_TIMEOUT"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_BSP_MAX_QUEUE_SIZE: "10", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "20" }, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"],
    [{ OTEL_SDK_DISABLED: "yes" }, "OTEL_SDK_DISABLED"],
    // Resource attributes are checked with tracing off too (no endpoint): garbage is never silent.
    [{ OTEL_RESOURCE_ATTRIBUTES: "garbage" }, "OTEL_RESOURCE_ATTRIBUTES"],
    [{ OTEL_RESOURCE_ATTRIBUTES: "env=prod;team=voice" }, "OTEL_RESOURCE_ATTRIBUTES"],
    [{ OTEL_RESOURCE_ATTRIBUTES: "service name=x" }, "OTEL_RESOURCE_ATTRIBUTES"],
    [{ OTEL_RESOURCE_ATTRIBUTES: '"env"="prod"' }, "OTEL_RESOURCE_ATTRIBUTES"],
    [{ OTEL_RESOURCE_ATTRIBUTES: "umgebung=prüfung" }, "OTEL_RESOURCE_ATTRIBUTES"],
    [{ OTEL_RESOURCE_ATTRIBUTES: "env=%E0%A4%A" }, "OTEL_RESOURCE_ATTRIBUTES"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_RESOURCE_ATTRIBUTES: "a=1,=2" }, "OTEL_RESOURCE_ATTRIBUTES"],
  ] as const)("%j → ConfigError naming %s", (env, variable) => {
    let err: unknown;
    try {
      tracingConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
  });
});
