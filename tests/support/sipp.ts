/**
 * Run SIPp (Debian `sip-tester`, binary `sipp`, 3.6.1) as a UAC for one call against a target.
 *
 * Always `-m 1 -l 1` (one call), `-nostdin`, signalling and media on 127.0.0.1, message and error
 * traces into a private temp dir which are parsed into `messages`. Killed (process group) after
 * `timeoutMs`.
 *
 * SIPp facts this wrapper relies on (measured, SIPp 3.6.1):
 * - `[key]` in message text is replaced from `-key key value`; a missing key aborts at start
 *   ("Unsupported keyword 'x'"; for rtp_stream: "looks like a keyword value, but keyword not supplied").
 * - In attributes, `[key]` works only as the whole value (`rtp_stream="[audio]"`); `<pause
 *   milliseconds="[k]"/>` is rejected ("not a floating point number"): use `<pause/>` + `-d MS`
 *   (`pauseMs` here). `timeout=` takes a literal.
 * - `rtp_stream="FILE,LOOPS,PT"` sends RAW G.711 (160 B / 20 ms) from the `-mp` port, which equals
 *   `[rtpstream_audio_port]` and `[media_port]`; SIPp never records incoming RTP (capture it).
 * - `[branch]` is `z9hG4bK-<pid>-<call>-<scenario index>`; `[branch-N]` is the branch of the
 *   element N indexes back (used for CANCEL and for ACKs of non-2xx).
 * - Exit code: 0 every call succeeded, 1 a call failed, 97 stopped by command, 99 normal exit with
 *   no call processed, 255 (-1) fatal error, 254 (-2) could not bind a socket.
 */
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, isAbsolute, resolve } from "node:path";
import { spawnManaged } from "./process.ts";
import { freeUdpPort, freeUdpPortRange, LOOPBACK } from "./ports.ts";

/** Folder of the scenario XML files (resolved from the repository root, the test cwd). */
export const SCENARIO_DIR = "tests/scenarios";

export interface SippOptions {
  /** Scenario: a path to an XML file, or a bare name of `tests/scenarios/NAME.xml` ("inbound-call"). */
  scenario: string;
  /** Where the call goes: "host:port" or { host, port }. */
  target: string | { host: string; port: number };
  /** Local SIP port (`-p`); default a free UDP port. */
  localPort?: number;
  /** Local IP for SIP and media (`-i`, `-mi`); default 127.0.0.1. */
  localIp?: string;
  /** Local media port (`-mp`, also [rtpstream_audio_port]); default the base of 4 free UDP ports. */
  mediaPort?: number;
  /** Raw G.711 file for `rtp_stream`: sets key `audio` to "FILE,1,PT" (played once). */
  audioFile?: string;
  /** RTP payload type of `audioFile`: 0 PCMU or 8 PCMA. Default: 8 if the name ends in .alaw, else 0. */
  audioPayloadType?: 0 | 8;
  /** Duration of `<pause/>` elements in ms (`-d`). Default 1000. */
  pauseMs?: number;
  /** Request-URI user part (`-s`, [service]). Default "agent". */
  service?: string;
  /** Extra `-key NAME VALUE` pairs. */
  keys?: Record<string, string>;
  /** Hard limit: the process group is killed after this many ms. */
  timeoutMs: number;
  /** More SIPp arguments, appended last. */
  extraArgs?: string[];
  /** Keep the trace dir (default: deleted after parsing). */
  keepTraceDir?: boolean;
}

/** One SIP message from SIPp's `-trace_msg` log. */
export interface SippMessage {
  direction: "sent" | "received";
  /** Wall-clock time SIPp logged, "YYYY-MM-DD HH:MM:SS.micros". */
  time: string;
  /** First line: "INVITE sip:… SIP/2.0" or "SIP/2.0 200 OK". */
  firstLine: string;
  /** Request method, or undefined for a response. */
  method?: string;
  /** Response status code, or undefined for a request. */
  status?: number;
  /** The whole message text (CRLF normalised to LF). */
  text: string;
}

export interface SippResult {
  /** SIPp exit code (see the file comment); null when killed by a signal (timeout). */
  exitCode: number | null;
  /** True when runSipp killed SIPp at `timeoutMs`. */
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** Parsed `-trace_msg` log, in order. */
  messages: SippMessage[];
  /** Contents of the `-trace_err` log (unexpected messages, failures); "" when none. */
  errors: string;
  /** The command line that was run. */
  argv: string[];
  localPort: number;
  mediaPort: number;
  /** Wall time from spawn to exit, ms. */
  durationMs: number;
}

/** Resolves a scenario name or path to an absolute XML path. @throws Error if it does not exist. */
export function scenarioPath(scenario: string): string {
  const p = scenario.endsWith(".xml") || scenario.includes("/") ? scenario : join(SCENARIO_DIR, `${scenario}.xml`);
  const abs = isAbsolute(p) ? p : resolve(process.cwd(), p);
  if (!existsSync(abs)) throw new Error(`SIPp scenario not found: ${abs}`);
  return abs;
}

/**
 * Parses SIPp's `-trace_msg` file: blocks separated by a dashed line with a timestamp, then
 * "UDP message sent (N bytes):" / "UDP message received [N] bytes :", a blank line, the message.
 */
