import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { exposureWarning, publicSipAddress } from "../../src/cli/exposure.ts";
import { loadConfig } from "../../src/cli/config.ts";
import { BINARY, ensureBinary } from "../e2e/agent.ts";

describe("start-up warning for an open SIP port", () => {
  const cfg = (env: Record<string, string>) => loadConfig({ SIP_PUBLIC_IP: "10.0.0.5", ...env });

  test("public address, no trusted list, no inbound auth → loud warning naming the fix", () => {
    const w = exposureWarning(cfg({ SIP_HOST: "198.51.100.20", SIP_PORT: "5080" }), []);
    expect(w).toContain("udp 198.51.100.20:5080, tcp 198.51.100.20:5080 answer INVITEs from anyone");
    expect(w).toContain("SIP_TRUSTED_IPS");
    expect(w).toContain("SIP_INBOUND_USERNAME");
    expect(w!.split("\n").every((l) => l.startsWith("!!!"))).toBe(true);
  });

  test("names every SIP listener: UDP alone, UDP+TCP, UDP+TCP+TLS", () => {
    expect(exposureWarning(cfg({ SIP_HOST: "198.51.100.20", SIP_PORT: "5080", SIP_TCP: "false" }), [])).toContain(
      "!!! udp 198.51.100.20:5080 answers INVITEs from anyone",
    );
    const tls = { ...cfg({ SIP_HOST: "198.51.100.20", SIP_PORT: "5080" }), sipTls: { port: 5081, certFile: "c.pem", keyFile: "k.pem" } };
    expect(exposureWarning(tls, [])).toContain("!!! udp 198.51.100.20:5080, tcp 198.51.100.20:5080, tls 198.51.100.20:5081 answer INVITEs from anyone");
  });

  test("0.0.0.0 is public when SIP_PUBLIC_IP or an interface is", () => {
    expect(publicSipAddress({ sipHost: "0.0.0.0", publicIp: "203.0.113.9" }, ["127.0.0.1"])).toBe("203.0.113.9");
    expect(publicSipAddress({ sipHost: "0.0.0.0", publicIp: "10.0.0.5" }, ["127.0.0.1", "10.0.0.5", "52.9.1.1"])).toBe("52.9.1.1");
    expect(publicSipAddress({ sipHost: "0.0.0.0", publicIp: "10.0.0.5" }, ["127.0.0.1", "10.0.0.5"])).toBeUndefined();
  });

  test("no warning with a trusted list, with inbound auth, or on a private address", () => {
    expect(exposureWarning(cfg({ SIP_HOST: "198.51.100.20", SIP_TRUSTED_IPS: "52.9.254.0/24" }), [])).toBeUndefined();
    expect(exposureWarning(cfg({ SIP_HOST: "198.51.100.20", SIP_INBOUND_USERNAME: "u", SIP_INBOUND_PASSWORD: "p" }), [])).toBeUndefined();
    expect(exposureWarning(cfg({ SIP_HOST: "192.168.1.10" }), [])).toBeUndefined();
    expect(exposureWarning(cfg({ SIP_HOST: "127.0.0.1" }), [])).toBeUndefined();
  });
});

describe("the compiled binary's check-config", () => {
  const run = async (env: Record<string, string>) => {
    await ensureBinary();
    const p = Bun.spawn([BINARY, "check-config"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", SIP_PUBLIC_IP: "10.0.0.5", ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { out, err, code };
  };

  test("warns loudly on stderr for a public SIP address without access control, and says the ACL", async () => {
    const open = await run({ SIP_HOST: "198.51.100.20" });
    expect(open.code).toBe(0);
    expect(open.err).toContain("!!! WARNING: SIP is open to the internet with no access control !!!");
    expect(open.err).toMatch(/udp 198\.51\.100\.20:\d+, tcp 198\.51\.100\.20:\d+ answer INVITEs/);
    expect(open.out).toContain("ACL   any source; 100/s per source, burst 200; no inbound auth");
    // The barge-in settings, defaults and as set (README, Configuration: BARGE_IN_*, BACKCHANNEL_MODE).
    expect(open.out).toContain("TURN  barge-in after 80 ms of speech, floor -23 dBFS peak always, caller margin 4 dB; paused, words awaited 900 ms; backchannels resume");
    const closed = await run({ SIP_HOST: "198.51.100.20", SIP_TRUSTED_IPS: "52.9.254.0/24", SIP_UNTRUSTED: "drop" });
    expect(closed.err).not.toContain("WARNING");
    expect(closed.out).toContain("ACL   trusted 52.9.254.0/24 (others: dropped)");
    const tuned = await run({ BARGE_IN_FIRST_TURN_FLOOR_DBFS: "0", BARGE_IN_PAUSE_WAIT_MS: "off", BACKCHANNEL_MODE: "reply", BARGE_IN_MIN_SPEECH_MS: "120" });
    expect(tuned.out).toContain("TURN  barge-in after 120 ms of speech, no level floor, caller margin 4 dB; cut at once (pause off); backchannels reply");
    expect((await run({ BARGE_IN: "false" })).out).toContain("TURN  barge-in off (BARGE_IN=false)");
  }, 60_000);

  test("refuses a DATA_DIR the agent would refuse (exit 2, naming the variable and why)", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "va-check-")), "not-a-dir");
    writeFileSync(file, "");
    const r = await run({ DATA_DIR: file });
    expect(r.code).toBe(2);
    expect(r.err).toContain(`voice-agent: configuration error: DATA_DIR: cannot create ${file}/voice-agent.lock: ${file} is not a directory`);
    expect(r.out).not.toContain("configuration ok");
    rmSync(dirname(file), { recursive: true, force: true });
  }, 60_000);
});
