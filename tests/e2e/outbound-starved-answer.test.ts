/**
 * A starved agent must not CANCEL a call that was answered (probe s11 finding 1), on the compiled agent.
 * The starvation is made deterministic with SIGSTOP: the trunk (a raw UDP socket here) rings (180), the
 * agent is stopped, the trunk answers 200 OK while it cannot read, and the agent is continued only
 * after its ring timeout (RING_TIMEOUT_S) is due. On resume the ring timer and the 200 waiting in the
 * agent's socket meet: the 200 must win — it is an answer already received, not a silence — so the trunk
 * gets an ACK and no CANCEL, and the call is connected. Before the fix the timer fired first: CANCEL,
 * then the 200 was ACKed and BYEd and the record said `no_answer` (src/outbound/attempt.ts onRingTimeout,
 * src/sip/transport/receive-queue.ts afterUrgent).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { LOOPBACK } from "../support/ports.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const RING_TIMEOUT_S = 2;
const agents: RunningAgent[] = [];
afterAll(async () => {
  for (const a of agents) try { process.kill(a.proc.pid, "SIGCONT"); } catch {} // one stopped by a failed run
  await Promise.all(agents.map((a) => a.stop()));
}, 20_000);

/** Header rows of a SIP message (name as written → values in order). */
function headers(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split("\r\n\r\n")[0]!.split("\r\n").slice(1)) {
    const i = line.indexOf(":");
    const k = line.slice(0, i).trim().toLowerCase();
    m.set(k, [...(m.get(k) ?? []), line.slice(i + 1).trim()]);
  }
  return m;
}

/** A response to `invite` (its Via rows, From, Call-ID, CSeq copied; To with `toTag`; Contact the trunk at `port`), RFC 3261 §8.2.6.2. */
function response(invite: string, status: string, toTag: string, port: number, sdp = ""): string {
  const h = headers(invite);
  const rows = [`SIP/2.0 ${status}`, ...h.get("via")!.map((v) => `Via: ${v}`), `From: ${h.get("from")![0]}`, `To: ${h.get("to")![0]};tag=${toTag}`];
  rows.push(`Call-ID: ${h.get("call-id")![0]}`, `CSeq: ${h.get("cseq")![0]}`, `Contact: <sip:callee@${LOOPBACK}:${port}>`);
  if (sdp) rows.push("Content-Type: application/sdp");
  return [...rows, `Content-Length: ${Buffer.byteLength(sdp)}`, "", sdp].join("\r\n");
}

describe("a starved agent and its ring timeout (compiled agent, SIGSTOP)", () => {
  // With SIP_FRONT=on the 200 waits in the front thread's socket: the ring timeout first asks the front to relay what it holds.
  for (const [variant, extra] of [["", {}], [" (SIP_FRONT=on)", { SIP_FRONT: "on" }]] as const)
  test(`a 200 OK waiting in the stopped agent's socket when the ring timeout is due is ACKed, not CANCELled${variant}`, async () => {
    let agent: RunningAgent | undefined;
    const got: { at: number; text: string }[] = [];
    let invite: string | undefined;
    const trunk = await Bun.udpSocket({
      hostname: LOOPBACK,
      port: 0,
      socket: {
        data(_s, buf) {
          const text = Buffer.from(buf).toString();
          got.push({ at: performance.now(), text });
          if (text.startsWith("INVITE ")) invite ??= text;
        },
      },
    });
    try {
      // DRAIN_TIMEOUT_S 0: the connected call this test leaves up would hold the agent's stop at the end (SIGTERM
      // lets live calls go on for the drain, 30 s by default) for its whole 8 s grace; the drain is not tested here.
      agent = await startAgent(
        { SIP_TRUNK_HOST: LOOPBACK, SIP_TRUNK_PORT: String(trunk.port), SIP_CALLER_ID: "+14155550123", RING_TIMEOUT_S: String(RING_TIMEOUT_S), RTP_TIMEOUT_S: "30", DRAIN_TIMEOUT_S: "0", ...extra },
        ["--mode", "outbound"],
      );
      agents.push(agent);
      const res = await fetch(`http://127.0.0.1:${agent.httpPort}/outbound/call`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ phone_number: "+14155550100", opening_reason: "about your order", objective: "Tell them it ships tomorrow." }),
      });
      expect(res.status, await res.clone().text()).toBe(201);
      const id = ((await res.json()) as { call_id: string }).call_id;
      await waitFor(() => invite, 5_000, "the INVITE");
      const invitedAt = got.find((g) => g.text.startsWith("INVITE "))!.at;
      const send = (text: string) => trunk.send(text, agent!.sipPort, LOOPBACK);
      send(response(invite!, "180 Ringing", "trunk1", trunk.port));
      await waitFor(async () => (await agent!.get(`/outbound/call/${id}`)).status === "ringing", 5_000, "ringing");
      const stopAt = performance.now();
      // The stop must begin before the ring timeout is due, or this run proves nothing.
      expect(stopAt - invitedAt).toBeLessThan(RING_TIMEOUT_S * 1000 - 200);
      process.kill(agent.proc.pid, "SIGSTOP");
      const sdp = ["v=0", `o=- 1 1 IN IP4 ${LOOPBACK}`, "s=-", `c=IN IP4 ${LOOPBACK}`, "t=0 0", "m=audio 40000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", ""].join("\r\n");
      send(response(invite!, "200 OK", "trunk1", trunk.port, sdp)); // its ACK goes to this Contact (§13.2.2.4)
      await Bun.sleep(Math.max(0, invitedAt + RING_TIMEOUT_S * 1000 + 500 - performance.now())); // ring timeout now overdue
      process.kill(agent.proc.pid, "SIGCONT");
      const resumedAt = performance.now();
      await waitFor(() => got.some((g) => g.at > resumedAt && /^(ACK|CANCEL) /.test(g.text)), 5_000, "ACK or CANCEL after the resume");
      await Bun.sleep(300); // a CANCEL right behind the ACK would show here
      const methods = got.filter((g) => g.at > resumedAt).map((g) => g.text.split(" ")[0]);
      expect(methods).not.toContain("CANCEL");
      expect(methods[0]).toBe("ACK");
      const rec = await agent.get(`/outbound/call/${id}`);
      expect(rec.status).toBe("connected");
      expect(rec.answered_at).toBeTruthy();
    } finally {
      trunk.close();
    }
  }, 30_000);
});
