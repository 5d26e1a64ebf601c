/** SIP transaction layer: the four RFC 3261 §17 state machines, their timers, and matching. */
export { T1, T2, T4, DEFAULT_TIMERS, timerValues, type TimerValues } from "./timers.ts";
export type { ClientTransactionUser, TransactionKind, TransactionUser } from "./base.ts";
export { InviteServerTransaction, type InviteServerState, type InviteServerTransactionUser } from "./invite-server.ts";
export { NonInviteServerTransaction, type NonInviteServerState, type NonInviteServerTransactionUser } from "./non-invite-server.ts";
export { InviteClientTransaction, buildNon2xxAck, type InviteClientState, type InviteClientTransactionUser } from "./invite-client.ts";
export { NonInviteClientTransaction, type NonInviteClientState, type NonInviteClientTransactionUser } from "./non-invite-client.ts";
export { cancelTargetKey, clientTransactionKey, serverTransactionKey } from "./matching.ts";
export { TransactionLayer, type ClientTransaction, type ServerTransaction, type TransactionLayerOptions } from "./layer.ts";
