import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../src/util/clock.ts";
import { IllegalTransitionError } from "../../src/util/state-machine.ts";
import type { SipResponse } from "../../src/sip/message/index.ts";
import { buildResponse } from "../../src/sip/message/index.ts";
import { MemoryTransport } from "../../src/sip/transport/index.ts";
import {
  DEFAULT_TIMERS,
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  T1,
  T2,
  T4,
  TransactionLayer,
} from "../../src/sip/transaction/index.ts";
import { describeSent, request, response } from "./helpers.ts";

function setup() {
  const clock = new FakeClock();
  const transport = new MemoryTransport({ clock });
  return { clock, transport };
}
const times = (t: MemoryTransport, what: string) => t.sent.filter((r) => describeSent(r) === what).map((r) => r.at);

test("named constants", () => {
  expect([T1, T2, T4]).toEqual([500, 4000, 5000]);
  const t = DEFAULT_TIMERS;
  expect([t.A, t.B, t.D, t.E, t.F, t.G, t.H, t.I, t.J, t.K, t.L, t.M]).toEqual([500, 32000, 32000, 500, 32000, 500, 32000, 5000, 32000, 5000, 32000, 32000]);
});

describe("INVITE server transaction (§17.2.1, §13.3.1.4)", () => {
  const invite = request("INVITE");

  test("2xx retransmitted at 0.5, 1.5, 3.5 s then every 4 s; no ACK → onNoAck at 64·T1", () => {
    const { clock, transport } = setup();
    const events: string[] = [];
    const tx = new InviteServerTransaction("k", invite, transport, clock, {
      onNoAck: () => events.push(`noack@${clock.now()}`),
      onTerminated: () => events.push(`terminated@${clock.now()}`),
    });
    tx.respond(buildResponse(invite, 100));
    tx.respond(buildResponse(invite, 200, { toTag: "t" }));
    expect(tx.state).toBe("accepted");
    clock.advance(40_000);
    expect(times(transport, "200 INVITE")).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(events).toEqual(["terminated@32000", "noack@32000"]);
    expect(tx.state).toBe("terminated");
    expect(clock.pending).toBe(0);
  });

  test("ACK stops 2xx retransmission; Timer L then ends the transaction silently", () => {
    const { clock, transport } = setup();
    let noAck = 0;
    const tx = new InviteServerTransaction("k", invite, transport, clock, { onNoAck: () => noAck++ });
    tx.respond(buildResponse(invite, 200, { toTag: "t" }));
    clock.advance(2000);
    tx.ackReceived();
    clock.advance(40_000);
    expect(times(transport, "200 INVITE")).toEqual([0, 500, 1500]);
    expect(noAck).toBe(0);
    expect(tx.state).toBe("terminated");
  });

  test("an ACK on the INVITE branch while accepted is reported once and stops retransmission", () => {
    const { clock, transport } = setup();
    const acks: string[] = [];
    const tx = new InviteServerTransaction("k", invite, transport, clock, { onAck: (a) => acks.push(a.method) });
    tx.respond(buildResponse(invite, 200, { toTag: "t" }));
    clock.advance(600);
    tx.receiveRequest(request("ACK", { toTag: "t" }));
    tx.receiveRequest(request("ACK", { toTag: "t" }));
    clock.advance(5000);
    expect(acks).toEqual(["ACK"]);
    expect(times(transport, "200 INVITE")).toEqual([0, 500]);
  });

  test("retransmitted INVITE resends the last response in every state", () => {
    const { clock, transport } = setup();
    const tx = new InviteServerTransaction("k", invite, transport, clock);
    tx.receiveRequest(invite); // nothing sent yet: nothing to resend
    expect(transport.sent).toHaveLength(0);
    tx.respond(buildResponse(invite, 100));
    tx.receiveRequest(invite);
    expect(transport.sent.map(describeSent)).toEqual(["100 INVITE", "100 INVITE"]);
    tx.respond(buildResponse(invite, 180, { toTag: "t" }));
    tx.receiveRequest(invite);
    expect(transport.sent.slice(2).map(describeSent)).toEqual(["180 INVITE", "180 INVITE"]);
    tx.respond(buildResponse(invite, 200, { toTag: "t" }));
    clock.advance(100);
    tx.receiveRequest(invite);
    expect(times(transport, "200 INVITE")).toEqual([0, 100]);
  });

  test("non-2xx: Timer G resends (doubling to T2), ACK → confirmed, Timer I → terminated", () => {
    const { clock, transport } = setup();
    const tx = new InviteServerTransaction("k", invite, transport, clock);
    tx.respond(buildResponse(invite, 486, { toTag: "t" }));
    expect(tx.state).toBe("completed");
    clock.advance(12_000);
    expect(times(transport, "486 INVITE")).toEqual([0, 500, 1500, 3500, 7500, 11500]);
    tx.receiveRequest(request("ACK", { toTag: "t" }));
    expect(tx.state).toBe("confirmed");
    expect(tx.activeTimers).toEqual(["I"]);
    tx.receiveRequest(request("ACK", { toTag: "t" })); // absorbed
    clock.advance(T4);
    expect(tx.state).toBe("terminated");
    expect(times(transport, "486 INVITE")).toHaveLength(6);
  });

  test("non-2xx to an INVITE that came over TCP: no Timer G resend (§17.2.1 'For unreliable transports'); a retransmitted INVITE still gets it; Timer H", () => {
    const { clock, transport } = setup();
    const overTcp = request("INVITE");
    overTcp.headers.setFirst("Via", overTcp.headers.get("Via")!.replace("SIP/2.0/UDP", "SIP/2.0/TCP"));
    let timedOut = -1;
    const tx = new InviteServerTransaction("k", overTcp, transport, clock, { onTimeout: () => (timedOut = clock.now()) });
    tx.respond(buildResponse(overTcp, 486, { toTag: "t" }));
    clock.advance(12_000);
    expect(times(transport, "486 INVITE")).toEqual([0]); // was [0, 500, 1500, 3500, 7500, 11500]
    tx.receiveRequest(overTcp);
    expect(times(transport, "486 INVITE")).toEqual([0, 12_000]);
    clock.advance(40_000);
    expect(timedOut).toBe(32_000);
  });

  test("non-2xx without ACK: Timer H at 64·T1 → onTimeout", () => {
    const { clock, transport } = setup();
    let at = -1;
    const tx = new InviteServerTransaction("k", invite, transport, clock, { onTimeout: () => (at = clock.now()) });
    tx.respond(buildResponse(invite, 503, { toTag: "t" }));
    clock.advance(60_000);
    expect(at).toBe(32_000);
    expect(tx.state).toBe("terminated");
    expect(clock.pending).toBe(0);
  });

  test("illegal moves are rejected", () => {
    const { clock, transport } = setup();
    const tx = new InviteServerTransaction("k", invite, transport, clock);
    tx.respond(buildResponse(invite, 200, { toTag: "t" }));
    expect(() => tx.respond(buildResponse(invite, 486, { toTag: "t" }))).toThrow(IllegalTransitionError);
    expect(() => tx.respond(buildResponse(invite, 180, { toTag: "t" }))).toThrow(IllegalTransitionError);
    const tx2 = new InviteServerTransaction("k2", invite, transport, clock);
    tx2.respond(buildResponse(invite, 404, { toTag: "t" }));
    expect(() => tx2.respond(buildResponse(invite, 200, { toTag: "t" }))).toThrow(/completed → respond 200/);
    const err = (() => {
      try {
        tx2.respond(buildResponse(invite, 180, { toTag: "t" }));
      } catch (e) {
        return e as IllegalTransitionError;
      }
    })();
    expect(err).toBeInstanceOf(IllegalTransitionError); // the shared StateMachine's error
    expect([err?.code, err?.machine, err?.from, err?.retryable]).toEqual(["illegal_transition", "invite-server transaction", "completed", false]);
    expect(tx2.state).toBe("completed"); // a rejected move changes nothing
  });

  test("dispose clears every timer without reporting", () => {
    const { clock, transport } = setup();
    let reports = 0;
    const tx = new InviteServerTransaction("k", invite, transport, clock, { onNoAck: () => reports++, onTerminated: () => reports++ });
    tx.respond(buildResponse(invite, 200, { toTag: "t" }));
    expect(clock.pending).toBe(2);
    tx.dispose();
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    expect(reports).toBe(0);
    expect(transport.sent).toHaveLength(1);
  });
});

