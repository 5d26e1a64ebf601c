import type { Clock } from "../../util/clock.ts";
import type { SipLogger } from "../log.ts";
import type { SipRequest } from "../message/index.ts";
import type { TransactionLayer } from "../transaction/index.ts";
import type { Transport } from "../transport/index.ts";

/** What a call needs from the UA core (internal seam, not exported from src/sip). */
export interface UaContext {
  readonly layer: TransactionLayer;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly log: SipLogger;
  readonly userAgent: string;
  readonly answerDelayMs: number;
  /** `<sip:user@host:port>` */
  readonly contactHeader: string;
  /** Prepends a fresh top Via (new branch, `rport`) to a request we originate. */
  addVia(req: SipRequest): void;
  registerDialog(key: string, call: DialogUser): void;
  unregisterDialog(key: string): void;
  /** The call is over and holds no more state; the UA forgets it. */
  forget(call: DialogUser): void;
}

/** What the UA core routes in-dialog messages to (a call). */
export interface DialogUser {
  readonly callId: string;
  readonly dialogKey: string | undefined;
  /**
   * The IP addresses that may send requests in this dialog (its signalling peer and nearest hop,
   * dialog-peer.ts); undefined when unknown (a host name among them). In-dialog requests from other
   * addresses are refused when the UA's `dialogPeerOnly`.
   */
  peerHosts(): readonly string[] | undefined;
  /** A request with our To-tag, other than ACK and CANCEL. */
  receiveRequest(req: SipRequest): void;
  /** An ACK for a 2xx in this dialog. */
  receiveAck(ack: SipRequest): void;
}
