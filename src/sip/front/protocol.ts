/** Messages between the call thread (./front-link.ts) and the SIP front thread (./front-worker.ts). */
import type { GateVerdict, SourceGateOptions } from "../transport/source-gate.ts";
import type { Address } from "../transport/types.ts";

/** Gate verdicts on the wire, by index. */
export const VERDICTS: readonly GateVerdict[] = ["pass", "rate_limited", "untrusted_reject", "untrusted_drop"];

export type FrontRequest =
  /** Bind the SIP socket; `state`: ./front-state.ts; `server`: the Server header of OPTIONS answers. */
  | { t: "bind"; host: string; port: number; gate: SourceGateOptions; state: SharedArrayBuffer; server: string; sliceUs: number }
  /** Datagrams to send from the SIP socket: `data` holds them back to back, `lens[i]` bytes each. */
  | { t: "send"; data: Uint8Array; lens: number[]; hosts: string[]; ports: number[] }
  /** Answer `synced` after the front's next socket poll (datagrams waiting in the socket by now are relayed first). */
  | { t: "sync"; id: number }
  | { t: "close" };

export type FrontReply =
  /** Bound; `slice`: the outcome of asking for `sliceUs` (absent when 0). */
  | { t: "ready"; host: string; port: number; fd: number; slice?: { ok: true; tid: number } | { ok: false; error: string } }
  | { t: "bindError"; message: string; code?: string }
  /**
   * Datagrams read in one worker turn, back to back in `data` (`lens[i]` bytes: 0 for a datagram the gate
   * dropped, counted and logged on the call thread), with their source, gate verdict (index into VERDICTS)
   * and arrival time (epochNowMs).
   */
  | { t: "rx"; data: Uint8Array; lens: number[]; hosts: string[]; ports: number[]; verdicts: number[]; at: number[] }
  /** A socket error; `after`: the front's own OPTIONS answer it follows (not the call thread's last send). */
  | { t: "socketError"; code?: string; message: string; after?: Address }
  /** A send from the call thread the kernel did not take: would block (`code` EAGAIN) or threw. */
  | { t: "sendFailed"; host: string; port: number; code: string; message: string }
  /** The `sync` with this id: every datagram the socket held when it came has been relayed (`rx`, before this). */
  | { t: "synced"; id: number };