describe("non-INVITE server transaction (§17.2.2)", () => {
  test("retransmission ignored in trying, answered after; Timer J = 64·T1", () => {
    const { clock, transport } = setup();
    const bye = request("BYE", { toTag: "t", cseq: 2 });
    const tx = new NonInviteServerTransaction("k", bye, transport, clock);
    tx.receiveRequest(bye);
    expect(transport.sent).toHaveLength(0);
    tx.respond(buildResponse(bye, 200));
    expect(tx.state).toBe("completed");
    clock.advance(1000);
    tx.receiveRequest(bye);
    expect(times(transport, "200 BYE")).toEqual([0, 1000]);
    expect(() => tx.respond(buildResponse(bye, 200))).toThrow(IllegalTransitionError);
    clock.advance(30_999);
    expect(tx.state).toBe("completed");
    clock.advance(1);
    expect(tx.state).toBe("terminated");
  });
});

describe("INVITE client transaction (§17.1.1)", () => {
  const dest = { host: "198.51.100.7", port: 5060 };

  test("Timer A doubles without cap; Timer B at 64·T1 reports timeout", () => {
    const { clock, transport } = setup();
    let timeoutAt = -1;
    const tx = new InviteClientTransaction("k", request("INVITE"), dest, transport, clock, {
      onResponse: () => {},
      onTimeout: () => (timeoutAt = clock.now()),
    });
    tx.start();
    clock.advance(40_000);
    expect(times(transport, "INVITE")).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(transport.sent.every((r) => r.to.host === "198.51.100.7")).toBe(true);
    expect(timeoutAt).toBe(32_000);
    expect(clock.pending).toBe(0);
  });

  test("sent over TCP or TLS (the top Via as the transport stamped it): no Timer A resend (§17.1.1.2 'If an unreliable transport'); Timer B still", () => {
    for (const proto of ["TCP", "TLS"]) {
      const { clock, transport } = setup();
      let timeoutAt = -1;
      const inv = request("INVITE");
      inv.headers.setFirst("Via", inv.headers.get("Via")!.replace("SIP/2.0/UDP", `SIP/2.0/${proto}`));
      const tx = new InviteClientTransaction("k", inv, dest, transport, clock, { onResponse: () => {}, onTimeout: () => (timeoutAt = clock.now()) });
      tx.start();
      clock.advance(40_000);
      expect(times(transport, "INVITE")).toEqual([0]); // was [0, 500, 1500, 3500, 7500, 15500, 31500]
      expect(timeoutAt).toBe(32_000);
      expect(clock.pending).toBe(0);
    }
  });

  test("a TCP attempt that fell back to UDP (Via restamped UDP before Timer A fires) is retransmitted on UDP timers", () => {
    const { clock, transport } = setup();
    const inv = request("INVITE");
    inv.headers.setFirst("Via", inv.headers.get("Via")!.replace("SIP/2.0/UDP", "SIP/2.0/TCP"));
    new InviteClientTransaction("k", inv, dest, transport, clock, { onResponse: () => {} }).start();
    clock.advance(200); // the connection was refused: multi.ts resends over UDP and stamps the Via UDP
    inv.headers.setFirst("Via", inv.headers.get("Via")!.replace("SIP/2.0/TCP", "SIP/2.0/UDP"));
    clock.advance(40_000);
    expect(times(transport, "INVITE")).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
  });

  test("1xx stops retransmission; non-2xx ACKed on the same branch; retransmitted final re-ACKed, reported once; Timer D", () => {
    const { clock, transport } = setup();
    const got: number[] = [];
    const invite = request("INVITE", { branch: "z9hG4bKc1", extra: [["Route", "<sip:proxy.example;lr>"]] });
    const tx = new InviteClientTransaction("k", invite, dest, transport, clock, { onResponse: (r) => got.push(r.status) });
    tx.start();
    clock.advance(600);
    tx.receiveResponse(response(invite, 180));
    clock.advance(10_000);
    expect(times(transport, "INVITE")).toEqual([0, 500]);
    const busy = response(invite, 486);
    tx.receiveResponse(busy);
    expect(tx.state).toBe("completed");
    const ack = transport.sent.at(-1)!.message;
    expect(ack.kind === "request" && ack.method).toBe("ACK");
    expect(ack.kind === "request" && ack.uri).toBe(invite.uri);
    expect(ack.topVia.branch).toBe("z9hG4bKc1");
    expect(ack.vias).toHaveLength(1);
    expect(ack.to.tag).toBe("uas-tag");
    expect(ack.cseq).toEqual({ seq: 1, method: "ACK" });
    expect(ack.headers.getAll("Route")).toEqual(["<sip:proxy.example;lr>"]);
    tx.receiveResponse(busy);
    expect(times(transport, "ACK")).toHaveLength(2);
    expect(got).toEqual([180, 486]);
    clock.advance(31_999);
    expect(tx.state).toBe("completed");
    clock.advance(1);
    expect(tx.state).toBe("terminated");
  });

  test("2xx → accepted; retransmitted 2xx reach the TU; Timer M ends it", () => {
    const { clock, transport } = setup();
    const got: number[] = [];
    const invite = request("INVITE");
    const tx = new InviteClientTransaction("k", invite, dest, transport, clock, { onResponse: (r) => got.push(r.status) });
    tx.start();
    tx.receiveResponse(response(invite, 200));
    tx.receiveResponse(response(invite, 200));
    expect(got).toEqual([200, 200]);
    expect(times(transport, "ACK")).toEqual([]); // the TU ACKs 2xx, not the transaction
    expect(tx.state).toBe("accepted");
    clock.advance(32_000);
    expect(tx.state).toBe("terminated");
  });
});

