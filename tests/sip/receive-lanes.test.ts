/**
 * Receive lanes (src/sip/transport/receive-lanes.ts, receive-queue.ts): OPTIONS probes answered ahead of
 * a backlog of INVITEs; a live peer's in-dialog requests (To tag) urgent, its new INVITEs not; a CANCEL
 * urgent once its INVITE is pending (expectCancel), not before. The last test sends real datagrams to a bound UdpTransport while its thread is busy, so they all
 * wait in the socket and the queue orders them.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { CANCEL_PRIORITY_MS, MAX_EXPECTED_CANCELS, ReceiveLanes, hasToTag, topViaBranch } from "../../src/sip/transport/receive-lanes.ts";
import { isAck, isMethod } from "../../src/sip/transport/inbound.ts";
import { ReceiveQueue } from "../../src/sip/transport/receive-queue.ts";
import { UdpTransport, type Address } from "../../src/sip/transport/index.ts";

const enc = new TextEncoder();
const TRUNK: Address = { host: "127.0.0.1", port: 5999 };

function request(method: string, n: number, toTag: boolean, viaPort = TRUNK.port): Uint8Array {
  const lines = [
    `${method} sip:agent@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${viaPort};branch=z9hG4bKlane${method}${n}`,
    "Max-Forwards: 70",
    `From: <sip:trunk@127.0.0.1>;tag=f${n}`,
    `To: <sip:agent@127.0.0.1>${toTag ? ";tag=t1" : ""}`,
    `Call-ID: lane-${method}-${n}`,
    `CSeq: 1 ${method}`,
    "Content-Length: 0",
    "",
    "",
  ];
  return enc.encode(lines.join("\r\n"));
}

/** A fake event loop: `schedule` records turns, `turn()` runs the next one. */
function loop() {
  let t = 0;
  const turns: Array<() => void> = [];
  return { now: () => t, advance: (ms: number) => void (t += ms), schedule: (fn: () => void) => void turns.push(fn), turn: () => turns.shift()!() };
}

