/**
 * The agent's SIP listeners: UDP on SIP_PORT, TCP on the same port (SIP_TCP) and TLS on SIP_TLS_PORT,
 * all behind one source gate (SIP_TRUSTED_IPS, SIP_UNTRUSTED, SIP_RATE_LIMIT/SIP_RATE_BURST) that
 * screens every datagram and connection before any parsing or transaction.
 */
import { MultiTransport, SourceGate, StreamBudget, StreamTransport, UdpTransport, type OptionsStatus, type SourceGateOptions } from "../sip";
import { SipFront, type ProbeCounter } from "../sip/front/front-link";
import type { Logger } from "../util/log";
import { receiveBufferMax, setReceiveBuffer } from "../util/socket-buffer";
import type { Config } from "./config";

export interface SipListeners {
  transport: MultiTransport;
  /**
   * With SIP_FRONT=on: starts the SIP front thread's heartbeat with the OPTIONS answer `status()`
   * (src/sip/front/front-link.ts); the probes it answers are counted through `onAnswered`. Without: absent.
   */
  attachFront?(status: () => OptionsStatus, onAnswered: ProbeCounter): () => void;
}

/**
 * Binds UDP (on this thread, or with SIP_FRONT=on in the SIP front thread), then TCP and TLS when
 * configured. A TCP listener that cannot bind is logged and skipped (UDP only); what is already bound is
 * closed when a later step fails. `server`: the Server header the front's OPTIONS answers carry.
 * @throws Error naming SIP_PORT (UDP bind) or SIP_TLS_PORT (TLS listen).
 */
export async function listenSip(cfg: Config, log: Logger, server = "voice-agent"): Promise<SipListeners> {
  let udp: UdpTransport;
  let front: SipFront | undefined;
  // Trust and per-source rate limit before any parsing or transaction (SIP_TRUSTED_IPS, SIP_RATE_LIMIT).
  const gateOptions: SourceGateOptions = {
    trusted: cfg.sipTrustedIps,
    untrusted: cfg.sipUntrusted,
    ratePerSecond: cfg.sipRateLimit.perSecond,
    burst: cfg.sipRateLimit.burst,
  };
  const gate = new SourceGate(gateOptions);
  try {
    if (cfg.sipFront) {
      // UDP datagrams meet the gate in the front (one count each); TCP and TLS connections here.
      front = await SipFront.start({ host: cfg.sipHost, port: cfg.sipPort, gate: gateOptions, server, log, sliceUs: cfg.sipFrontSliceUs });
      udp = UdpTransport.over(front.socket, { log, gate });
      // Routed now, not at attachFront: start-up awaits (a PostgreSQL store) lie between; a datagram relayed then
      // meets the transport as the local socket's would (counted and handled by its rules), not a missing sink.
      front.route(udp);
    } else udp = await UdpTransport.bind({ host: cfg.sipHost, port: cfg.sipPort, log, gate });
  } catch (err) {
    throw new Error(`SIP_PORT: cannot bind udp ${cfg.sipHost}:${cfg.sipPort}: ${(err as Error).message}`);
  }
  if (cfg.sipUdpReceiveBufferBytes > 0) receiveBufferFor(udp, cfg.sipUdpReceiveBufferBytes, log);
  // SIP over TCP on the same port (RFC 3261 §18: "All SIP elements MUST implement UDP and TCP"), and
  // TLS on SIP_TLS_PORT when configured.
  const streams: StreamTransport[] = [];
  const budget = new StreamBudget(); // unhandled bytes per source and in all, across TCP and TLS
  if (cfg.sipTcp) {
    try {
      streams.push(await StreamTransport.listen({ host: cfg.sipHost, port: udp.local.port, log, gate, budget }));
    } catch (err) {
      log.warn({ port: udp.local.port, err: (err as Error).message }, "sip tcp unavailable on SIP_PORT: udp only");
    }
  }
  if (cfg.sipTls) {
    try {
      streams.push(await StreamTransport.listen({ host: cfg.sipHost, port: cfg.sipTls.port, log, gate, budget, tls: cfg.sipTls }));
    } catch (err) {
      for (const s of streams) s.close();
      udp.close();
      throw new Error(`SIP_TLS_PORT: cannot listen on tls ${cfg.sipHost}:${cfg.sipTls.port}: ${(err as Error).message}`);
    }
  }
  const transport = new MultiTransport(udp, streams, log);
  if (!front) return { transport };
  const f = front;
  return { transport, attachFront: (status, onAnswered) => f.attach(udp, status, onAnswered) };
}

/**
 * A burst (a trunk's INVITEs after an outage, OPTIONS probes while the call thread is in a long turn)
 * waits in the SIP socket's kernel buffer until the thread reads it; past the buffer the kernel drops
 * datagrams unseen. The kernel grants about 2 × min(asked, net.core.rmem_max): logged, and a warning
 * when rmem_max capped it (raise it with sysctl: README, Deployment).
 */
function receiveBufferFor(udp: UdpTransport, asked: number, log: Logger): void {
  const r = setReceiveBuffer(udp.fd, asked);
  if (!r.ok) return void log.warn({ asked, err: r.error }, "sip udp receive buffer not set: the kernel's default stays");
  const rmemMax = receiveBufferMax();
  if (r.bytes < 2 * asked) log.warn({ asked, bytes: r.bytes, rmemMax }, "sip udp receive buffer capped by net.core.rmem_max");
  else log.info({ asked, bytes: r.bytes }, "sip udp receive buffer");
}