describe("non-INVITE client transaction (§17.1.2)", () => {
  const dest = { host: "198.51.100.7", port: 5060 };

  test("Timer E doubles to T2; Timer F at 64·T1 reports timeout", () => {
    const { clock, transport } = setup();
    let timeoutAt = -1;
    const tx = new NonInviteClientTransaction("k", request("BYE"), dest, transport, clock, { onResponse: () => {}, onTimeout: () => (timeoutAt = clock.now()) });
    tx.start();
    clock.advance(40_000);
    expect(times(transport, "BYE")).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(timeoutAt).toBe(32_000);
  });

  test("sent over TCP: no Timer E resend (§17.1.2.2); Timer F still reports the timeout at 64·T1", () => {
    const { clock, transport } = setup();
    let timeoutAt = -1;
    const bye = request("BYE");
    bye.headers.setFirst("Via", bye.headers.get("Via")!.replace("SIP/2.0/UDP", "SIP/2.0/TCP"));
    new NonInviteClientTransaction("k", bye, dest, transport, clock, { onResponse: () => {}, onTimeout: () => (timeoutAt = clock.now()) }).start();
    clock.advance(40_000);
    expect(times(transport, "BYE")).toEqual([0]);
    expect(timeoutAt).toBe(32_000);
  });

  test("1xx: retransmit every T2; final → completed, Timer K = T4; later finals absorbed", () => {
    const { clock, transport } = setup();
    const got: SipResponse[] = [];
    const bye = request("BYE");
    const tx = new NonInviteClientTransaction("k", bye, dest, transport, clock, { onResponse: (r) => got.push(r) });
    tx.start();
    clock.advance(600);
    tx.receiveResponse(response(bye, 100));
    clock.advance(9_000);
    expect(times(transport, "BYE")).toEqual([0, 500, 1500, 5500, 9500]);
    tx.receiveResponse(response(bye, 200));
    tx.receiveResponse(response(bye, 200));
    expect(got.map((r) => r.status)).toEqual([100, 200]);
    expect(tx.activeTimers).toEqual(["K"]);
    clock.advance(T4);
    expect(tx.state).toBe("terminated");
  });
});

