import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SystemClock } from "../../src/util/clock.ts";
import { UdpTransport, UserAgent, type EndReason, type InboundCall } from "../../src/sip/index.ts";
import { ANSWER_SDP } from "./ua-harness.ts";

/** Real sockets on 127.0.0.1, real time: the transport and the UA interoperate with themselves and SIPp. */

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanups.splice(0)) f();
});

async function agent(onInvite: (c: InboundCall) => void = () => {}, answerDelayMs = 0) {
  const transport = await UdpTransport.bind({ host: "127.0.0.1", port: 0 });
  const ua = new UserAgent({
    transport,
    clock: new SystemClock(),
    contact: { host: "127.0.0.1", port: transport.local.port },
    answerDelayMs,
    userAgent: "voice-agent/udp-test",
    delegate: { onInvite },
  });
  cleanups.push(() => {
    ua.dispose();
    transport.close();
  });
  return { transport, ua };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

describe("two UserAgents over UDP on 127.0.0.1", () => {
  test("INVITE → 180 → 200 → ACK → BYE → 200, events on both sides", async () => {
    let inbound: InboundCall | undefined;
    const callee = await agent((c) => {
      inbound = c;
      c.accept(ANSWER_SDP.replace("agent", "callee"));
    }, 50);
    const caller = await agent();
    const call = caller.ua.invite({
      requestUri: `sip:+14155550100@127.0.0.1:${callee.transport.local.port}`,
      from: "sip:agent@127.0.0.1",
      offerSdp: ANSWER_SDP,
    });
    const provisional: number[] = [];
    call.on("provisional", (s) => provisional.push(s));
    const answered = new Promise<string>((r) => call.on("answered", r));
    const sdp = await within(answered, 3000, "answered");
    expect(sdp).toContain("o=callee");
    expect(provisional).toEqual([180]);
    expect(inbound!.offerSdp).toBe(ANSWER_SDP);
    const confirmed = new Promise<void>((r) => (inbound!.state === "confirmed" ? r() : inbound!.on("confirmed", () => r())));
    await within(confirmed, 3000, "confirmed");
    const calleeEnded = inbound!.done;
    await within(call.hangup(), 3000, "BYE answered");
    expect(await within(calleeEnded, 3000, "callee ended")).toBe("remote_bye" as EndReason);
    expect(call.endReason).toBe("local_bye");
    expect(caller.transport.stats.sendErrors + callee.transport.stats.sendErrors).toBe(0);
  });
});

const sippAvailable = Bun.which("sipp") !== null;

async function freeUdpPort(): Promise<number> {
  const s = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  const p = s.port;
  s.close();
  return p;
}

async function runSipp(args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), "sipp-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const proc = Bun.spawn(["sipp", ...args, "-nostdin", "-m", "1", "-timeout", `${Math.floor(timeoutMs / 1000)}s`, "-timeout_error", "-trace_err"], {
    cwd: dir,
    stdout: "pipe",
    stderr: "pipe",
  });
  const killer = setTimeout(() => proc.kill(), timeoutMs + 2000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(killer);
  return { code, out: `${out}\n${err}` };
}

describe.skipIf(!sippAvailable)("SIPp interop (sipp 3.6 built-in scenarios)", () => {
  test("sipp -sn uac calls our UAS: 100/200, ACK, BYE → exit 0", async () => {
    const ended: EndReason[] = [];
    const ours = await agent((c) => {
      c.on("ended", (r) => ended.push(r));
      c.accept(ANSWER_SDP);
    });
    const r = await runSipp(["-sn", "uac", "-i", "127.0.0.1", "-p", String(await freeUdpPort()), "-d", "100", "-s", "agent", `127.0.0.1:${ours.transport.local.port}`], 10_000);
    if (r.code !== 0) console.error(r.out.slice(-3000));
    expect(r.code).toBe(0);
    expect(ended).toEqual(["remote_bye"]);
  });

  test("our UAC calls sipp -sn uas: 180, 200 → ACK; hangup → BYE answered → exit 0", async () => {
    const port = await freeUdpPort();
    const sipp = runSipp(["-sn", "uas", "-i", "127.0.0.1", "-p", String(port)], 10_000);
    await Bun.sleep(300); // let SIPp bind
    const ours = await agent();
    const call = ours.ua.invite({ requestUri: `sip:service@127.0.0.1:${port}`, from: "sip:agent@127.0.0.1", offerSdp: ANSWER_SDP });
    const provisional: number[] = [];
    call.on("provisional", (s) => provisional.push(s));
    await within(new Promise((r) => call.on("answered", r)), 5000, "answered by sipp");
    expect(provisional).toContain(180);
    await within(call.hangup(), 5000, "BYE answered by sipp");
    const r = await sipp;
    if (r.code !== 0) console.error(r.out.slice(-3000));
    expect(r.code).toBe(0);
    expect(call.endReason).toBe("local_bye");
  });
});
