/**
 * The SIP front thread (SIP_FRONT=on, src/sip/front/): a real worker thread owns the SIP UDP socket and
 * answers out-of-dialog OPTIONS from the status the call thread published, while the call thread (this
 * test's thread) is blocked in a busy loop; a control without the front answers only after the block.
 * The probe is sent and timed by a separate process (the test thread cannot receive while blocked).
 * With a heartbeat older than FRONT_STALE_MS the front does not answer for the call thread; untrusted
 * sources get what the call thread gives them; INVITE/ACK/BYE runs through the front.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { SystemClock } from "../../src/util/clock.ts";
import { Headers, SipRequest, SourceGate, UdpTransport, UserAgent, type Address, type InboundCall, type OptionsStatus, type SourceGateOptions } from "../../src/sip/index.ts";
import { SipFront } from "../../src/sip/front/front-link.ts";
import { FRONT_STALE_MS } from "../../src/sip/front/front-state.ts";
import { ANSWER_SDP } from "./ua-harness.ts";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanups.splice(0)) f();
});

const STATUS: OptionsStatus = { available: true, headers: [["X-Calls", "3/150"]] };

/** A UAS on 127.0.0.1: over the front thread (`front`) or its own socket. */
async function uas(front: boolean, gate: SourceGateOptions = {}, onInvite: (c: InboundCall) => void = () => {}) {
  let transport: UdpTransport;
  let sipFront: SipFront | undefined;
  if (front) {
    sipFront = await SipFront.start({ host: "127.0.0.1", port: 0, gate, server: "voice-agent/front-test" });
    transport = UdpTransport.over(sipFront.socket, { gate: new SourceGate(gate) });
  } else transport = await UdpTransport.bind({ host: "127.0.0.1", port: 0, gate: new SourceGate(gate) });
  const ua = new UserAgent({
    transport,
    clock: new SystemClock(),
    contact: { host: "127.0.0.1", port: transport.local.port },
    userAgent: "voice-agent/front-test",
    delegate: { onInvite, optionsStatus: () => STATUS },
  });
  sipFront?.attach(transport, () => STATUS);
  cleanups.push(() => {
    ua.dispose();
    transport.close();
  });
  return { transport, ua, port: transport.local.port };
}

