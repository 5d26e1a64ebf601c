/**
 * The compiled binary needs nothing but itself and what a distroless "cc" image carries.
 *
 * A root directory holds ONLY dist/voice-agent, glibc (libc, libm, libdl, libpthread, librt, the
 * loader), libstdc++ and libgcc_s, /etc/passwd with nonroot (65532) and a 1777 /tmp (tests/deploy/rootfs.ts).
 * The binary runs chrooted in a private mount namespace with a hidepid procfs and a minimal /dev, as
 * uid/gid 65532 with no supplementary groups, and must:
 *   1. print its version and help;
 *   2. start the agent (SIP on UDP, RTP range, HTTP), load the Silero VAD through onnxruntime with the
 *      library extracted to the root's /tmp, answer SIP OPTIONS with 200 (timed from exec) and GET /;
 *   3. take a SIPp call (tests/scenarios/inbound-call.xml): 200 with an SDP answer, the caller's audio
 *      reaching the agent (and, byte for byte, the STT provider: the Deepgram fake in this process,
 *      which is how the container is meant to run: cloud STT), the agent's greeting audio reaching the
 *      caller (captured on lo), BYE → 200, SIPp exit 0, the call record ended by remote_bye;
 *   4. stop on SIGTERM with exit 0, leaving in /tmp only Bun's cached copy of the onnxruntime .node
 *      binding (`.bun-<uid>-<hash>.node`, ~0.4 MB, Bun's own; same name at every start, so it does not pile up).
 * Builds dist/voice-agent first if it is missing (VOICE_AGENT_BINARY=path tests another build). Needs root (chroot, mount), sipp, dumpcap, flite, sox.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pkg from "../../package.json";
import { buildRoot, chrootCommand, mountsUnder, NONROOT_UID, procStatus } from "./rootfs.ts";
import { freeTcpPort, freeUdpPort, freeUdpPortRange, LOOPBACK } from "../support/ports.ts";
import { spawnManaged, stopAllManaged, type ManagedProcess } from "../support/process.ts";
import { parseSipStatusLine, sipHeader } from "../support/udp.ts";
import { describeSipp, runSipp } from "../support/sipp.ts";
import { RtpCapture } from "../support/capture.ts";
import { assembleByTimestamp } from "../support/rtp-streams.ts";
import { startFakeDeepgram, type FakeDeepgram } from "../fakes/deepgram.ts";

const REPO = resolve(import.meta.dir, "../..");
/** The binary under test: dist/voice-agent, or VOICE_AGENT_BINARY (e.g. a downloaded release; never built here). */
const BINARY = process.env.VOICE_AGENT_BINARY ?? join(REPO, "dist/voice-agent");
let dir = "";
let work = "";