describe("ReceiveLanes.laneOf", () => {
  test("OPTIONS → probe from anyone; responses urgent; a live peer's in-dialog requests urgent, its new INVITE and CANCEL ordinary", () => {
    const lanes = new ReceiveLanes();
    const stranger = { host: "127.0.0.2", port: 5060 };
    expect(lanes.laneOf(request("OPTIONS", 1, false), false, stranger)).toBe("probe");
    expect(lanes.laneOf(request("BYE", 1, true), false, TRUNK)).toBe(false); // not a live peer yet
    lanes.prioritize(TRUNK);
    expect(lanes.laneOf(request("BYE", 1, true), false, TRUNK)).toBe(true);
    expect(lanes.laneOf(request("ACK", 1, true), false, TRUNK)).toBe(true);
    expect(lanes.laneOf(request("INVITE", 2, true), false, TRUNK)).toBe(true); // a re-INVITE
    expect(lanes.laneOf(request("INVITE", 3, false), false, TRUNK)).toBe(false); // a new call
    expect(lanes.laneOf(request("CANCEL", 3, false), false, TRUNK)).toBe(false); // behind its INVITE
    expect(lanes.laneOf(request("OPTIONS", 4, true), false, TRUNK)).toBe("probe");
    expect(lanes.laneOf(request("BYE", 1, true), false, stranger)).toBe(false);
    expect(lanes.laneOf(enc.encode("SIP/2.0 200 OK\r\n\r\n"), true, stranger)).toBe(true);
    expect(lanes.laneOf(enc.encode("options sip:a@b SIP/2.0\r\n\r\n"), false, stranger)).toBe(false); // methods are case-sensitive
  });

  test("a CANCEL for a pending INVITE (expectCancel: its source and branch) → urgent until CANCEL_PRIORITY_MS; other CANCELs ordinary", () => {
    const l = loop();
    const lanes = new ReceiveLanes(l.now);
    const caller = { host: "127.0.0.9", port: 5062 };
    expect(lanes.laneOf(request("CANCEL", 7, false), false, caller)).toBe(false); // its INVITE not handled yet: behind it
    lanes.expectCancel(caller, "z9hG4bKlaneCANCEL7");
    expect(lanes.laneOf(request("CANCEL", 7, false), false, caller)).toBe(true);
    expect(lanes.laneOf(request("CANCEL", 8, false), false, caller)).toBe(false); // another branch
    expect(lanes.laneOf(request("CANCEL", 7, false), false, { host: "127.0.0.9", port: 5063 })).toBe(false); // §9.1: same address
    expect(lanes.laneOf(request("INVITE", 7, false), false, caller)).toBe(false); // only the CANCEL
    expect(lanes.laneOf(request("BYE", 7, false), false, caller)).toBe(false);
    l.advance(CANCEL_PRIORITY_MS - 1);
    expect(lanes.laneOf(request("CANCEL", 7, false), false, caller)).toBe(true);
    l.advance(1);
    expect(lanes.laneOf(request("CANCEL", 7, false), false, caller)).toBe(false);
    // Bounded: the least recent expectation goes first.
    for (let i = 0; i <= MAX_EXPECTED_CANCELS; i++) lanes.expectCancel(caller, `z9hG4bKlaneCANCEL${1000 + i}`);
    expect(lanes.laneOf(request("CANCEL", 1000, false), false, caller)).toBe(false);
    expect(lanes.laneOf(request("CANCEL", 1001, false), false, caller)).toBe(true);
  });

  test("topViaBranch: the first value of the first Via (full or compact), its branch; undefined when none", () => {
    const via = (line: string) => enc.encode(`CANCEL sip:a@b SIP/2.0\r\n${line}\r\nTo: <sip:a@b>\r\n\r\n`);
    const table: Array<[string, string | undefined]> = [
      ["Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa1;rport", "z9hG4bKa1"],
      ["v: SIP/2.0/UDP 127.0.0.1:5060 ; BRANCH = z9hG4bKa2", "z9hG4bKa2"],
      ["Via: SIP/2.0/UDP 127.0.0.1:5060;rport, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKsecond", undefined],
      ["Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKfirst, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKsecond", "z9hG4bKfirst"],
      ["Max-Forwards: 70", undefined],
    ];
    for (const [line, branch] of table) expect([line, topViaBranch(via(line))]).toEqual([line, branch]);
  });

  test("isMethod: the request line's method and its space, case-sensitive (§7.1); what laneOf and the ACK check share", () => {
    const table: Array<[string, string, boolean]> = [
      ["OPTIONS sip:a@b SIP/2.0\r\n\r\n", "OPTIONS", true],
      ["ACK sip:a@b SIP/2.0\r\n\r\n", "ACK", true],
      ["INVITE sip:a@b SIP/2.0\r\n\r\n", "INVITE", true],
      ["options sip:a@b SIP/2.0\r\n\r\n", "OPTIONS", false], // methods are case-sensitive
      ["Ack sip:a@b SIP/2.0\r\n\r\n", "ACK", false],
      ["OPTIONSX sip:a@b SIP/2.0\r\n\r\n", "OPTIONS", false], // another token that begins the same
      ["ACKNOWLEDGE sip:a@b SIP/2.0\r\n\r\n", "ACK", false],
      ["OPTIONS\tsip:a@b SIP/2.0\r\n\r\n", "OPTIONS", false], // SP, not any white space
      [" OPTIONS sip:a@b SIP/2.0\r\n\r\n", "OPTIONS", false],
      ["SIP/2.0 200 OK\r\nCSeq: 1 OPTIONS\r\n\r\n", "OPTIONS", false], // a response to one
      ["OPTIONS", "OPTIONS", false], // truncated: no space
      ["OPTIONS ", "OPTIONS", true],
      ["ACK", "ACK", false],
      ["", "ACK", false],
    ];
    for (const [text, method, want] of table) expect([text, method, isMethod(enc.encode(text), method)]).toEqual([text, method, want]);
    // A view at an offset into a larger buffer (as datagrams arrive): only the view's bytes count.
    const buf = enc.encode("xxACK sip:a@b SIP/2.0\r\n\r\n");
    expect(isMethod(buf.subarray(2), "ACK")).toBe(true);
    expect(isMethod(buf.subarray(1), "ACK")).toBe(false);
    expect(isAck(request("ACK", 1, true))).toBe(true);
    expect(isAck(request("BYE", 1, true))).toBe(false);
    expect(isMethod(request("OPTIONS", 1, false), "OPTIONS")).toBe(true);
  });

  test("hasToTag: full and compact forms, any case and spacing; the To line only; no To found counts as tagged", () => {
    expect(hasToTag(enc.encode("BYE sip:a@b SIP/2.0\r\nt: <sip:a@b> ; TAG = x\r\nFrom: <sip:c@d>;tag=y\r\n\r\n"))).toBe(true);
    expect(hasToTag(enc.encode("INVITE sip:a@b SIP/2.0\r\nFrom: <sip:c@d>;tag=y\r\nTO:<sip:a@b>\r\n\r\n"))).toBe(false);
    expect(hasToTag(enc.encode("INVITE sip:a@b SIP/2.0\r\nReply-To: <sip:c@d>;tag=y\r\nTo: sip:a@b\r\n\r\n"))).toBe(false);
    expect(hasToTag(enc.encode("INVITE sip:a@b SIP/2.0\r\nFrom: <sip:c@d>;tag=y\r\n\r\nTo: x;tag=body\r\n"))).toBe(true); // the body is not searched
  });
});

