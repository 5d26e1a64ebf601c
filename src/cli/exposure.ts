/**
 * The start-up warning for a SIP port open to the internet with nothing in front of it: a public SIP
 * port is scanned within minutes, and every INVITE it answers can start a paid STT/LLM/TTS call.
 */
import { networkInterfaces } from "node:os";
import { isPublicIpv4 } from "../util/ip-range";
import type { Config } from "./config";

/** This host's IPv4 addresses (empty when the interfaces cannot be read). */
function localIpv4(): string[] {
  try {
    return Object.values(networkInterfaces())
      .flatMap((l) => l ?? [])
      .filter((a) => a.family === "IPv4")
      .map((a) => a.address);
  } catch {
    return [];
  }
}

/**
 * The public address the SIP port is reachable on, or undefined: SIP_HOST itself when public; with
 * SIP_HOST=0.0.0.0, SIP_PUBLIC_IP or any local interface address that is public.
 */
export function publicSipAddress(cfg: Pick<Config, "sipHost" | "publicIp">, interfaces: string[] = localIpv4()): string | undefined {
  if (cfg.sipHost !== "0.0.0.0") return isPublicIpv4(cfg.sipHost) ? cfg.sipHost : undefined;
  return [cfg.publicIp, ...interfaces].find(isPublicIpv4);
}

/**
 * A loud multi-line warning when the SIP port is on a public address and neither SIP_TRUSTED_IPS nor
 * SIP_INBOUND_USERNAME/SIP_INBOUND_PASSWORD is set; undefined otherwise.
 */
export function exposureWarning(
  cfg: Pick<Config, "sipHost" | "sipPort" | "publicIp" | "sipTrustedIps" | "sipInboundAuth"> & Partial<Pick<Config, "sipTcp" | "sipTls">>,
  interfaces?: string[],
): string | undefined {
  if (cfg.sipTrustedIps.length > 0 || cfg.sipInboundAuth) return undefined;
  const addr = publicSipAddress(cfg, interfaces);
  if (!addr) return undefined;
  const listeners = sipListeners(cfg, addr);
  return [
    "!!! WARNING: SIP is open to the internet with no access control !!!",
    `!!! ${listeners.join(", ")} answer${listeners.length > 1 ? "" : "s"} INVITEs from anyone: every call costs STT/LLM/TTS.`,
    "!!! Set SIP_TRUSTED_IPS to your trunk's addresses (CIDR allowed), or require digest",
    "!!! authentication with SIP_INBOUND_USERNAME and SIP_INBOUND_PASSWORD.",
  ].join("\n");
}

/** Every SIP listener as `proto addr:port`: UDP always, TCP on SIP_PORT unless SIP_TCP=false, TLS when configured. */
export function sipListeners(cfg: Pick<Config, "sipPort"> & Partial<Pick<Config, "sipTcp" | "sipTls">>, addr: string): string[] {
  const out = [`udp ${addr}:${cfg.sipPort}`];
  if (cfg.sipTcp !== false) out.push(`tcp ${addr}:${cfg.sipPort}`);
  if (cfg.sipTls) out.push(`tls ${addr}:${cfg.sipTls.port}`);
  return out;
}