function sh(cmd: string[], timeoutMs: number, cwd = REPO): { code: number | null; out: string } {
  const r = Bun.spawnSync({ cmd, cwd, stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error("chroot.test.ts needs root (chroot, mount namespaces)");
  for (const tool of ["unshare", "chroot", "sipp", "dumpcap", "flite", "sox"]) {
    if (!Bun.which(tool)) throw new Error(`${tool} not found: bash scripts/bootstrap.sh --test`);
  }
  if (process.env.VOICE_AGENT_BINARY && !existsSync(BINARY)) throw new Error(`VOICE_AGENT_BINARY=${BINARY} does not exist`);
  if (!existsSync(BINARY)) {
    const b = sh([process.execPath, "run", "build"], 240_000);
    if (b.code !== 0 || !existsSync(BINARY)) throw new Error(`bun run build failed (${b.code}):\n${b.out.slice(-3000)}`);
  }
  dir = mkdtempSync(join(tmpdir(), "va-root-"));
  work = mkdtempSync(join(tmpdir(), "va-chroot-work-"));
  buildRoot(dir, BINARY);
}, 300_000);

afterAll(async () => {
  await stopAllManaged(2000);
  // Mounts live only in the child's private namespace; prove none leaked onto the host before deleting.
  const leaked = dir ? mountsUnder(dir) : [];
  if (dir && leaked.length === 0) sh(["rm", "-rf", "--one-file-system", dir], 30_000, "/");
  if (work) sh(["rm", "-rf", "--one-file-system", work], 30_000, "/");
  expect(leaked).toEqual([]);
});

/** Runs the binary in the root to completion. */
function runInRoot(args: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync({
    cmd: chrootCommand(dir, ["/voice-agent", ...args]),
    env: { HOME: "/home/nonroot", ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test("the root holds only the binary, the loader and the seven cc libraries", () => {
  const files: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${rel}/${e.name}`);
      else files.push(`${rel}/${e.name}`);
    }
  };
  walk(dir, "");
  expect(files.sort()).toEqual(
    [
      "/etc/group",
      "/etc/passwd",
      "/lib/x86_64-linux-gnu/libc.so.6",
      "/lib/x86_64-linux-gnu/libdl.so.2",
      "/lib/x86_64-linux-gnu/libgcc_s.so.1",
      "/lib/x86_64-linux-gnu/libm.so.6",
      "/lib/x86_64-linux-gnu/libpthread.so.0",
      "/lib/x86_64-linux-gnu/librt.so.1",
      "/lib/x86_64-linux-gnu/libstdc++.so.6",
      "/lib64/ld-linux-x86-64.so.2",
      "/voice-agent",
    ].sort(),
  );
  expect(statSync(join(dir, "tmp")).mode & 0o7777).toBe(0o1777);
});

test("--version and --help run chrooted as uid 65532", () => {
  const v = runInRoot(["--version"]);
  expect(v.stderr).toBe("");
  expect(v.stdout.trim()).toBe(pkg.version);
  expect(v.code).toBe(0);
  const h = runInRoot(["--help"]);
  expect(h.code).toBe(0);
  expect(h.stdout).toContain("voice-agent [--mode inbound|outbound|all]");
});

test("without /proc the binary cannot start (why the runner mounts it)", () => {
  // Same root, chroot without the namespace mounts: the binary reads its payload via /proc/self/exe.
  const r = Bun.spawnSync({ cmd: ["chroot", `--userspec=${NONROOT_UID}:${NONROOT_UID}`, dir, "/voice-agent", "--version"], stdout: "pipe", stderr: "pipe" });
  expect(r.signalCode).toBe("SIGABRT"); // Bun's crash handler: it cannot open its own payload
  expect(r.stdout.toString()).not.toContain(pkg.version);
});

describe("the agent server in the bare root", () => {
  let agent: ManagedProcess;
  let sipPort = 0;
  let httpPort = 0;
  let rtpStart = 0;
  const rtpCount = 20;
  let deepgram: FakeDeepgram;
  let msToOptions = 0;

  /** Sends OPTIONS every 20 ms (new branch each) until a final response; resolves with its text. */
  async function optionsUntilAnswered(timeoutMs: number): Promise<string> {
    let answer: string | undefined;
    const sock = await Bun.udpSocket({
      hostname: LOOPBACK,
      port: 0,
      socket: {
        data(_s, buf) {
          const text = new TextDecoder().decode(buf);
          if ((parseSipStatusLine(text)?.code ?? 0) >= 200) answer ??= text;
        },
        error() {}, // ECONNREFUSED while the agent is not bound yet
      },
    });
    try {
      const deadline = performance.now() + timeoutMs;
      for (let i = 1; answer === undefined; i++) {
        if (performance.now() > deadline) throw new Error(`no answer to OPTIONS within ${timeoutMs} ms\n${agent.stdout().slice(-2000)}\n${agent.stderr().slice(-2000)}`);
        if (!agent.running) throw new Error(`agent exited (${await agent.exited})\n${agent.stdout().slice(-2000)}\n${agent.stderr().slice(-2000)}`);
        const msg = [
          `OPTIONS sip:agent@${LOOPBACK}:${sipPort} SIP/2.0`,
          `Via: SIP/2.0/UDP ${LOOPBACK}:${sock.port};branch=z9hG4bK-chroot-${i};rport`,
          "Max-Forwards: 70",
          `From: <sip:probe@${LOOPBACK}>;tag=probe${i}`,
          `To: <sip:agent@${LOOPBACK}:${sipPort}>`,
          `Call-ID: chroot-options-${i}@${LOOPBACK}`,
          `CSeq: ${i} OPTIONS`,
          "Accept: application/sdp",
          "Content-Length: 0",
          "",
          "",
        ].join("\r\n");
        sock.send(msg, sipPort, LOOPBACK);
        await Bun.sleep(20);
      }
      return answer;
    } finally {
      sock.close();
    }
  }

  beforeAll(async () => {
    sipPort = await freeUdpPort();
    httpPort = await freeTcpPort();
    rtpStart = await freeUdpPortRange(rtpCount);
    deepgram = startFakeDeepgram({ script: ["hello there"] });
    const env: Record<string, string> = {
      HOME: "/home/nonroot",
      DATA_DIR: "/data", // as the Dockerfile sets it
      SIP_HOST: LOOPBACK,
      SIP_PORT: String(sipPort),
      SIP_PUBLIC_IP: LOOPBACK,
      SERVER_HOST: LOOPBACK,
      SERVER_PORT: String(httpPort),
      RTP_PORT_START: String(rtpStart),
      RTP_PORT_END: String(rtpStart + rtpCount - 1),
      DEEPGRAM_API_KEY: "test-key",
      DEEPGRAM_BASE_URL: deepgram.url,
      LOG_LEVEL: "info",
    };
    const t0 = performance.now();
    agent = spawnManaged(chrootCommand(dir, ["/voice-agent", "--mode", "inbound"]), { env, name: "voice-agent (chroot)" });
    const answer = await optionsUntilAnswered(20_000);
    msToOptions = performance.now() - t0;
    expect(parseSipStatusLine(answer)?.code).toBe(200);
    expect(sipHeader(answer, "CSeq")).toMatch(/^\d+ OPTIONS$/);
    expect(sipHeader(answer, "Allow")).toContain("INVITE");
  }, 60_000);

  afterAll(async () => {
    await agent?.stop({ graceMs: 5000 });
    await deepgram?.close();
  });

  test("runs as 65532 with no groups; onnxruntime extracted into the root's /tmp; VAD loaded", async () => {
    const st = procStatus(agent.pid);
    expect(st.Uid!.split(/\s+/)).toEqual(Array(4).fill(String(NONROOT_UID)));
    expect(st.Gid!.split(/\s+/)).toEqual(Array(4).fill(String(NONROOT_UID)));
    expect(st.Groups).toBe("");
    // libonnxruntime.so.1 was written to the root's /tmp, dlopened, then unlinked (src/media/vad/ort-loader.ts);
    // read from outside the root, the mapping's path carries the root's prefix.
    const maps = readFileSync(`/proc/${agent.pid}/maps`, "utf8");
    expect(maps).toMatch(new RegExp(`${dir}/tmp/voice-agent-ort-[^/]+/libonnxruntime\\.so\\.1 \\(deleted\\)`));
    // Bun's own copy of the onnxruntime .node binding, owned by the service user.
    const bunNode = readdirSync(join(dir, "tmp")).filter((f) => /^\.bun-65532-.*\.node$/.test(f));
    expect(bunNode.length).toBe(1);
    expect(statSync(join(dir, "tmp", bunNode[0]!)).uid).toBe(NONROOT_UID);
    // The SIP front thread answers OPTIONS on its own: the start-up line may still be on its way through the
    // asynchronous log (src/util/log.ts) when the first answer arrives.
    for (let i = 0; i < 50 && !agent.stdout().includes("voice-agent started"); i++) await Bun.sleep(100);
    const logs = agent.stdout() + agent.stderr();
    expect(logs).toContain("voice-agent started");
    expect(logs).not.toContain("vad unavailable");
    expect(logs).not.toMatch(/cpuinfo|ERR_DLOPEN_FAILED/);
    await Bun.sleep(1000); // idle
    const rssKiB = Number(/(\d+)/.exec(procStatus(agent.pid).VmRSS!)![1]);
    console.log(`chroot: exec → 200 OK to OPTIONS ${msToOptions.toFixed(0)} ms; idle RSS ${(rssKiB / 1024).toFixed(1)} MiB`);
    expect(msToOptions).toBeLessThan(10_000);
    expect(rssKiB).toBeGreaterThan(10_000);
  });

  test("HTTP GET / answers from inside the root", async () => {
    const res = await fetch(`http://${LOOPBACK}:${httpPort}/`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; version: string; providers: { stt: string } };
    expect(body.status).toBe("ok");
    expect(body.version).toBe(pkg.version);
    expect(body.providers.stt).toContain("deepgram");
  });

  test("a SIPp call: SDP answer, audio both ways, BYE → 200, SIPp exits 0", async () => {
    // Caller audio: 2 s of speech from Debian's flite, as raw μ-law 8 kHz (what rtp_stream plays).
    const wav = join(work, "caller.wav");
    const ulaw = join(work, "caller.ulaw");
    expect(sh(["flite", "-voice", "slt", "-t", "hello there", "-o", wav], 20_000).code).toBe(0);
    expect(sh(["sox", wav, "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", ulaw, "pad", "0.2", "0.5"], 20_000).code).toBe(0);
    const sent = new Uint8Array(readFileSync(ulaw));
    expect(sent.length).toBeGreaterThan(8000);

    const capture = await RtpCapture.start({ ports: [sipPort], portRanges: [[rtpStart, rtpStart + rtpCount - 1]] });
    let result: Awaited<ReturnType<typeof runSipp>>;
    try {
      result = await runSipp({ scenario: "inbound-call", target: { host: LOOPBACK, port: sipPort }, audioFile: ulaw, pauseMs: 6000, timeoutMs: 25_000 });
    } catch (err) {
      await capture.abort();
      throw err;
    }
    const cap = await capture.stop();
    const why = describeSipp(result);
    expect(result.exitCode, why).toBe(0);

    // 200 OK to INVITE carries an SDP answer on our RTP range, PCMU first (RFC 3264 §6).
    const ok = result.messages.find((m) => m.direction === "received" && m.status === 200 && /CSeq: *1 INVITE/i.test(m.text));
    expect(ok, why).toBeDefined();
    const m = /^m=audio (\d+) RTP\/AVP (\d+)/m.exec(ok!.text);
    expect(m).not.toBeNull();
    const agentRtp = Number(m![1]);
    expect(agentRtp).toBeGreaterThanOrEqual(rtpStart);
    expect(agentRtp).toBeLessThan(rtpStart + rtpCount);
    expect(m![2]).toBe("0");
    expect(ok!.text).toMatch(/^c=IN IP4 127\.0\.0\.1$/m);
    expect(result.messages.some((x) => x.direction === "received" && x.status === 200 && /CSeq: *2 BYE/i.test(x.text)), why).toBe(true);

    // Caller → agent: SIPp's stream arrived at the agent's port …
    const toAgent = cap.rtpStreams.filter((s) => s.dst.port === agentRtp);
    const fromAgent = cap.rtpStreams.filter((s) => s.src.port === agentRtp);
    expect(toAgent.reduce((n, s) => n + s.audioPackets.length, 0)).toBeGreaterThanOrEqual(Math.floor(sent.length / 160) - 2);
    // … and the agent passed it on to the STT provider unchanged: a 1 s run of the file, byte for byte.
    expect(deepgram.connections.length).toBeGreaterThanOrEqual(1);
    const heard = Buffer.from(deepgram.audioOf(deepgram.connections[0]!));
    expect(heard.indexOf(Buffer.from(sent.subarray(1600, 9600)))).toBeGreaterThanOrEqual(0);

    // Agent → caller: at least 1 s of audible G.711 (the greeting) on the agent's port.
    const audio = fromAgent.reduce((n, s) => n + s.audioPackets.length, 0);
    expect(audio).toBeGreaterThanOrEqual(50);
    const pcm = assembleByTimestamp(fromAgent.sort((a, b) => b.audioPackets.length - a.audioPackets.length)[0]!);
    let sum = 0;
    for (const s of pcm) sum += s * s;
    expect(Math.sqrt(sum / pcm.length)).toBeGreaterThan(300);

    // The agent's own record of the call.
    type Rec = { state: string; endReason?: string };
    const calls = (await (await fetch(`http://${LOOPBACK}:${httpPort}/calls`)).json()) as { active: Rec[]; recent: Rec[] };
    expect(calls.active).toEqual([]);
    expect(calls.recent.length).toBe(1);
    expect(calls.recent[0]!.state).toBe("ended");
    expect(calls.recent[0]!.endReason).toBe("remote_bye");
  }, 40_000);

  test("SIGTERM: exit 0; /tmp keeps only Bun's binding cache (.bun-<uid>-<hash>.node, reused at next start)", async () => {
    const t0 = performance.now();
    agent.signal("SIGTERM");
    const code = await agent.exited;
    const ms = performance.now() - t0;
    console.log(`chroot: SIGTERM → exit ${code} in ${ms.toFixed(0)} ms`);
    expect(code).toBe(0);
    const left = readdirSync(join(dir, "tmp"));
    expect(left.length).toBe(1);
    expect(left[0]).toMatch(/^\.bun-65532-[0-9a-f]+\.node$/);
    expect(ms).toBeLessThan(10_000);
  });
});
