/**
 * The OpenTelemetry variables, with their standard names and meanings (OpenTelemetry specification,
 * "OpenTelemetry Protocol Exporter" and "Environment Variable Specification"). Tracing is on when
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set and OTEL_SDK_DISABLED is not
 * true; traces go over OTLP/HTTP with a JSON body (src/metrics/trace-export.ts).
 *
 * - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the traces URL, used as is.
 * - OTEL_EXPORTER_OTLP_ENDPOINT: the base URL; "For the per-signal variables (OTEL_EXPORTER_OTLP_<signal>_ENDPOINT),
 *   the URL MUST be used as-is without any modification. … [for the base URL] the exporter MUST construct
 *   per-signal URLs … e.g. http://host:4318/v1/traces".
 * - OTEL_EXPORTER_OTLP_HEADERS / _TRACES_HEADERS: `key=value` pairs separated by commas, values
 *   URL-decoded (W3C Baggage format); the per-signal one wins per key.
 * - OTEL_EXPORTER_OTLP_TIMEOUT / _TRACES_TIMEOUT: ms, default 10000.
 * - OTEL_EXPORTER_OTLP_PROTOCOL / _TRACES_PROTOCOL: only `http/json` is built in (a startup error names
 *   the variable for `grpc` or `http/protobuf`).
 * - OTEL_SERVICE_NAME (default "voice-agent"), OTEL_RESOURCE_ATTRIBUTES (`key=value,…`).
 * - OTEL_BSP_SCHEDULE_DELAY (ms, default 1000), OTEL_BSP_MAX_QUEUE_SIZE (2048),
 *   OTEL_BSP_MAX_EXPORT_BATCH_SIZE (16, not the SDK's 512: a batch is serialized synchronously, 16 spans
 *   ≈ 0.1 ms; src/metrics/trace-export.ts).
 */
import type { TracingConfig } from "../metrics/trace-export";
import { ConfigError, int, str, type Env } from "./env-vars";

/** RFC 9110 §5.6.2 token: what a header name or a resource attribute key may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Printable ASCII but `"`, `;` and `\` (W3C Baggage's value octets, plus the space most SDKs accept). */
const RAW_VALUE = /^[\x20\x21\x23-\x3a\x3c-\x5b\x5d-\x7e]*$/;

/**
 * Parses `key=value,key2=value2` (W3C Baggage list form, as the OpenTelemetry environment variable
 * specification asks for OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS): keys are tokens,
 * values printable ASCII, percent-decoded. "If any invalid … the entire environment variable SHOULD be
 * discarded and an error reported": here the error stops the start-up.
 * @throws ConfigError naming `name` and the first bad pair.
 */
function pairs(env: Env, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  const v = str(env, name);
  if (v === undefined) return out;
  for (const part of v.split(",").map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    const key = eq > 0 ? part.slice(0, eq).trim() : "";
    if (!key) throw new ConfigError(name, `expected key=value pairs separated by commas, got "${part}"`);
    if (!TOKEN.test(key)) throw new ConfigError(name, `"${key}": a key is letters, digits and !#$%&'*+-.^_\`|~ only (no spaces, quotes or non-ASCII)`);
    const raw = part.slice(eq + 1).trim();
    if (!RAW_VALUE.test(raw)) {
      throw new ConfigError(name, `"${key}": the value "${raw}" has a character that must be percent-encoded (";", a quote, a backslash or non-ASCII); pairs are separated by commas`);
    }
    try {
      out[key] = decodeURIComponent(raw);
    } catch {
      throw new ConfigError(name, `"${key}": the value is not valid percent-encoding`);
    }
  }
  return out;
}

function httpUrl(name: string, v: string): URL {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(name, `expected an http:// or https:// URL, got "${v}"`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new ConfigError(name, `expected an http:// or https:// URL, got a ${u.protocol}// URL`);
  return u;
}

/** The tracing configuration, or undefined when no endpoint is set (tracing off). @throws ConfigError. */
export function tracingConfig(env: Env): TracingConfig | undefined {
  const disabled = str(env, "OTEL_SDK_DISABLED");
  if (disabled !== undefined && !/^(true|false)$/i.test(disabled)) throw new ConfigError("OTEL_SDK_DISABLED", `expected true or false, got "${disabled}"`);
  // Checked even with tracing off, so a mistake shows at the first start, not the day an endpoint is set.
  const resourceAttributes = pairs(env, "OTEL_RESOURCE_ATTRIBUTES");
  const perSignal = str(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const base = str(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  if ((perSignal === undefined && base === undefined) || disabled?.toLowerCase() === "true") return undefined;
  let url: string;
  if (perSignal !== undefined) url = httpUrl("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", perSignal).href;
  else {
    const u = httpUrl("OTEL_EXPORTER_OTLP_ENDPOINT", base!);
    url = u.href.replace(/\/?$/, "/") + "v1/traces";
  }
  for (const name of ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]) {
    const p = str(env, name);
    if (p !== undefined && p !== "http/json") throw new ConfigError(name, `only http/json is built in (OTLP/HTTP with a JSON body), got "${p}"`);
  }
  const timeoutName = str(env, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") !== undefined ? "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT" : "OTEL_EXPORTER_OTLP_TIMEOUT";
  const maxQueueSize = int(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048, 1, 1_000_000);
  const maxExportBatchSize = int(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 16, 1, 100_000);
  if (maxExportBatchSize > maxQueueSize) {
    throw new ConfigError("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", `must not exceed OTEL_BSP_MAX_QUEUE_SIZE (${maxQueueSize}), got ${maxExportBatchSize}`);
  }
  return {
    url,
    headers: { ...pairs(env, "OTEL_EXPORTER_OTLP_HEADERS"), ...pairs(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS") },
    timeoutMs: int(env, timeoutName, 10_000, 1, 600_000),
    serviceName: str(env, "OTEL_SERVICE_NAME") ?? "voice-agent",
    resourceAttributes,
    scheduledDelayMs: int(env, "OTEL_BSP_SCHEDULE_DELAY", 1000, 1, 600_000),
    maxQueueSize,
    maxExportBatchSize,
  };
}