describe("TransactionLayer matching (§17.1.3, §17.2.3)", () => {
  test("retransmission and ACK reach the server transaction; CANCEL finds its INVITE; tables shrink on termination", () => {
    const { clock, transport } = setup();
    const layer = new TransactionLayer({ transport, clock });
    const invite = request("INVITE", { branch: "z9hG4bKinv" });
    const tx = layer.createInviteServer(invite);
    expect(layer.receiveRequest(invite)).toBe(true);
    // same branch, different sent-by: not the same transaction
    expect(layer.receiveRequest(request("INVITE", { branch: "z9hG4bKinv", sentBy: "198.51.100.8:5060" }))).toBe(false);
    const cancel = request("CANCEL", { branch: "z9hG4bKinv" });
    expect(layer.receiveRequest(cancel)).toBe(false); // a new CANCEL: for the TU
    expect(layer.findInviteForCancel(cancel)).toBe(tx);
    expect(layer.findInviteForCancel(request("CANCEL", { branch: "z9hG4bKother" }))).toBeUndefined();
    tx.respond(buildResponse(invite, 487, { toTag: "t" }));
    expect(layer.receiveRequest(request("ACK", { branch: "z9hG4bKinv", toTag: "t" }))).toBe(true);
    expect(tx.state).toBe("confirmed");
    // an ACK for a 2xx has its own branch: the TU's business
    expect(layer.receiveRequest(request("ACK", { branch: "z9hG4bKack2xx", toTag: "t" }))).toBe(false);
    expect(layer.size).toBe(1);
    clock.advance(T4);
    expect(layer.size).toBe(0);
  });

  test("responses match by branch + CSeq method; the CANCEL 200 does not reach the INVITE transaction", () => {
    const { clock, transport } = setup();
    const layer = new TransactionLayer({ transport, clock });
    const seen: string[] = [];
    const invite = request("INVITE", { branch: "z9hG4bKout" });
    layer.createInviteClient(invite, { host: "198.51.100.7", port: 5060 }, { onResponse: (r) => seen.push(`inv ${r.status}`) });
    const cancel = request("CANCEL", { branch: "z9hG4bKout" });
    layer.createNonInviteClient(cancel, { host: "198.51.100.7", port: 5060 }, { onResponse: (r) => seen.push(`cancel ${r.status}`) });
    expect(layer.receiveResponse(response(invite, 180))).toBe(true);
    expect(layer.receiveResponse(response(cancel, 200))).toBe(true);
    expect(layer.receiveResponse(response(invite, 487))).toBe(true);
    expect(layer.receiveResponse(response(request("BYE", { branch: "z9hG4bKnope" }), 200))).toBe(false);
    expect(seen).toEqual(["inv 180", "cancel 200", "inv 487"]);
    layer.dispose();
    expect(layer.size).toBe(0);
    expect(clock.pending).toBe(0);
  });
});

