/**
 * SIP_USER_AGENT on the compiled agent (loopback): RFC 3261 §20.35 asks for a configurable Server header,
 * since the version it reveals helps an attacker (s19 fresheyes: every OPTIONS answer told any scanner
 * `voice-agent/0.1.0`). With `SIP_USER_AGENT=Acme SBC`: the OPTIONS probe answered by the SIP front thread,
 * a REGISTER refused by the call thread (405) and an INVITE's 100/200 all carry `Server: Acme SBC`, and
 * no response names the version; the agent's BYE carries `User-Agent: Acme SBC`.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { startAgent, waitFor, type RunningAgent } from "./agent.ts";
import { sipRequest, type Udp } from "./attack-support.ts";

let agent: RunningAgent | undefined;
const sockets: Udp[] = [];
afterAll(async () => {
  for (const s of sockets) s.close();
  await agent?.stop();
}, 30_000);

describe("SIP_USER_AGENT (compiled binary, loopback)", () => {
  test("Server in the front's OPTIONS answer, the call thread's refusals and a call's responses; User-Agent in the agent's BYE", async () => {
    agent = await startAgent({ SIP_USER_AGENT: "Acme SBC", MAX_CALL_S: "10", IDLE_PROMPT_S: "3600" });
    const to = { host: "127.0.0.1", port: agent.sipPort };
    const got: string[] = [];
    const sock = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data: (_s, d) => void got.push(Buffer.from(d).toString()) } });
    sockets.push(sock);
    const from = { host: "127.0.0.1", port: sock.port };
    const header = (m: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, "mi").exec(m)?.[1]?.trim();
    const answerTo = (callId: string, status: number) => waitFor(() => got.find((m) => m.startsWith(`SIP/2.0 ${status} `) && header(m, "Call-ID") === callId), 15_000, `${status} for ${callId}`);

    sock.send(sipRequest("OPTIONS", { to, from, callId: "ua-options@127.0.0.1" }), to.port, to.host);
    const options = await answerTo("ua-options@127.0.0.1", 200);
    const register = sipRequest("OPTIONS", { to, from, callId: "ua-register@127.0.0.1" }).replace(/OPTIONS/g, "REGISTER");
    sock.send(register, to.port, to.host);
    const refused = await answerTo("ua-register@127.0.0.1", 405);
    sock.send(sipRequest("INVITE", { to, from, callId: "ua-invite@127.0.0.1", tag: "c" }), to.port, to.host);
    const ok = await answerTo("ua-invite@127.0.0.1", 200);
    const toTag = /;tag=([^;>\s]+)/.exec(header(ok, "To") ?? "")![1]!;
    sock.send(sipRequest("ACK", { to, from, callId: "ua-invite@127.0.0.1", tag: "c", toTag }), to.port, to.host);
    // MAX_CALL_S=10: the agent ends the call itself (after its goodbye) with a BYE.
    const bye = await waitFor(() => got.find((m) => m.startsWith("BYE ") && header(m, "Call-ID") === "ua-invite@127.0.0.1"), 40_000, "the agent's BYE");
    for (const r of [options, refused, ok]) expect(header(r, "Server")).toBe("Acme SBC");
    expect(header(bye, "User-Agent")).toBe("Acme SBC");
    expect(got.filter((m) => /^(Server|User-Agent):.*voice-agent\//mi.test(m))).toEqual([]);
  }, 60_000);
});
