/**
 * In-dialog requests from a stranger, on the compiled binary (SIP_DIALOG_PEER_ONLY, default on without
 * SIP_TRUSTED_IPS): a caller on 127.0.0.1 sets up a call with raw SIP; a second host (127.0.0.2) that
 * knows the dialog (Call-ID and both tags, as anyone on the path would) sends a re-INVITE moving the
 * media to itself and a BYE. Both get one stateless 403 (the re-INVITE's never retransmitted); the agent
 * keeps sending the call's RTP to the caller and none to the stranger; the caller's own BYE (with a lower CSeq than the stranger's) still ends the call.
 * Before this, the re-INVITE got 200 and all the agent's audio went to the stranger.
 * A CANCEL is the same hang-up before the answer (s19 fresheyes): with ANSWER_DELAY_MS a stranger's copy of
 * the caller's CANCEL (same Via branch, Call-ID, From tag, CSeq) got 200 and the call 487; now 403, and the
 * call is answered; the caller's own CANCEL still cancels a ringing call.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { udp } from "bun";
import { missingTools } from "../support/process.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const missing = missingTools(["flite", "pocketsphinx_continuous"]);
let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
}, 30_000);

interface Peer {
  host: string;
  sip: udp.Socket<"buffer">;
  rtp: udp.Socket<"buffer">;
  /** SIP responses received, as text. */
  responses: string[];
  /** RTP datagrams received. */
  rtpCount: number;
}

async function peer(host: string): Promise<Peer> {
  const p = { host, responses: [] as string[], rtpCount: 0 } as Peer;
  p.sip = await Bun.udpSocket({ hostname: host, socket: { data: (_s, buf) => void p.responses.push(Buffer.from(buf).toString("latin1")) } });
  p.rtp = await Bun.udpSocket({ hostname: host, socket: { data: () => void p.rtpCount++ } });
  return p;
}

const sdp = (p: Peer) =>
  ["v=0", `o=peer 1 1 IN IP4 ${p.host}`, "s=-", `c=IN IP4 ${p.host}`, "t=0 0", `m=audio ${p.rtp.port} RTP/AVP 0`, "a=rtpmap:0 PCMU/8000", "a=sendrecv", ""].join("\r\n");

