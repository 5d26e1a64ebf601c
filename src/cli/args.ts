/**
 * Command-line arguments.
 *
 *   voice-agent [--mode inbound|outbound|all]     run the agent (default: inbound)
 *   voice-agent call <sip-uri> [options]          place a test call with the built-in SIP caller
 *   voice-agent check-config                      validate the configuration and print what would run
 *   voice-agent --help | --version
 */
import { parseArgs } from "node:util";

export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; mode: "inbound" | "outbound" | "all" }
  | { kind: "check-config"; mode: "inbound" | "outbound" | "all" }
  | {
      kind: "call";
      uri: string;
      say: string[];
      record?: string;
      /** The agent's HTTP API, to print what it heard and answered. */
      agentHttp?: string;
      /** Wait this long for the agent's reply after each phrase, ms. */
      replyTimeoutMs: number;
      from: string;
      localPort: number;
      json: boolean;
    };

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const HELP = `voice-agent — a telephone AI agent that speaks SIP and RTP itself

Usage:
  voice-agent [--mode inbound|outbound|all]   run the agent (default mode: inbound)
  voice-agent check-config [--mode ...]       validate configuration, print what would run, exit
  voice-agent call <sip-uri> [options]        place a test call with the built-in SIP caller
      --say <text>          a phrase to say after the agent stops talking (repeatable)
      --record <file.wav>   write the call (both directions, 8 kHz) to a WAV file
      --agent-http <url>    the agent's HTTP API, to print what it heard and answered
      --reply-timeout <ms>  how long to wait for each reply (default 20000)
      --from <sip-uri>      our From URI (default sip:demo@127.0.0.1)
      --local-port <n>      our SIP port (default: any free port)
      --json                print the result as JSON at the end
  voice-agent --help | --version

Configuration comes from the environment and a .env file in the working directory.
Documentation: README.md in the source tree this binary was built from (the binary ships without it):
configuration table, HTTP API, call page, deployment. A running agent also describes its HTTP API at
GET /openapi/json and shows its calls at GET /ui.
`;

const MODES = ["inbound", "outbound", "all"] as const;

function mode(v: string | undefined): "inbound" | "outbound" | "all" {
  if (v === undefined) return "inbound";
  if (!(MODES as readonly string[]).includes(v)) throw new UsageError(`--mode: expected one of ${MODES.join(", ")}, got "${v}"`);
  return v as "inbound" | "outbound" | "all";
}

/** @throws UsageError with a message naming the bad argument. */
export function parseCommand(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
        mode: { type: "string" },
        say: { type: "string", multiple: true },
        record: { type: "string" },
        "agent-http": { type: "string" },
        "reply-timeout": { type: "string" },
        from: { type: "string" },
        "local-port": { type: "string" },
        json: { type: "boolean" },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals: p } = parsed;
  if (v.help) return { kind: "help" };
  if (v.version) return { kind: "version" };
  const sub = p[0];
  if (sub === undefined || sub === "run") return { kind: "run", mode: mode(v.mode) };
  if (sub === "check-config") return { kind: "check-config", mode: mode(v.mode) };
  if (sub === "call") {
    const uri = p[1];
    if (!uri || !/^sips?:/i.test(uri)) throw new UsageError(`call: expected a SIP URI such as sip:agent@127.0.0.1:5060, got "${uri ?? ""}"`);
    const num = (name: string, s: string | undefined, def: number) => {
      if (s === undefined) return def;
      if (!/^\d+$/.test(s)) throw new UsageError(`--${name}: expected a number, got "${s}"`);
      return Number(s);
    };
    return {
      kind: "call",
      uri,
      say: v.say ?? [],
      record: v.record,
      agentHttp: v["agent-http"],
      replyTimeoutMs: num("reply-timeout", v["reply-timeout"], 20_000),
      from: v.from ?? "sip:demo@127.0.0.1",
      localPort: num("local-port", v["local-port"], 0),
      json: v.json ?? false,
    };
  }
  throw new UsageError(`unknown command "${sub}" (try --help)`);
}
