/**
 * The SIP front thread (SIP_FRONT=on): owns the SIP UDP socket so that a load balancer's OPTIONS probe is
 * answered within milliseconds even while the call thread is in a long turn (at 200 calls those reached
 * 55–186 ms and OPTIONS p99 57–148 ms; issue 13). Per datagram, in order:
 *
 * 1. the source gate (SIP_TRUSTED_IPS, SIP_UNTRUSTED, SIP_RATE_LIMIT: src/sip/transport/source-gate.ts),
 *    here instead of on the call thread, so each datagram is counted once;
 * 2. an out-of-dialog OPTIONS the gate passes and the UA core would answer with nothing but the probe
 *    answer (src/sip/ua/options.ts `isPlainProbe`) is answered here, from the status the call thread
 *    published (./front-state.ts) — unless that status is older than FRONT_STALE_MS (a stuck call
 *    thread must still look stuck), then it goes on like any datagram;
 * 3. everything else goes to the call thread with its verdict and arrival time, batched per turn of this
 *    thread (setImmediate), where UdpTransport handles it exactly as when it owns the socket.
 *
 * The call thread's sends come back here and leave from this one socket (RFC 3581 §4: "the server MUST
 * send the response to the source IP address and port … from which the request was received").
 * The front sends no 100 Trying: see ./front-link.ts.
 */
import type { udp } from "bun";
import { isIP } from "node:net";
import { processDatagram, isResponse, isMethod } from "../transport/inbound.ts";
import { oversizeOf } from "../transport/oversize.ts";
import { responseDestinationOf } from "../transport/response-address.ts";
import { SourceGate } from "../transport/source-gate.ts";
import { serializeMessage } from "../message/index.ts";
import { isPlainProbe, optionsResponse } from "../ua/options.ts";
import { fdOf } from "../../util/socket-buffer.ts";
import { setThreadSlice } from "../../util/thread-sched.ts";
import { FrontState, RELAY_BACKLOG_BYTES, epochNowMs } from "./front-state.ts";
import { VERDICTS, type FrontReply, type FrontRequest } from "./protocol.ts";
import type { Address } from "../transport/types.ts";

declare const self: Worker;

const post = (m: FrontReply, transfer?: ArrayBuffer[]) => self.postMessage(m, transfer ? { transfer } : undefined);

let socket: udp.Socket<"uint8array"> | undefined;
let gate: SourceGate;
let state: FrontState;
let server = "voice-agent";
/** The front's last own send (an OPTIONS answer) and the call thread's last relayed send, epochNowMs. */
let lastOwn: { to: Address; at: number } | undefined;
let lastRelayAt = 0;
/** Datagram bytes posted to the call thread, mod 2^32 (flow control: FrontState.pendingBytes). */
let posted = 0;

/** Datagrams read this turn, flushed to the call thread on setImmediate. */
let batch: { parts: Uint8Array[]; size: number; lens: number[]; hosts: string[]; ports: number[]; verdicts: number[]; at: number[] } | undefined;

function flush(): void {
  const b = batch;
  batch = undefined;
  if (!b || b.lens.length === 0) return;
  const data = new Uint8Array(b.size);
  let o = 0;
  for (const p of b.parts) data.set(p, (o += p.length) - p.length);
  posted = (posted + b.size) >>> 0;
  post({ t: "rx", data, lens: b.lens, hosts: b.hosts, ports: b.ports, verdicts: b.verdicts, at: b.at }, [data.buffer]);
}

function forward(data: Uint8Array | undefined, host: string, port: number, verdict: number, at: number): void {
  if (!batch) {
    batch = { parts: [], size: 0, lens: [], hosts: [], ports: [], verdicts: [], at: [] };
    setImmediate(flush);
  }
  if (data) {
    if (state.pendingBytes(posted) + batch.size + data.length > RELAY_BACKLOG_BYTES) return state.countDropped();
    batch.parts.push(data.slice()); // Bun may reuse the receive buffer
    batch.size += data.length;
  }
  batch.lens.push(data ? data.length : 0);
  batch.hosts.push(host);
  batch.ports.push(port);
  batch.verdicts.push(verdict);
  batch.at.push(at);
}

