import type { Clock } from "../../util/clock.ts";
import { SipParseError, type SipRequest, type SipResponse } from "../message/index.ts";
import { nullLogger, type SipLogger } from "../log.ts";
import type { Address, Transport } from "../transport/index.ts";
import { InviteClientTransaction, type InviteClientTransactionUser } from "./invite-client.ts";
import { InviteServerTransaction, type InviteServerTransactionUser } from "./invite-server.ts";
import { cancelTargetKey, clientTransactionKey, serverTransactionKey } from "./matching.ts";
import { NonInviteClientTransaction, type NonInviteClientTransactionUser } from "./non-invite-client.ts";
import { NonInviteServerTransaction, type NonInviteServerTransactionUser } from "./non-invite-server.ts";
import { DEFAULT_TIMERS, type TimerValues } from "./timers.ts";

export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;

export interface TransactionLayerOptions {
  transport: Transport;
  clock: Clock;
  timers?: TimerValues;
  log?: SipLogger;
}

/**
 * The transaction table (RFC 3261 §17): creates the four kinds, matches incoming messages to them
 * (§17.1.3, §17.2.3) and forgets them when they terminate. It does not talk to the transport's
 * delegate itself; the UA core feeds it with {@link receiveRequest} / {@link receiveResponse}.
 */
export class TransactionLayer {
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  readonly transport: Transport;
  readonly clock: Clock;
  readonly timers: TimerValues;
  private readonly log: SipLogger;

  constructor(opts: TransactionLayerOptions) {
    this.transport = opts.transport;
    this.clock = opts.clock;
    this.timers = opts.timers ?? DEFAULT_TIMERS;
    this.log = opts.log ?? nullLogger;
  }

  /** Live transactions (servers + clients). */
  get size(): number {
    return this.servers.size + this.clients.size;
  }

  /**
   * Gives a request to the server transaction it matches: a retransmission, or an ACK for a non-2xx
   * (or a 2xx ACK reusing the INVITE branch). Returns true when a transaction took it; false means the
   * TU must handle it (a new request, or an ACK for a 2xx with its own branch).
   */
  receiveRequest(req: SipRequest): boolean {
    const tx = this.servers.get(this.key(() => serverTransactionKey(req)));
    if (!tx) return false;
    if (req.method === "ACK" && tx.kind !== "invite-server") return false;
    tx.receiveRequest(req);
    return true;
  }

  /** Gives a response to its client transaction; false when none matches (a stray response). */
  receiveResponse(res: SipResponse): boolean {
    const tx = this.clients.get(this.key(() => clientTransactionKey(res)));
    if (!tx) return false;
    tx.receiveResponse(res);
    return true;
  }

  /** The INVITE server transaction a CANCEL targets (§9.2), if still known. */
  findInviteForCancel(cancel: SipRequest): InviteServerTransaction | undefined {
    const tx = this.servers.get(this.key(() => cancelTargetKey(cancel)));
    return tx instanceof InviteServerTransaction ? tx : undefined;
  }

  createInviteServer(req: SipRequest, user?: InviteServerTransactionUser): InviteServerTransaction {
    const id = serverTransactionKey(req);
    return this.addServer(new InviteServerTransaction(id, req, this.transport, this.clock, user, this.timers));
  }

  createNonInviteServer(req: SipRequest, user?: NonInviteServerTransactionUser): NonInviteServerTransaction {
    const id = serverTransactionKey(req);
    return this.addServer(new NonInviteServerTransaction(id, req, this.transport, this.clock, user, this.timers));
  }

  /** Creates and starts (sends) an INVITE client transaction. */
  createInviteClient(req: SipRequest, destination: Address, user: InviteClientTransactionUser): InviteClientTransaction {
    const tx = new InviteClientTransaction(clientTransactionKey(req), req, destination, this.transport, this.clock, user, this.timers);
    this.addClient(tx);
    tx.start();
    return tx;
  }

  /** Creates and starts (sends) a non-INVITE client transaction. */
  createNonInviteClient(req: SipRequest, destination: Address, user: NonInviteClientTransactionUser): NonInviteClientTransaction {
    const tx = new NonInviteClientTransaction(clientTransactionKey(req), req, destination, this.transport, this.clock, user, this.timers);
    this.addClient(tx);
    tx.start();
    return tx;
  }

  /** Disposes every transaction (clears all their timers). */
  dispose(): void {
    for (const tx of [...this.servers.values(), ...this.clients.values()]) tx.dispose();
    this.servers.clear();
    this.clients.clear();
  }

  private addServer<T extends ServerTransaction>(tx: T): T {
    this.servers.get(tx.id)?.dispose();
    this.track(this.servers, tx);
    return tx;
  }

  private addClient(tx: ClientTransaction): void {
    this.clients.get(tx.id)?.dispose();
    this.track(this.clients, tx);
  }

  private track<T extends ServerTransaction | ClientTransaction>(map: Map<string, T>, tx: T): void {
    map.set(tx.id, tx);
    tx.setTerminatedHook(() => {
      if (map.get(tx.id) === tx) map.delete(tx.id);
    });
  }

  private key(f: () => string): string {
    try {
      return f();
    } catch (e) {
      if (e instanceof SipParseError) {
        this.log.debug({ code: e.code }, "sip message not matchable to a transaction");
        return "";
      }
      throw e;
    }
  }
}
