import { afterAll, describe, expect, test } from "bun:test";
import { cloudEndpoints, hostPort, probeCloud, unreachableMessage } from "../../src/cli/cloud-probe.ts";
import { loadConfig } from "../../src/cli/config.ts";
import { freeTcpPort } from "../support/ports.ts";
import { BINARY, ensureBinary } from "../e2e/agent.ts";

const servers: { stop(): void }[] = [];
afterAll(() => servers.forEach((s) => s.stop()));

describe("cloud endpoints probed (s15 finding 6: cloud keys pointed at nothing said nothing)", () => {
  test("only the chosen cloud providers, with their configured or default base URL and offline fallback", () => {
    expect(cloudEndpoints(loadConfig({}))).toEqual([]);
    const all = loadConfig({ DEEPGRAM_API_KEY: "k", GEMINI_API_KEY: "k", CARTESIA_API_KEY: "k", DEEPGRAM_BASE_URL: "ws://127.0.0.1:9" });
    expect(cloudEndpoints(all).map((e) => [e.provider, e.variable, e.url, e.fallback])).toEqual([
      ["deepgram", "DEEPGRAM_BASE_URL", "ws://127.0.0.1:9", "pocketsphinx"],
      ["gemini", "GEMINI_BASE_URL", "https://generativelanguage.googleapis.com", "scripted"],
      ["cartesia", "CARTESIA_BASE_URL", "wss://api.cartesia.ai", "flite"],
    ]);
    expect(hostPort("wss://api.deepgram.com")).toEqual({ host: "api.deepgram.com", port: 443 });
    expect(hostPort("http://127.0.0.1:8080/v1")).toEqual({ host: "127.0.0.1", port: 8080 });
  });

  test("a listening endpoint is reached; a closed port is ECONNREFUSED; the warning names provider, URL, variable and fallback", async () => {
    const open = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    servers.push(open);
    const closed = await freeTcpPort();
    const cfg = loadConfig({ DEEPGRAM_API_KEY: "k", DEEPGRAM_BASE_URL: `ws://127.0.0.1:${open.port}`, CARTESIA_API_KEY: "k", CARTESIA_BASE_URL: `ws://127.0.0.1:${closed}` });
    const [dg, ca] = await probeCloud(cloudEndpoints(cfg), 2000);
    expect(dg!.ok).toBe(true);
    expect(ca!.ok).toBe(false);
    if (ca!.ok) return;
    expect(ca!.error).toBe("ECONNREFUSED");
    expect(unreachableMessage(ca!)).toBe(`voice-agent: warning: cartesia endpoint ws://127.0.0.1:${closed} (CARTESIA_BASE_URL) unreachable (ECONNREFUSED): its calls will fall back to flite`);
  });

  test("the provider's own endpoint is named as the default, not as a variable the user never set (s17)", () => {
    const cfg = loadConfig({ GEMINI_API_KEY: "k" });
    const [gemini] = cloudEndpoints(cfg);
    expect(gemini!.configured).toBe(false);
    expect(unreachableMessage({ endpoint: gemini!, ok: false, error: "ENOTFOUND" })).toBe(
      "voice-agent: warning: gemini endpoint https://generativelanguage.googleapis.com (default; GEMINI_BASE_URL unset) unreachable (ENOTFOUND): its calls will fall back to scripted",
    );
  });
});

describe("the compiled binary's check-config with cloud endpoints that cannot be reached", () => {
  test("says so on stderr for each, and stays ok (exit 0): the configuration itself is valid", async () => {
    await ensureBinary();
    const closed = await freeTcpPort();
    const base = `http://127.0.0.1:${closed}`;
    const p = Bun.spawn([BINARY, "check-config"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", SIP_HOST: "127.0.0.1", DEEPGRAM_API_KEY: "x", GEMINI_API_KEY: "y", CARTESIA_API_KEY: "z", DEEPGRAM_BASE_URL: base, GEMINI_BASE_URL: base, CARTESIA_BASE_URL: base },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(0);
    expect(out).toContain("configuration ok");
    for (const [provider, variable, fallback] of [["deepgram", "DEEPGRAM_BASE_URL", "pocketsphinx"], ["gemini", "GEMINI_BASE_URL", "scripted"], ["cartesia", "CARTESIA_BASE_URL", "flite"]])
      expect(err).toContain(`voice-agent: warning: ${provider} endpoint ${base} (${variable}) unreachable (ECONNREFUSED): its calls will fall back to ${fallback}`);
  }, 30_000);
});
