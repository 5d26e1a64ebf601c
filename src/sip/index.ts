/**
 * The SIP stack of voice-agent (RFC 3261 + RFC 3581 over UDP), in layers:
 * message (pure codec) → transport (UDP) → transaction (§17 state machines) → dialog (§12) → ua (calls).
 *
 * Typical wiring:
 *
 *   const transport = await UdpTransport.bind({ host: "0.0.0.0", port: 5060, log });
 *   const ua = new UserAgent({ transport, clock: new SystemClock(), contact: { host: publicIp, port: 5060 },
 *     answerDelayMs: 0, userAgent: "voice-agent/0.1", log,
 *     delegate: { onInvite: (call) => { …; call.accept(answerSdp) }, acceptingNewCalls: () => !draining } });
 *   call.on("ended", (reason) => …);
 */
export * from "./message/index.ts";
export * from "./transport/index.ts";
export * from "./transaction/index.ts";
export * from "./dialog/index.ts";
export * from "./ua/index.ts";
export { nullLogger, type SipLogger } from "./log.ts";
