/**
 * Back-off for inbound digest authentication on the compiled binary (SIP_INBOUND_USERNAME/_PASSWORD,
 * SIP_INBOUND_MAX_FAILURES default 5): a source on 127.0.0.1 that guesses the password five times is
 * locked out — its next INVITE, even with the right password, gets one stateless 403 and no challenge —
 * while another source (127.0.0.2) with the right password still gets its call. Before, every guess got
 * a fresh 401 (only SIP_RATE_LIMIT, 100/s per source, slowed a guesser) and the right password then won.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { udp } from "bun";
import { buildDigestAuthorization, parseDigestChallenge } from "../../src/sip/index.ts";
import { missingTools } from "../support/process.ts";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";

const missing = missingTools(["flite", "pocketsphinx_continuous"]);
let agent: RunningAgent | undefined;
afterAll(async () => {
  await agent?.stop();
}, 30_000);

const CREDS = { username: "pbx-7", password: "s3cret pass" };

interface Uac {
  host: string;
  sock: udp.Socket<"buffer">;
  responses: string[];
}

async function uac(host: string): Promise<Uac> {
  const u = { host, responses: [] as string[] } as Uac;
  u.sock = await Bun.udpSocket({ hostname: host, socket: { data: (_s, buf) => void u.responses.push(Buffer.from(buf).toString("latin1")) } });
  return u;
}

let n = 0;
/** Sends a new INVITE (own Call-ID) from `u`, with `auth` when given; resolves with its final response. */
async function invite(u: Uac, port: number, auth?: string): Promise<string> {
  const callId = `lockout-${process.pid}-${++n}@${u.host}`;
  const ruri = `sip:agent@127.0.0.1:${port}`;
  const sdp = ["v=0", `o=pbx 1 1 IN IP4 ${u.host}`, "s=-", `c=IN IP4 ${u.host}`, "t=0 0", "m=audio 49170 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", ""].join("\r\n");
  const lines = [
    `INVITE ${ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${u.host}:${u.sock.port};branch=z9hG4bK-lock-${process.pid}-${n};rport`,
    "Max-Forwards: 70",
    `From: <sip:pbx-7@${u.host}>;tag=f${n}`,
    `To: <${ruri}>`,
    `Call-ID: ${callId}`,
    "CSeq: 1 INVITE",
    `Contact: <sip:pbx-7@${u.host}:${u.sock.port}>`,
    ...(auth ? [`Authorization: ${auth}`] : []),
    "Content-Type: application/sdp",
    `Content-Length: ${sdp.length}`,
    "",
    sdp,
  ];
  u.sock.send(lines.join("\r\n"), port, "127.0.0.1");
  return waitFor(() => u.responses.find((r) => r.includes(callId) && /^SIP\/2\.0 [2-6]\d\d/.test(r)), 10_000, `the final response to INVITE ${n}`);
}

const statusOf = (r: string) => Number(/^SIP\/2\.0 (\d{3})/.exec(r)?.[1]);

describe.skipIf(missing.length > 0)("inbound digest lockout (compiled binary, raw UDP)", () => {
  test("five wrong passwords lock the source out (403, even with the right one); another source still gets in", async () => {
    // DRAIN_TIMEOUT_S 0: the calls this test leaves unconfirmed would hold the agent's stop at the end (SIGTERM
    // lets live calls go on for the drain, 30 s by default) for its whole 8 s grace; the drain is not tested here.
    agent = await startAgent({
      SIP_INBOUND_USERNAME: CREDS.username,
      SIP_INBOUND_PASSWORD: CREDS.password,
      SIP_INBOUND_REALM: "agent.test",
      IDLE_PROMPT_S: "3600",
      DRAIN_TIMEOUT_S: "0",
    });
    const port = agent.sipPort;
    const guesser = await uac("127.0.0.1");
    const pbx = await uac("127.0.0.2");
    const ruri = `sip:agent@127.0.0.1:${port}`;
    /** One challenge per source (its nonce), answered with `password` and a growing nonce count. */
    const challengeOf = async (u: Uac) => {
      const r = await invite(u, port);
      expect(statusOf(r)).toBe(401);
      return parseDigestChallenge(/^WWW-Authenticate: (.*)$/im.exec(r)![1]!.trim());
    };
    try {
      const ch = await challengeOf(guesser);
      const answer = (password: string, nc: number) => buildDigestAuthorization(ch, { ...CREDS, password }, "INVITE", ruri, { nc });
      for (let i = 1; i <= 5; i++) expect(statusOf(await invite(guesser, port, answer(`guess-${i}`, i)))).toBe(401);
      const locked = await invite(guesser, port, answer(CREDS.password, 6));
      expect(locked).toMatch(/^SIP\/2\.0 403 /);
      expect(locked).toContain("too many failed authentications");
      // Locked out before any challenge: the next request without credentials gets 403 too, not 401.
      expect(statusOf(await invite(guesser, port))).toBe(403);

      const pbxChallenge = await challengeOf(pbx);
      const other = await invite(pbx, port, buildDigestAuthorization(pbxChallenge, CREDS, "INVITE", ruri, { nc: 1 }));
      expect(statusOf(other)).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
      const refused = (reason: string) => Number(new RegExp(`voice_agent_sip_refused_total\\{reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1]);
      expect([refused("auth_failed"), refused("auth_locked_out")]).toEqual([5, 2]);
      expect(agent.logs().filter((l) => l.msg === "sip inbound invite: source locked out after repeated digest failures")).toHaveLength(1);
    } finally {
      guesser.sock.close();
      pbx.sock.close();
    }
  }, 40_000);
});
