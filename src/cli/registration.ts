/**
 * Registration with SIP_REGISTRAR (RFC 3261 §10): started at boot, its state exported as a metric and
 * logged, and summarised for GET /health.
 */
import { Gauge } from "prom-client";
import type { Metrics } from "../metrics";
import { Registration, type UserAgent } from "../sip";
import type { Logger } from "../util/log";
import type { Config } from "./config";

/** Starts the registration SIP_REGISTRAR asks for (null without it); its state is a metric and logged. */
export function startRegistration(cfg: Config, ua: UserAgent, metrics: Metrics, log: Logger): Registration | null {
  const r = cfg.register;
  if (!r) return null;
  const creds = cfg.outbound.credentials;
  const reg = new Registration(ua, {
    registrar: { host: r.host, port: r.port },
    aor: r.aor,
    credentials: creds ? { username: creds.username, password: creds.password, realm: creds.realm } : undefined,
    expiresS: r.expiresS,
    onState: (state, d) => (state === "failed" ? log.warn : log.info).call(log, { state, ...d, registrar: `${r.host}:${r.port}` }, "sip registration"),
  });
  new Gauge({
    name: "voice_agent_sip_registration_state",
    help: "SIP registration (SIP_REGISTRAR): 1 for the current state, 0 for the others.",
    labelNames: ["state"] as const,
    registers: [metrics.registry],
    collect() {
      for (const s of ["unregistered", "registering", "registered", "failed", "unregistering"] as const) this.set({ state: s }, reg.state === s ? 1 : 0);
    },
  });
  reg.start();
  return reg;
}

/** The registration as GET /health shows it. */
export function registrationInfo(reg: Registration, cfg: Config): Record<string, unknown> {
  return { state: reg.state, aor: cfg.register!.aor, registrar: `${cfg.register!.host}:${cfg.register!.port}`, expiresS: reg.grantedS, registrations: reg.registrations, lastStatus: reg.lastStatus };
}
