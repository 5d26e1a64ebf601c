/**
 * The agent's outbound side, wired from the configuration: the dialer (INVITEs through the trunk, each
 * answered call's media and conversation through CallMedia) and, for TRANSFER_FALLBACK=bridge, the calls
 * to transfer targets. Called by AgentServer (./agent-server.ts), which owns what these share with
 * inbound calls: the port pool, the pacer, the VAD, the observers, the admission verdict.
 *
 *   const bridgeLegs = createBridgeLegs(w);                    // undefined unless bridge + trunk + caller ID
 *   const dialer = createDialer({ ...w, store, vad, admission, metrics, recordingsDir, bridgeLegs });
 */
import type { Config } from "./config";
import { conversationSettings, detectorOptions } from "./config-turns";
import type { Providers } from "./providers";
import { systemPrompt } from "./prompts";
import { DestinationPolicy, OutboundDialer, OutboundError } from "../outbound";
import type { Pacer, RtpPortPool } from "../rtp";
import { CallMedia } from "../call/media";
import type { Admission } from "../call/admission";
import type { CallObserver } from "../call/observer";
import type { TeardownQueue } from "../call/teardown-queue";
import { transferHook } from "../call/transfer";
import { BridgeLegs } from "../call/bridge-leg";
import type { SileroVad } from "../media/vad/silero";
import type { UserAgent } from "../sip";
import type { Clock } from "../util/clock";
import type { Logger } from "../util/log";
import type { Metrics } from "../metrics";
import type { CallRecordStore } from "../pipeline/call-record";
import { createScriptedLlm, outboundScript } from "../providers/offline";

/** What both outbound parts use. */
export interface OutboundWiring {
  cfg: Config;
  log: Logger;
  clock: Clock;
  ua: UserAgent;
  pool: RtpPortPool;
  pacer: Pacer;
  observer: CallObserver;
  /** Where the work of a call's end that can wait runs (src/call/teardown-queue.ts). */
  teardown?: TeardownQueue;
}

/** The trunk's digest credentials as the dialer and the bridge legs take them (SIP_USERNAME/SIP_PASSWORD or PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN, SIP_TRUNK_REALM). */
function trunkCredentials(cfg: Config): { username: string; password: string; realm?: string } | undefined {
  const c = cfg.outbound.credentials;
  return c ? { username: c.username, password: c.password, realm: c.realm } : undefined;
}

/** OUTBOUND_ALLOW_PREFIXES / OUTBOUND_DENY_PREFIXES as a policy. */
function destinationPolicy(cfg: Config): DestinationPolicy {
  const ob = cfg.outbound;
  return new DestinationPolicy({ allow: ob.allowPrefixes ?? [], deny: ob.denyPrefixes, denyIsDefault: ob.denyIsDefault });
}

/**
 * TRANSFER_FALLBACK=bridge: places the calls to transfer targets when the trunk refuses a REFER
 * (src/call/transfer-bridge.ts), through the trunk with its credentials and the outbound prefix lists.
 * Undefined unless that fallback is chosen and a trunk and caller ID are configured.
 */
export function createBridgeLegs(w: OutboundWiring): BridgeLegs | undefined {
  const { cfg, log } = w;
  const ob = cfg.outbound;
  if (cfg.transferFallback !== "bridge" || !ob.trunkHost || !ob.callerId) return undefined;
  const destinations = destinationPolicy(cfg);
  return new BridgeLegs({
    ua: w.ua,
    trunk: { host: ob.trunkHost, port: ob.trunkPort },
    callerId: ob.callerId,
    credentials: trunkCredentials(cfg),
    mediaAddress: cfg.publicIp,
    allocatePort: () => w.pool.allocate(),
    checkDestination: (n) => destinations.check(n),
    ringTimeoutMs: ob.ringTimeoutS * 1000,
    pacer: w.pacer,
    latchMode: cfg.rtpLatch,
    observer: w.observer,
    log,
    clock: w.clock,
  });
}

/** The outbound dialer: INVITEs through the trunk, media and conversation through CallMedia. Needs SIP_TRUNK_HOST and SIP_CALLER_ID. */
export function createDialer(
  w: OutboundWiring & {
    providers: Providers;
    store: CallRecordStore;
    vad: SileroVad | null;
    admission: Admission;
    metrics: Metrics;
    recordingsDir: string | undefined;
    bridgeLegs: BridgeLegs | undefined;
    /** Inbound calls awaiting their ACK: they hold MAX_CALLS places the verdict (confirmed calls) leaves free. */
    unconfirmedInbound?: () => number;
  },
): OutboundDialer {
  const { cfg, log, providers } = w;
  const ob = cfg.outbound;
  return new OutboundDialer({
    ua: w.ua,
    store: w.store,
    observer: w.observer,
    teardown: w.teardown,
    clock: w.clock,
    log,
    trunk: { host: ob.trunkHost!, port: ob.trunkPort },
    callerId: ob.callerId!,
    credentials: trunkCredentials(cfg),
    destinations: destinationPolicy(cfg),
    mediaAddress: cfg.publicIp,
    ringTimeoutMs: ob.ringTimeoutS * 1000,
    maxCalls: ob.maxCalls,
    callsPerMinute: ob.callsPerMinute,
    allocatePort: () => w.pool.allocate(),
    systemPrompt: (objective) => systemPrompt(cfg, "outbound", objective),
    llm: providers.llm,
    // The scripted engine runs the outbound dialogue on outbound calls (SCRIPT_FILE, when set, serves both).
    outboundLlm: providers.llm.scripted && !cfg.scriptFile ? (c) => createScriptedLlm(outboundScript(c)) : undefined,
    providers: providers.describe,
    answer: ob.answer,
    // The dialer refuses on its own while draining; full or degraded come from the shared verdict.
    admit: () => {
      const v = w.admission.verdict();
      if (!v.accept) return v.reason === "draining" ? undefined : new OutboundError("at_capacity", v.detail);
      // Our INVITE's call counts as soon as it is placed: it may not take a place an unconfirmed inbound call holds.
      const unconfirmed = w.unconfirmedInbound?.() ?? 0;
      return v.active + unconfirmed >= v.capacity
        ? new OutboundError("at_capacity", `${v.active} calls are live and ${unconfirmed} inbound calls await their ACK (MAX_CALLS ${v.capacity})`)
        : undefined;
    },
    createMedia: (req) => {
      const media: CallMedia = new CallMedia({
        ...req, // record, lease, negotiated media, system, and the session's hooks (clock, hang-up, turns, errors)
        signallingAddress: ob.trunkHost,
        latchMode: cfg.rtpLatch,
        silenceSuppression: cfg.rtpSilenceSuppression,
        pacer: w.pacer,
        log,
        providers: { ...providers, llm: req.llm },
        vad: w.vad,
        settings: conversationSettings(cfg.conversation),
        detector: detectorOptions(cfg.conversation),
        rtpTimeout: { ms: cfg.rtpTimeoutMs, holdMs: cfg.rtpHoldTimeoutMs, startMs: cfg.rtpStartTimeoutMs },
        transfer: transferHook({
          call: req.sipCall,
          targets: cfg.transferTargets,
          peerHost: ob.trunkHost!,
          clock: req.clock,
          notifyTimeoutMs: cfg.transferNotifyTimeoutMs,
          record: req.record,
          onRecordChanged: req.onRecordChanged,
          log,
          fallback: w.bridgeLegs ? { legs: w.bridgeLegs, media: () => media } : undefined,
        }),
        recordingsDir: w.recordingsDir,
        onRtcpReport: w.metrics.rtcpReport,
      });
      return media;
    },
  });
}
