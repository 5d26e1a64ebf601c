/**
 * Counts SIP traffic at the transport seam (RFC 3261 §18) without touching the SIP layers: wrap the
 * transport once, hand the wrapper to the UserAgent, and every request delivered upward and every
 * response sent downward is counted.
 *
 *   const transport = instrumentTransport(await UdpTransport.bind({ … }), metrics);
 *   const ua = new UserAgent({ transport, … });
 *
 * What is counted:
 * - `voice_agent_sip_requests_total{method}`: each parsed request the transport delivers to its
 *   delegate, retransmissions included (the transaction layer absorbs them above this seam).
 * - `voice_agent_sip_responses_total{code,method}`: each response handed to `send`/`sendResponse`,
 *   retransmissions included (e.g. 2xx to INVITE re-sent until ACK, §13.3.1.4), method from CSeq.
 * Not counted: datagrams the transport drops or answers by itself (a malformed request gets 400 inside
 * the transport's own receive path, §21.4.1) and keep-alives (RFC 5626 §4.4.1 CRLF).
 */
import type { SipMessage, SipResponse } from "../sip/message/index.ts";
import type { Address, Transport, TransportDelegate } from "../sip/transport/index.ts";
import type { Metrics } from "./metrics.ts";

export type SipCounters = Pick<Metrics, "sipRequestReceived" | "sipResponseSent">;

function methodOf(response: SipResponse): string {
  try {
    return response.cseq.method;
  } catch {
    return "other"; // no or malformed CSeq: counted, not thrown (the transport would log and send it)
  }
}

class InstrumentedTransport implements Transport {
  readonly protocol = "UDP" as const;
  private outer: TransportDelegate | undefined;

  constructor(
    private readonly inner: Transport,
    private readonly counters: SipCounters,
  ) {}

  get local(): Address {
    return this.inner.local;
  }

  get delegate(): TransportDelegate | undefined {
    return this.outer;
  }

  set delegate(d: TransportDelegate | undefined) {
    this.outer = d;
    this.inner.delegate = d && {
      onMessage: (message, source, protocol) => {
        if (message.kind === "request") this.counters.sipRequestReceived(message.method);
        d.onMessage(message, source, protocol);
      },
      onUnreachable: (to, code) => d.onUnreachable?.(to, code),
    };
  }

  send(message: SipMessage, to: Address): void {
    if (message.kind === "response") this.counters.sipResponseSent(methodOf(message), message.status);
    this.inner.send(message, to);
  }

  sendResponse(response: SipResponse): void {
    this.counters.sipResponseSent(methodOf(response), response.status);
    this.inner.sendResponse(response);
  }

  prioritize(peer: Address): void {
    this.inner.prioritize?.(peer);
  }

  expectCancel(peer: Address, branch: string): void {
    this.inner.expectCancel?.(peer, branch);
  }

  afterReceived(cb: () => void): void {
    if (this.inner.afterReceived) this.inner.afterReceived(cb);
    else cb();
  }

  connected(peer: Address): boolean {
    return this.inner.connected?.(peer) ?? false;
  }

  close(): void {
    this.inner.close();
  }
}

/**
 * Returns a Transport that behaves exactly like `inner` and reports SIP requests received and
 * responses sent to `counters`. Set `delegate` on the wrapper (the UserAgent does), not on `inner`.
 */
export function instrumentTransport(inner: Transport, counters: SipCounters): Transport {
  return new InstrumentedTransport(inner, counters);
}