export function parseSippMessageLog(log: string): SippMessage[] {
  const out: SippMessage[] = [];
  const blocks = log.split(/^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s*$/m);
  // split with a capture group: [pre, time1, body1, time2, body2, …]
  for (let i = 1; i + 1 < blocks.length; i += 2) {
    const time = blocks[i]!;
    const body = blocks[i + 1]!.replace(/\r\n/g, "\n");
    const head = body.match(/^\s*\S+ message (sent|received)[^\n]*\n/);
    if (!head) continue;
    const text = body.slice(head.index! + head[0].length).replace(/^\n+/, "").replace(/\n+$/, "\n");
    const firstLine = text.split("\n", 1)[0] ?? "";
    const resp = firstLine.match(/^SIP\/2\.0 (\d{3})/);
    const req = firstLine.match(/^([A-Za-z]+) \S+ SIP\/2\.0/);
    out.push({
      direction: head[1] === "sent" ? "sent" : "received",
      time,
      firstLine,
      status: resp ? Number(resp[1]) : undefined,
      method: req ? req[1] : undefined,
      text,
    });
  }
  return out;
}

/** The first final (≥ 200) response SIPp received to CSeq `seq` `method`, or undefined. */
export function finalResponseTo(messages: SippMessage[], seq: number, method: string): SippMessage | undefined {
  const cseq = new RegExp(`^CSeq:\\s*${seq} ${method}$`, "mi");
  return messages.find((m) => m.direction === "received" && m.status !== undefined && m.status >= 200 && cseq.test(m.text));
}

/**
 * Runs one SIPp call and resolves when SIPp exits or is killed at `timeoutMs` (never rejects for a
 * failed call: inspect `exitCode`, `timedOut`, `errors`, `messages`).
 * @throws Error only when SIPp cannot be started or the scenario file does not exist.
 */
export async function runSipp(opts: SippOptions): Promise<SippResult> {
  const target = typeof opts.target === "string" ? opts.target : `${opts.target.host}:${opts.target.port}`;
  const localIp = opts.localIp ?? LOOPBACK;
  const localPort = opts.localPort ?? (await freeUdpPort());
  const mediaPort = opts.mediaPort ?? (await freeUdpPortRange(4));
  const dir = mkdtempSync(join(tmpdir(), "sipp-"));
  const msgFile = join(dir, "messages.log");
  const errFile = join(dir, "errors.log");
  const argv = [
    "sipp",
    target,
    "-sf",
    scenarioPath(opts.scenario),
    "-i",
    localIp,
    "-mi",
    localIp,
    "-p",
    String(localPort),
    "-mp",
    String(mediaPort),
    "-s",
    opts.service ?? "agent",
    "-m",
    "1",
    "-l",
    "1",
    "-d",
    String(opts.pauseMs ?? 1000),
    "-nostdin",
    "-trace_msg",
    "-message_file",
    msgFile,
    "-trace_err",
    "-error_file",
    errFile,
  ];
  const keys: Record<string, string> = { ...(opts.keys ?? {}) };
  if (opts.audioFile !== undefined) {
    const pt = opts.audioPayloadType ?? (opts.audioFile.endsWith(".alaw") ? 8 : 0);
    keys.audio = `${resolve(opts.audioFile)},1,${pt}`;
  }
  for (const [k, v] of Object.entries(keys)) argv.push("-key", k, v);
  argv.push(...(opts.extraArgs ?? []));

  const t0 = performance.now();
  const proc = spawnManaged(argv, { cwd: dir, name: "sipp" });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void proc.stop({ signal: "SIGKILL", graceMs: 0 });
  }, opts.timeoutMs);
  let exitCode: number | null;
  try {
    exitCode = await proc.exited;
  } finally {
    clearTimeout(timer);
  }
  const durationMs = performance.now() - t0;
  const messages = existsSync(msgFile) ? parseSippMessageLog(readFileSync(msgFile, "utf8")) : [];
  const errors = existsSync(errFile) ? readFileSync(errFile, "utf8") : "";
  if (!opts.keepTraceDir) rmSync(dir, { recursive: true, force: true });
  return { exitCode, timedOut, stdout: proc.stdout(), stderr: proc.stderr(), messages, errors, argv, localPort, mediaPort, durationMs };
}

/** Short human summary of a run for assertion messages: exit, first lines of the trace, error log. */
export function describeSipp(r: SippResult): string {
  const flow = r.messages.map((m) => `${m.direction === "sent" ? ">>" : "<<"} ${m.firstLine}`).join("\n");
  return `sipp exit=${r.exitCode} timedOut=${r.timedOut} ${r.durationMs.toFixed(0)} ms\n${flow}\n${r.errors.slice(-1500)}\n${r.stderr.slice(-1500)}`;
}

/**
 * Tells a SIPp caller running tests/scenarios/inbound-call-until-info.xml to hang up now (or one running
 * inbound-call-turns.xml to take its next step: the next phrase, then the BYE): one INFO with
 * the call's Call-ID to SIPp's SIP port (SIPp matches a call by Call-ID alone; it answers 200 and sends
 * its BYE). Start that SIPp with `localPort` and `extraArgs: ["-cid_str", id]` so both are known (the
 * first call's Call-ID is `id` with `%u` = 1, `%s` = the local IP). On loopback one datagram does; if it
 * were lost, the scenario hangs up after its own 45 s.
 */
export async function tellSippToHangUp(sippPort: number, callId: string): Promise<void> {
  const sock = await Bun.udpSocket({ hostname: LOOPBACK, port: 0 });
  try {
    const info = [
      `INFO sip:caller@${LOOPBACK}:${sippPort} SIP/2.0`,
      `Via: SIP/2.0/UDP ${LOOPBACK}:${sock.port};branch=z9hG4bK-hangup-${sock.port};rport`,
      `From: <sip:test@${LOOPBACK}:${sock.port}>;tag=hangup${sock.port}`,
      `To: <sip:caller@${LOOPBACK}:${sippPort}>`,
      `Call-ID: ${callId}`,
      "CSeq: 1 INFO",
      "Max-Forwards: 70",
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n");
    sock.send(info, sippPort, LOOPBACK);
    await Bun.sleep(50); // let the datagram leave before the socket closes
  } finally {
    sock.close();
  }
}