describe("over TCP/TLS the absorb timers D, I, J, K are zero (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2)", () => {
  const dest = { host: "198.51.100.7", port: 5060 };
  const overReliable = (method: string, proto: "TCP" | "TLS", opts: Parameters<typeof request>[1] = {}) => {
    const req = request(method, opts);
    req.headers.setFirst("Via", req.headers.get("Via")!.replace("SIP/2.0/UDP", `SIP/2.0/${proto}`));
    return req;
  };

  test("INVITE client: a 486 is passed up and ACKed, then Timer D (zero) ends the transaction at once", () => {
    for (const proto of ["TCP", "TLS"] as const) {
      const { clock, transport } = setup();
      const order: string[] = [];
      const inv = overReliable("INVITE", proto);
      const tx = new InviteClientTransaction("k", inv, dest, transport, clock, { onResponse: (r) => order.push(`${r.status}`), onTerminated: () => order.push("terminated") });
      tx.start();
      clock.advance(100);
      tx.receiveResponse(response(inv, 486));
      expect(times(transport, "ACK")).toEqual([100]);
      expect(tx.activeTimers).toEqual(["D"]);
      clock.advance(0);
      expect(tx.state).toBe("terminated"); // was "completed" for 32 s
      expect(order).toEqual(["486", "terminated"]); // the TU hears the response first
      expect(clock.pending).toBe(0);
    }
  });

  test("non-INVITE client: final response → Timer K (zero) → terminated", () => {
    const { clock, transport } = setup();
    const bye = overReliable("BYE", "TCP");
    const got: number[] = [];
    const tx = new NonInviteClientTransaction("k", bye, dest, transport, clock, { onResponse: (r) => got.push(r.status) });
    tx.start();
    tx.receiveResponse(response(bye, 200));
    expect(got).toEqual([200]);
    clock.advance(0);
    expect(tx.state).toBe("terminated"); // was "completed" for T4
  });

  test("INVITE server: ACK for a non-2xx → confirmed → Timer I (zero) → terminated", () => {
    const { clock, transport } = setup();
    const inv = overReliable("INVITE", "TLS");
    const tx = new InviteServerTransaction("k", inv, transport, clock);
    tx.respond(buildResponse(inv, 486, { toTag: "t" }));
    tx.receiveRequest(overReliable("ACK", "TLS", { toTag: "t" }));
    expect(tx.state).toBe("confirmed");
    clock.advance(0);
    expect(tx.state).toBe("terminated"); // was "confirmed" for T4
  });

  test("non-INVITE server: final response → Timer J (zero) → terminated; over UDP J stays 64·T1", () => {
    const { clock, transport } = setup();
    const bye = overReliable("BYE", "TCP", { toTag: "t", cseq: 2 });
    const tx = new NonInviteServerTransaction("k", bye, transport, clock);
    tx.respond(buildResponse(bye, 200));
    expect(times(transport, "200 BYE")).toEqual([0]);
    clock.advance(0);
    expect(tx.state).toBe("terminated"); // was "completed" for 64·T1
    const udpBye = request("BYE", { toTag: "t", cseq: 3 });
    const udp = new NonInviteServerTransaction("k2", udpBye, transport, clock);
    udp.respond(buildResponse(udpBye, 200));
    clock.advance(DEFAULT_TIMERS.J - 1);
    expect(udp.state).toBe("completed");
  });
});