let n = 0;
/** A request from `p` in the call `d`; `toTag` once the dialog exists. */
function request(method: string, p: Peer, d: { callId: string; fromTag: string; toTag?: string; target: string }, cseq: number, body = ""): string {
  const lines = [
    `${method} ${d.target} SIP/2.0`,
    `Via: SIP/2.0/UDP ${p.host}:${p.sip.port};branch=z9hG4bK-peer-${process.pid}-${++n};rport`,
    "Max-Forwards: 70",
    `From: <sip:caller@127.0.0.1>;tag=${d.fromTag}`,
    `To: <sip:agent@127.0.0.1>${d.toTag ? `;tag=${d.toTag}` : ""}`,
    `Call-ID: ${d.callId}`,
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:caller@${p.host}:${p.sip.port}>`,
  ];
  if (body) lines.push("Content-Type: application/sdp");
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, "", body);
  return lines.join("\r\n");
}

const statusOf = (r: string) => Number(/^SIP\/2\.0 (\d{3})/.exec(r)?.[1]);
const cseqOf = (r: string) => /^CSeq:\s*(\d+ \w+)/im.exec(r)?.[1];

describe.skipIf(missing.length > 0)("in-dialog requests from another address (compiled binary, loopback)", () => {
  test("a stranger's re-INVITE and BYE get 403; the audio stays with the caller; the caller's BYE ends the call", async () => {
    agent = await startAgent({ IDLE_PROMPT_S: "3600" });
    const caller = await peer("127.0.0.1");
    const stranger = await peer("127.0.0.2");
    const d = { callId: `peer-${process.pid}@127.0.0.1`, fromTag: `f${process.pid}`, toTag: undefined as string | undefined, target: `sip:agent@127.0.0.1:${agent.sipPort}` };
    const answer = async (p: Peer, cseq: string, what: string) =>
      waitFor(() => p.responses.find((r) => cseqOf(r) === cseq && statusOf(r) >= 200), 15_000, what);
    try {
      caller.sip.send(request("INVITE", caller, d, 1, sdp(caller)), agent.sipPort, "127.0.0.1");
      const ok = await answer(caller, "1 INVITE", "the agent's answer to the INVITE");
      expect(statusOf(ok)).toBe(200);
      d.toTag = /^To:.*;tag=([^;\s]+)/im.exec(ok)![1];
      caller.sip.send(request("ACK", caller, d, 1), agent.sipPort, "127.0.0.1");
      await waitFor(() => caller.rtpCount >= 25, 15_000, "the greeting's RTP at the caller");

      // The stranger knows Call-ID and tags; its CSeq is ahead of the caller's.
      stranger.sip.send(request("INVITE", stranger, d, 20, sdp(stranger)), agent.sipPort, "127.0.0.1");
      expect(statusOf(await answer(stranger, "20 INVITE", "the answer to the stranger's re-INVITE"))).toBe(403);
      stranger.sip.send(request("BYE", stranger, d, 21), agent.sipPort, "127.0.0.1");
      expect(statusOf(await answer(stranger, "21 BYE", "the answer to the stranger's BYE"))).toBe(403);

      const before = caller.rtpCount;
      await Bun.sleep(1500);
      expect(caller.rtpCount - before).toBeGreaterThanOrEqual(40); // 75 sent in 1.5 s: slack for a busy machine
      expect(stranger.rtpCount).toBe(0);
      // One stateless 403 each (RFC 3261 §8.2.7), never retransmitted toward the forgeable source: through
      // an INVITE server transaction Timer G resent it at 0.5, 1.5, 3.5 s… until Timer H (32 s).
      expect(stranger.responses.filter((r) => cseqOf(r) === "20 INVITE")).toHaveLength(1);
      const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
      expect(Number(/voice_agent_sip_refused_total\{reason="dialog_stranger"\} (\d+)/.exec(metrics)?.[1])).toBe(2);

      caller.sip.send(request("BYE", caller, d, 2), agent.sipPort, "127.0.0.1");
      expect(statusOf(await answer(caller, "2 BYE", "the answer to the caller's BYE"))).toBe(200);
      const refused = agent.logs().filter((l) => l.msg === "sip in-dialog request from another address refused");
      expect(refused).toHaveLength(1); // once per call at warn
      expect(refused[0]).toMatchObject({ sipCallId: d.callId, method: "INVITE", source: expect.stringMatching(/^127\.0\.0\.2:/) });
    } finally {
      for (const p of [caller, stranger]) {
        p.sip.close();
        p.rtp.close();
      }
    }
  }, 60_000);

  test("a stranger's copy of the caller's CANCEL gets 403 and the call is answered; the caller's own CANCEL cancels", async () => {
    const binary = process.env.VOICE_AGENT_E2E_BINARY; // the before/after: VOICE_AGENT_E2E_BINARY=/path bun test …
    const ringing = await startAgent({ IDLE_PROMPT_S: "3600", ANSWER_DELAY_MS: "2500" }, ["--mode", "inbound"], binary ? { binary } : {});
    const caller = await peer("127.0.0.1");
    const stranger = await peer("127.0.0.2");
    const cancelOf = (invite: string) =>
      invite.replace(/^INVITE /, "CANCEL ").replace(/^CSeq: 1 INVITE/m, "CSeq: 1 CANCEL").replace(/\r\n\r\n[\s\S]*$/, "\r\n\r\n")
        .replace(/^Content-Length:.*$/m, "Content-Length: 0").replace(/^Content-Type:.*\r\n/m, "");
    const answer = async (p: Peer, callId: string, cseq: string, what: string) =>
      waitFor(() => p.responses.find((r) => r.includes(callId) && cseqOf(r) === cseq && statusOf(r) >= 200), 15_000, what);
    try {
      const target = `sip:agent@127.0.0.1:${ringing.sipPort}`;
      const a = { callId: `cancel-a-${process.pid}@127.0.0.1`, fromTag: `fa${process.pid}`, target };
      const invite = request("INVITE", caller, a, 1, sdp(caller));
      caller.sip.send(invite, ringing.sipPort, "127.0.0.1");
      await waitFor(() => caller.responses.find((r) => r.includes(a.callId) && statusOf(r) === 180), 10_000, "180 Ringing");
      stranger.sip.send(cancelOf(invite), ringing.sipPort, "127.0.0.1"); // same Via (the caller's sent-by and branch)
      expect(statusOf(await answer(stranger, a.callId, "1 CANCEL", "the answer to the stranger's CANCEL"))).toBe(403);
      const final = await answer(caller, a.callId, "1 INVITE", "the INVITE's final answer");
      expect(statusOf(final)).toBe(200); // answered after the delay, not 487
      const toTag = /^To:.*;tag=([^;\s]+)/im.exec(final)![1];
      caller.sip.send(request("ACK", caller, { ...a, toTag }, 1), ringing.sipPort, "127.0.0.1");
      caller.sip.send(request("BYE", caller, { ...a, toTag }, 2), ringing.sipPort, "127.0.0.1");
      expect(statusOf(await answer(caller, a.callId, "2 BYE", "the answer to the caller's BYE"))).toBe(200);

      const b = { callId: `cancel-b-${process.pid}@127.0.0.1`, fromTag: `fb${process.pid}`, target };
      const inviteB = request("INVITE", caller, b, 1, sdp(caller));
      caller.sip.send(inviteB, ringing.sipPort, "127.0.0.1");
      await waitFor(() => caller.responses.find((r) => r.includes(b.callId) && statusOf(r) === 180), 10_000, "180 Ringing (second call)");
      caller.sip.send(cancelOf(inviteB), ringing.sipPort, "127.0.0.1");
      expect(statusOf(await answer(caller, b.callId, "1 CANCEL", "the answer to the caller's CANCEL"))).toBe(200);
      expect(statusOf(await answer(caller, b.callId, "1 INVITE", "the 487"))).toBe(487);
    } finally {
      for (const p of [caller, stranger]) {
        p.sip.close();
        p.rtp.close();
      }
      await ringing.stop();
    }
  }, 60_000);
});