/** Answers `data` here when it is a plain OPTIONS probe and the call thread's status is fresh; true when answered. */
function answerProbe(data: Uint8Array, source: Address, now: number): boolean {
  if (!isMethod(data, "OPTIONS") || oversizeOf(data)) return false;
  const status = state.read(now);
  if (!status) return false;
  try {
    const r = processDatagram(data, source);
    if (r.kind !== "message" || r.message.kind !== "request" || !isPlainProbe(r.message)) return false;
    const res = optionsResponse(r.message, status, server);
    const to = responseDestinationOf(res);
    const host = to.host.startsWith("[") ? to.host.slice(1, -1) : to.host;
    if (!isIP(host)) return false; // a name to resolve: the call thread's job
    if (!socket!.send(serializeMessage(res), to.port, host)) return false;
    lastOwn = { to, at: now };
    state.countAnswer(res.status);
    return true;
  } catch {
    return false; // anything odd: the call thread answers it (400, logs) as it would without the front
  }
}

function onData(data: Uint8Array, port: number, host: string): void {
  const now = epochNowMs();
  try {
    const response = isResponse(data);
    const verdict = gate.admit(host, !response);
    if (verdict === "pass" && !response && answerProbe(data, { host, port }, now)) return;
    // Refused by the gate: only the fact goes over (the call thread counts and logs it), not the bytes.
    const keep = verdict === "pass" || verdict === "untrusted_reject";
    forward(keep ? data : undefined, host, port, VERDICTS.indexOf(verdict), now);
  } catch {
    forward(data, host, port, 0, now);
  }
}

function send(m: Extract<FrontRequest, { t: "send" }>): void {
  let o = 0;
  for (let i = 0; i < m.lens.length; i++) {
    const bytes = m.data.subarray(o, (o += m.lens[i]!));
    const host = m.hosts[i]!;
    const port = m.ports[i]!;
    try {
      if (!socket?.send(bytes, port, host)) post({ t: "sendFailed", host, port, code: "EAGAIN", message: "socket send buffer full" });
      else lastRelayAt = epochNowMs();
    } catch (err) {
      post({ t: "sendFailed", host, port, code: (err as { code?: string }).code ?? "send", message: String(err) });
    }
  }
}

function onSocketError(err: Error | undefined): void {
  const own = lastOwn && lastOwn.at > lastRelayAt ? lastOwn.to : undefined;
  post({ t: "socketError", code: (err as { code?: string } | undefined)?.code, message: err ? err.message : "no error object", after: own });
}

async function bind(m: Extract<FrontRequest, { t: "bind" }>): Promise<void> {
  gate = new SourceGate(m.gate);
  state = new FrontState(m.state);
  server = m.server;
  try {
    socket = await Bun.udpSocket({
      hostname: m.host,
      port: m.port,
      binaryType: "uint8array",
      socket: {
        data: (_s, data, port, address) => onData(data, port, address),
        error: (...args: unknown[]) => onSocketError(args.find((a) => a instanceof Error) as Error | undefined),
      },
    });
    // A short slice (SIP_FRONT_SLICE_US) lets this thread preempt a long-running call thread on a shared core at once (util/thread-sched.ts).
    const slice = m.sliceUs > 0 ? setThreadSlice(m.sliceUs) : undefined;
    post({ t: "ready", host: socket.hostname, port: socket.port, fd: fdOf(socket), slice });
  } catch (err) {
    post({ t: "bindError", message: (err as Error).message, code: (err as { code?: string }).code });
  }
}

self.onmessage = (ev: MessageEvent<FrontRequest>) => {
  const m = ev.data;
  if (m.t === "bind") void bind(m);
  else if (m.t === "send") send(m);
  // Two timer turns: the loop polls the socket at least once between them (a single timer may run before this
  // turn's poll), so what waited there is read and relayed (flush) before the answer.
  else if (m.t === "sync") setTimeout(() => setTimeout(() => (flush(), post({ t: "synced", id: m.id })), 0), 0);
  else {
    flush();
    socket?.close();
    socket = undefined;
    process.exit(0); // in a worker: ends this thread only
  }
};