describe("ReceiveQueue probe lane", () => {
  test("a probe pushed behind 300 ordinary and 5 urgent items is handled first; at most 2 probes per slice; full → ordinary lane", () => {
    const l = loop();
    const seen: string[] = [];
    const q = new ReceiveQueue<string>((x) => (seen.push(x), l.advance(0.3)), { schedule: l.schedule, now: l.now, sliceMs: 1, maxProbe: 3, ordinaryShare: 1 }); // lanes, not the share (receive-queue.test.ts)
    for (let i = 0; i < 300; i++) q.push(`INVITE${i}`);
    for (let i = 0; i < 5; i++) q.push(`ACK${i}`, true);
    for (let i = 0; i < 4; i++) q.push(`OPTIONS${i}`, "probe"); // the 4th finds the probe lane full
    l.turn();
    expect(seen).toEqual(["OPTIONS0", "OPTIONS1", "ACK0", "ACK1"]);
    l.turn();
    expect(seen.slice(4)).toEqual(["OPTIONS2", "ACK2", "ACK3", "ACK4"]);
    while (q.length > 0) l.turn();
    expect(seen.at(-1)).toBe("OPTIONS3"); // the overflow waited its turn in the ordinary lane
    expect(seen).toHaveLength(309);
  });

  test("a probe that waited longer than maxAgeMs is dropped unhandled and reported", () => {
    const l = loop();
    const seen: string[] = [];
    const expired: string[] = [];
    const q = new ReceiveQueue<string>((x) => seen.push(x), { schedule: l.schedule, now: l.now, maxAgeMs: 2000, onExpired: (x) => expired.push(x) });
    q.push("OPTIONS", "probe");
    l.advance(2500);
    l.turn();
    expect(seen).toEqual([]);
    expect(expired).toEqual(["OPTIONS"]);
  });
});

describe("ReceiveQueue.oldestWaitMs (what an OPTIONS answer weighs: how late a new INVITE would be handled)", () => {
  test("the wait of the oldest ordinary item; urgent and probe items do not count; 0 when none waits", () => {
    const l = loop();
    const q = new ReceiveQueue<string>(() => l.advance(0.4), { schedule: l.schedule, now: l.now, sliceMs: 1 });
    expect(q.oldestWaitMs()).toBe(0);
    q.push("ACK", true);
    q.push("OPTIONS", "probe");
    l.advance(700);
    expect(q.oldestWaitMs()).toBe(0);
    q.push("INVITE1");
    l.advance(300);
    q.push("INVITE2");
    l.advance(900);
    expect(q.oldestWaitMs()).toBe(1200);
    l.turn(); // OPTIONS, ACK, INVITE1 (1.2 ms of handling)
    expect(q.oldestWaitMs()).toBeCloseTo(901.2, 5);
    l.turn();
    expect(q.oldestWaitMs()).toBe(0);
  });
});

describe("UdpTransport: real datagrams waiting in the socket", () => {
  const open: Array<{ close(): void }> = [];
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });

  test("an OPTIONS sent after 100 INVITEs from a live trunk is handled first, the trunk's ACK next, then the INVITEs in order", async () => {
    const agent = await UdpTransport.bind({ host: "127.0.0.1", port: 0 });
    open.push(agent);
    const trunk = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    const prober = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
    open.push(trunk, prober);
    const seen: string[] = [];
    agent.delegate = { onMessage: (m) => void seen.push(m.kind === "request" ? `${m.method} ${m.callId}` : "response") };
    agent.prioritize({ host: "127.0.0.1", port: trunk.port }); // the trunk has a live call
    for (let i = 0; i < 100; i++) trunk.send(request("INVITE", i, false, trunk.port), agent.local.port, "127.0.0.1");
    trunk.send(request("ACK", 0, true, trunk.port), agent.local.port, "127.0.0.1");
    prober.send(request("OPTIONS", 0, false, prober.port), agent.local.port, "127.0.0.1");
    const until = performance.now() + 50;
    while (performance.now() < until) {
      /* the agent's thread is busy: the 102 datagrams wait in its socket, unread */
    }
    for (let waited = 0; seen.length < 102 && waited < 10_000; waited += 10) await Bun.sleep(10); // slack for a busy machine
    expect(agent.stats.received).toBe(102);
    // Before the lanes: the OPTIONS after all 100 INVITEs (ordinary lane, FIFO), the ACK too (the
    // trunk's INVITEs were urgent like its ACK).
    expect(seen.slice(0, 2)).toEqual(["OPTIONS lane-OPTIONS-0", "ACK lane-ACK-0"]);
    expect(seen.slice(2)).toEqual(Array.from({ length: 100 }, (_, i) => `INVITE lane-INVITE-${i}`));
  });
});