function options(port: number, localPort: number, branch: string): string {
  return [
    `OPTIONS sip:agent@127.0.0.1:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK${branch};rport`,
    "Max-Forwards: 70",
    `From: <sip:lb@127.0.0.1>;tag=lb${branch}`,
    `To: <sip:agent@127.0.0.1:${port}>`,
    `Call-ID: ${branch}@127.0.0.1`,
    "CSeq: 1 OPTIONS",
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

/**
 * A probe in another process: it binds, prints "ready", waits `delayMs`, sends one OPTIONS to `port` and
 * prints `{ ms, text }` (the round trip and the answer; ms -1: none within 5 s).
 */
function probeProcess(port: number, delayMs: number) {
  const src = `
    const opts = ${JSON.stringify(options(port, 0, "PORT"))};
    let t0 = 0;
    const s = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data(_s, d) { console.log(JSON.stringify({ ms: performance.now() - t0, text: new TextDecoder().decode(d) })); process.exit(0); } } });
    console.log("ready");
    setTimeout(() => { t0 = performance.now(); s.send(opts.replace("127.0.0.1:0;branch", "127.0.0.1:" + s.port + ";branch"), ${port}, "127.0.0.1"); }, ${delayMs});
    setTimeout(() => { console.log(JSON.stringify({ ms: -1, text: "" })); process.exit(0); }, ${delayMs} + 5000);`;
  const p = Bun.spawn([process.execPath, "-e", src], { stdout: "pipe", stderr: "inherit" });
  const reader = p.stdout.getReader();
  let buf = "";
  const line = async (): Promise<string> => {
    for (;;) {
      const nl = buf.indexOf("\n");
      if (nl >= 0) return ((l) => ((buf = buf.slice(nl + 1)), l))(buf.slice(0, nl));
      const { value, done } = await reader.read();
      if (done) throw new Error("probe process ended");
      buf += new TextDecoder().decode(value);
    }
  };
  return { line, proc: p };
}

function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Blocks this thread for `blockMs` while the probe process sends an OPTIONS `sendAfterMs` into it: its round trip and answer. */
async function probeWhileBlocked(port: number, sendAfterMs: number, blockMs: number): Promise<{ ms: number; text: string }> {
  const probe = probeProcess(port, sendAfterMs);
  expect(await probe.line()).toBe("ready");
  block(blockMs);
  const r = JSON.parse(await probe.line()) as { ms: number; text: string };
  await probe.proc.exited;
  return r;
}

describe("SIP front thread", () => {
  test("answers OPTIONS at once while the call thread is blocked; without the front the answer waits for the block", async () => {
    const a = await uas(true);
    await Bun.sleep(150); // a heartbeat or two
    const fronted = await probeWhileBlocked(a.port, 100, 600);
    const b = await uas(false);
    const control = await probeWhileBlocked(b.port, 100, 600);
    // Slack for a busy 2-core machine: the front answers within ~1 ms; the control after ≥ 500 ms of block.
    expect(fronted.text).toStartWith("SIP/2.0 200 OK");
    expect(fronted.ms).toBeGreaterThan(0);
    expect(fronted.ms).toBeLessThan(250);
    expect(control.text).toStartWith("SIP/2.0 200 OK");
    expect(control.ms).toBeGreaterThan(300);
    // The same answer as the UA core's (src/sip/ua/options.ts): Allow, Accept, Supported, X-Calls, Server.
    for (const h of ["Allow:", "Accept: application/sdp", "Supported:", "X-Calls: 3/150", "Server: voice-agent/front-test"]) {
      expect(fronted.text).toContain(h);
      expect(control.text).toContain(h);
    }
  }, 20_000);

  test(`with a heartbeat older than ${FRONT_STALE_MS} ms the front does not answer for the call thread`, async () => {
    const a = await uas(true);
    await Bun.sleep(150);
    // Sent 1.4 s into a 2 s block: the last heartbeat is ≥ 1.4 s old; answered by the call thread after the block.
    const r = await probeWhileBlocked(a.port, 1400, 2000);
    expect(r.text).toStartWith("SIP/2.0 200 OK");
    expect(r.ms).toBeGreaterThan(300);
  }, 20_000);

  test("untrusted sources get what the call thread gives them: 403 (reject) or nothing (drop), counted there", async () => {
    const rejecting = await uas(true, { trusted: ["192.0.2.0/24"], untrusted: "reject" });
    const dropping = await uas(true, { trusted: ["192.0.2.0/24"], untrusted: "drop" });
    const got: string[] = [];
    const client = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data: (_s, d) => void got.push(new TextDecoder().decode(d)) } });
    cleanups.push(() => client.close());
    await Bun.sleep(150);
    client.send(options(rejecting.port, client.port, "rej1"), rejecting.port, "127.0.0.1");
    client.send(options(dropping.port, client.port, "drop1"), dropping.port, "127.0.0.1");
    const until = performance.now() + 3000;
    while (got.length === 0 && performance.now() < until) await Bun.sleep(10);
    await Bun.sleep(200); // anything from the dropping one would be here by now
    expect(got.map((t) => t.split("\r\n")[0])).toEqual(["SIP/2.0 403 Forbidden"]);
    expect(got[0]).toContain("branch=z9hG4bKrej1");
    expect(rejecting.transport.stats.untrustedRejected).toBe(1);
    expect(dropping.transport.stats.untrustedDropped).toBe(1);
  }, 10_000);

  test("INVITE → 200 → ACK → BYE → 200 through the front; the UAC's sends leave from the listening port (RFC 3581)", async () => {
    let inbound: InboundCall | undefined;
    const callee = await uas(true, {}, (c) => {
      inbound = c;
      c.accept(ANSWER_SDP.replace("agent", "callee"));
    });
    const callerTransport = await UdpTransport.bind({ host: "127.0.0.1", port: 0 });
    const caller = new UserAgent({ transport: callerTransport, clock: new SystemClock(), contact: { host: "127.0.0.1", port: callerTransport.local.port }, delegate: { onInvite: () => {} } });
    cleanups.push(() => (caller.dispose(), callerTransport.close()));
    const sources = new Set<number>();
    const deliver = callerTransport.delegate!.onMessage;
    callerTransport.delegate!.onMessage = (m, source, p) => (sources.add(source.port), deliver(m, source, p));
    const call = caller.invite({ requestUri: `sip:+14155550100@127.0.0.1:${callee.port}`, from: "sip:lb@127.0.0.1", offerSdp: ANSWER_SDP });
    const answered = await Promise.race([new Promise<string>((r) => call.on("answered", r)), Bun.sleep(3000).then(() => "timeout")]);
    expect(answered).toContain("o=callee");
    await Promise.race([new Promise<void>((r) => (inbound!.state === "confirmed" ? r() : inbound!.on("confirmed", () => r()))), Bun.sleep(3000)]);
    expect(inbound!.state).toBe("confirmed");
    const ended = new Promise<unknown>((r) => inbound!.on("ended", r));
    call.hangup();
    expect(await Promise.race([ended.then(() => "ended"), Bun.sleep(3000).then(() => "timeout")])).toBe("ended");
    expect([...sources]).toEqual([callee.port]);
  }, 10_000);

  test("ICMP unreachable through the front: after the call thread's send it reaches the delegate; after the front's own OPTIONS answer it does not", async () => {
    const a = await uas(true);
    const reports: Array<[Address, string]> = [];
    a.transport.delegate = { onMessage() {}, onUnreachable: (to, code) => reports.push([to, code]) };
    const deadPort = async () => {
      const hold = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
      const port = hold.port;
      hold.close(); // nothing listens there now: the kernel answers with ICMP port unreachable
      return port;
    };
    const [dead1, dead2] = [await deadPort(), await deadPort()];
    const req = new SipRequest("OPTIONS", `sip:x@127.0.0.1:${dead1}`, new Headers([["Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-icmpf"], ["From", "<sip:a@127.0.0.1>;tag=1"], ["To", "<sip:x@127.0.0.1>"], ["Call-ID", "icmpf@127.0.0.1"], ["CSeq", "1 OPTIONS"]]));
    a.transport.send(req, { host: "127.0.0.1", port: dead1 });
    const until = performance.now() + 3000;
    while (reports.length < 1 && performance.now() < until) await Bun.sleep(10);
    expect(reports).toEqual([[{ host: "127.0.0.1", port: dead1 }, "ECONNREFUSED"]]);
    // A probe whose Via (no rport: RFC 3581 §4 does not apply) sends the front's answer to a closed port.
    await Bun.sleep(150);
    const client = await Bun.udpSocket({ hostname: "127.0.0.1" });
    cleanups.push(() => client.close());
    client.send(options(a.port, dead2, "icmpprobe").replace(";rport", ""), a.port, "127.0.0.1");
    const until2 = performance.now() + 3000;
    while (a.transport.stats.socketErrors < 2 && performance.now() < until2) await Bun.sleep(10);
    await Bun.sleep(200);
    // ≥ 2: the front's socket reported the one ICMP after its own answer twice in runs on 7 Dec 2026 (not understood).
    expect(a.transport.stats.socketErrors).toBeGreaterThanOrEqual(2);
    expect(a.transport.stats.received).toBe(0); // answered by the front: never reached this thread
    expect(reports).toHaveLength(1);
  }, 10_000);
});
