/**
 * Registration (RFC 3261 §10) of the compiled agent with Kamailio 5.6 as the registrar, digest auth by
 * the `auth` module with a plain password (pv_www_authenticate): registered after a 401 challenge,
 * refreshed before expiry, a call to the registered AOR through Kamailio (lookup("location")) reaches
 * the agent, and SIGTERM removes the binding (REGISTER with Expires: 0). Health shows the state.
 */
import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnManaged } from "../support/process.ts";
import { freeUdpPort, waitUdpPortBound } from "../support/ports.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { silenceFile } from "../support/speech.ts";
import { startAgent, waitFor } from "./agent.ts";

const MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/";
const ready = !!Bun.which("kamailio") && !!Bun.which("sipp");

async function startRegistrar() {
  const dir = mkdtempSync(join(tmpdir(), "kamailio-reg-"));
  const run = join(dir, "run");
  mkdirSync(run);
  const port = await freeUdpPort();
  const cfg = `#!KAMAILIO
debug=1
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:${port}
alias=127.0.0.1:${port}
mpath="${MODULES}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
modparam("registrar", "min_expires", 5)
modparam("rr", "enable_full_lr", 1)

request_route {
  xlog("L_ERR", "KAM-REQ $rm ruri=$ru expires=[$hdr(Expires)] auth=[$hdr(Authorization)]\\n");
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (is_method("REGISTER")) {
    if (!pv_www_authenticate("$td", "s3cret", "0")) { www_challenge("$td", "1"); exit; }
    if (!save("location")) { sl_reply_error(); }
    exit;
  }
  if (has_totag()) {
    if (loose_route()) { t_relay(); exit; }
    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
    sl_send_reply("404", "Not here");
    exit;
  }
  record_route();
  if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
  xlog("L_ERR", "KAM-ROUTED $ru\\n");
  t_relay();
}
`;
  const cfgPath = join(dir, "kamailio.cfg");
  await Bun.write(cfgPath, cfg);
  const proc = spawnManaged(["kamailio", "-f", cfgPath, "-DD", "-E", "-Y", run, "-P", join(run, "k.pid")], { cwd: dir, name: "kamailio" });
  await waitUdpPortBound(port, { name: "kamailio", running: () => proc.running, detail: () => proc.stderr().slice(-2000), pollMs: 20 });
  const registers = () =>
    [...(proc.stderr() + proc.stdout()).matchAll(/KAM-REQ REGISTER ruri=\S+ expires=\[([^\]]*)\] auth=\[([^\]]*)\]/g)].map((m) => ({ expires: m[1]!, auth: m[2] !== "<null>" && m[2] !== "" }));
  return { port, proc, registers, log: () => proc.stderr(), stop: async () => (await proc.stop({ graceMs: 1000 }), rmSync(dir, { recursive: true, force: true })) };
}

test.skipIf(!ready)(
  "REGISTER with digest against Kamailio: registered, refreshed, reachable at the AOR, unregistered on SIGTERM",
  async () => {
    const k = await startRegistrar();
    const agent = await startAgent({ SIP_REGISTRAR: `127.0.0.1:${k.port}`, SIP_USERNAME: "agent", SIP_PASSWORD: "s3cret", SIP_REGISTER_EXPIRES: "10" });
    let stopped = false;
    try {
      // Registered after the 401 challenge; the refresh comes before the 10 s binding expires.
      const health = await waitFor(async () => {
        const h = await agent.get("/");
        return h.registration?.registrations >= 2 ? h : null;
      }, 20_000, `two successful REGISTERs\n${k.log().slice(-1500)}`);
      expect(health.registration).toMatchObject({ state: "registered", aor: `sip:agent@127.0.0.1`, expiresS: 10, lastStatus: 200 });
      const regs = k.registers();
      expect(regs[0]).toEqual({ expires: "10", auth: false });
      expect(regs.filter((r) => r.auth).length).toBeGreaterThanOrEqual(2);
      const metrics = await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`).then((r) => r.text());
      expect(metrics).toMatch(/voice_agent_sip_registration_state\{state="registered"\} 1/);

      // A call to the AOR through the registrar reaches the agent (Kamailio rewrites to our Contact).
      const r = await runSipp({ scenario: "inbound-call", target: `127.0.0.1:${k.port}`, service: "agent", audioFile: silenceFile(1, "mulaw"), pauseMs: 2000, timeoutMs: 30_000 });
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(k.log()).toContain(`KAM-ROUTED sip:127.0.0.1:${agent.sipPort}`); // our Contact
      const { recent } = await agent.get("/calls");
      expect(recent.length).toBe(1);

      // SIGTERM: the binding is removed (Expires: 0) before the agent exits.
      await agent.stop();
      stopped = true;
      expect(k.registers().at(-1)!.expires, k.log().slice(-1500)).toBe("0");
    } finally {
      if (!stopped) await agent.stop();
      await k.stop();
    }
  },
  60_000,
);
