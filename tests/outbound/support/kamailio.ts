/**
 * Kamailio 5.6 as a stand-in SIP trunk: a stateful relay on 127.0.0.1 that Record-Routes every dialog
 * and forwards new INVITEs to a fixed next hop (the callee). In-dialog requests must carry our Route
 * header to get through (loose_route, RFC 3261 §16.12); anything else in a dialog gets 404, so a BYE
 * that ignored the route set would fail visibly. Every request it sees is logged on stderr as
 * `KAM-REQ <method> ruri=<uri> route=[<Route>] from=<ip:port>`.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnManaged, type ManagedProcess } from "../../support/process.ts";
import { freeUdpPort, waitUdpPortBound } from "../../support/ports.ts";

export const KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/";

export interface KamailioRelay {
  port: number;
  proc: ManagedProcess;
  /** Requests Kamailio logged: method, Request-URI, Route header ("" if none), source. */
  requests(): { method: string; ruri: string; route: string; from: string }[];
  stop(): Promise<void>;
}

export async function startKamailioRelay(o: { nextHop: { host: string; port: number } }): Promise<KamailioRelay> {
  const dir = mkdtempSync(join(tmpdir(), "kamailio-"));
  const run = join(dir, "run");
  mkdirSync(run);
  const port = await freeUdpPort();
  const cfg = `#!KAMAILIO
debug=1
log_stderror=yes
memdbg=5
memlog=5
children=1
auto_aliases=no
listen=udp:127.0.0.1:${port}
mpath="${KAMAILIO_MODULES}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "pv.so"
loadmodule "xlog.so"
modparam("rr", "enable_full_lr", 1)

request_route {
  xlog("L_ERR", "KAM-REQ $rm ruri=$ru route=[$hdr(Route)] from=$si:$sp\\n");
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) {
    if (loose_route()) { t_relay(); exit; }
    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
    sl_send_reply("404", "Not here");
    exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
  record_route();
  $du = "sip:${o.nextHop.host}:${o.nextHop.port}";
  t_relay();
}
`;
  const cfgPath = join(dir, "kamailio.cfg");
  await Bun.write(cfgPath, cfg);
  const proc = spawnManaged(["kamailio", "-f", cfgPath, "-DD", "-E", "-Y", run, "-P", join(run, "k.pid")], { cwd: dir, name: "kamailio" });
  await waitUdpPortBound(port, { name: "kamailio", running: () => proc.running, detail: () => proc.stderr().slice(-2000), pollMs: 20 });
  return {
    port,
    proc,
    requests() {
      return [...(proc.stderr() + proc.stdout()).matchAll(/KAM-REQ (\S+) ruri=(\S+) route=\[([^\]]*)\] from=(\S+)/g)].map((m) => ({
        method: m[1]!,
        ruri: m[2]!,
        route: m[3] === "<null>" ? "" : m[3]!,
        from: m[4]!,
      }));
    },
    async stop() {
      await proc.stop({ graceMs: 1000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
