/**
 * Mutation fuzzing of SIP datagrams for the compiled agent (tests/e2e/sip-fuzz.test.ts, `bun run
 * bench:fuzz`): a corpus of real wire captures and fixtures (tests/sip/fixtures.ts, RFC 4475-style
 * malformed cases in tests/fixtures/sip-malformed.ts) with every address moved to loopback, and a
 * seeded mutator (byte overwrite, range delete/duplicate, syntax-token insertion, truncation, line
 * swap) so a crash reproduces from its seed.
 *
 * Safety: traffic stays on 127.0.0.0/8. Every IPv4 literal in the corpus is rewritten to 127.0.0.1,
 * and `fuzzable()` refuses a datagram that would make the agent answer elsewhere (a top Via with
 * `maddr`) or start a call (an INVITE without To-tag: calls are exercised by the real SIPp calls).
 */
import { parseMessage } from "../../src/sip/message/index.ts";
import { MALFORMED_CASES } from "../fixtures/sip-malformed.ts";
import { CANONICAL_FIXTURES, TRUNK_INVITE_JOINED, COMPACT_INVITE } from "../sip/fixtures.ts";
import { mulberry32 as rng } from "./prng.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const TOKENS = ["\r\n", "\r", "\n", ":", ",", ";", '"', "<", ">", " ", "\t", "\0", "@", "=", "\\", "[", "]", "?",
  "SIP/2.0", "Via: ", "l: 99999", "Content-Length: 3", "\r\n\r\n", "\r\n ", ";tag=", "sip:", "\u00ff", "\u{1F600}", "z9hG4bK",
  "CSeq: 4294967296 BYE", "Require: 100rel", "Content-Type: multipart/mixed", "To: <sip:x@127.0.0.1>;tag=", "Max-Forwards: 0"];

/** Applies 1–4 random mutations to `src`. */
export function mutate(src: Uint8Array, r: () => number): Uint8Array {
  let b = Array.from(src);
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const pos = Math.floor(r() * (b.length + 1));
    switch (Math.floor(r() * 6)) {
      case 0:
        if (b.length) b[Math.min(pos, b.length - 1)] = Math.floor(r() * 256);
        break;
      case 1:
        b.splice(pos, Math.floor(r() * 40));
        break;
      case 2: {
        const len = Math.floor(r() * 60);
        b.splice(pos, 0, ...b.slice(pos, pos + len));
        break;
      }
      case 3:
        b.splice(pos, 0, ...enc.encode(TOKENS[Math.floor(r() * TOKENS.length)]!));
        break;
      case 4:
        b = b.slice(0, pos);
        break;
      default: {
        const text = dec.decode(new Uint8Array(b)).split("\r\n");
        const i = Math.floor(r() * text.length);
        const j = Math.floor(r() * text.length);
        [text[i], text[j]] = [text[j]!, text[i]!];
        b = Array.from(enc.encode(text.join("\r\n")));
      }
    }
  }
  return new Uint8Array(b);
}

/** Moves every IPv4 literal to 127.0.0.1 (Content-Length fixed up by the caller's parser anyway). */
function toLoopback(text: string): string {
  return text.replace(/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, "127.0.0.1");
}

/**
 * The seed corpus, bytes: canonical captures and fixtures (requests and responses) plus the malformed
 * cases built for `target`, all on loopback. INVITEs get a To-tag so they are in-dialog (481), not calls.
 */
export function fuzzCorpus(target: { host: string; port: number; local: number }): Uint8Array[] {
  const texts = [...Object.values(CANONICAL_FIXTURES), TRUNK_INVITE_JOINED, COMPACT_INVITE].map(toLoopback);
  const out: Uint8Array[] = texts.map((t) => enc.encode(t.replace(/^(To|t):([^\r\n]*)$/im, (line) => (/;tag=/.test(line) ? line : `${line};tag=fz1`))));
  for (const c of MALFORMED_CASES) {
    const b = c.build(target);
    out.push(typeof b === "string" ? enc.encode(toLoopback(b)) : b);
  }
  return out;
}

/**
 * False when the agent could act on the datagram outside what a fuzz run may cause: an INVITE
 * without To-tag (a new call) or a top Via naming `maddr` (an answer off loopback). Unparsable
 * datagrams are fuzzable (the agent answers them 400 to the source, or drops them).
 */
export function fuzzable(d: Uint8Array): boolean {
  let m;
  try {
    m = parseMessage(d);
  } catch {
    return true;
  }
  try {
    if (m.kind === "request" && m.method === "INVITE" && !m.to.tag) return false;
  } catch {
    /* a To that does not parse: the agent answers 400 */
  }
  const top = m.headers.get("Via") ?? "";
  return !/maddr/i.test(top);
}

export interface FuzzRunOptions {
  target: { host: string; port: number };
  /** Datagrams to send. */
  count: number;
  seed: number;
  /** Datagrams per second (paced in 5 ms slices). Default 4000. */
  rate?: number;
  /** Source sockets on 127.0.0.1 (answers are read back on them). Default 8. */
  sockets?: number;
  /** Called about once a second with the datagrams sent so far. */
  progress?: (sent: number) => void;
}

export interface FuzzRunResult {
  sent: number;
  /** Mutations not sent (would start a call or route off loopback). */
  skipped: number;
  /** Answers received, by status code ("garbage" when not a status line). */
  answers: Map<string, number>;
  seconds: number;
}

/** Rewrites the first Content-Length (or `l:`) header to the real body length, if there is a body separator. */
export function fixContentLength(d: Uint8Array): Uint8Array {
  const text = dec.decode(d);
  const sep = text.indexOf("\r\n\r\n");
  if (sep < 0) return d;
  const bodyBytes = enc.encode(text.slice(sep + 4)).length;
  return enc.encode(text.slice(0, sep).replace(/^(Content-Length|l)(\s*):\s*\d*/im, (_m, n: string, sp: string) => `${n}${sp}: ${bodyBytes}`) + text.slice(sep));
}

/**
 * A new branch and Call-ID for every datagram (before mutating), so each one opens its own transaction
 * and reaches the UA instead of being absorbed as a retransmission of the first (RFC 3261 §17.2.3).
 */
function fresh(d: Uint8Array, n: number): Uint8Array {
  const text = dec.decode(d);
  if (!text.includes("SIP/2.0")) return d;
  return enc.encode(
    text
      .replace(/branch=z9hG4bK[^;\r\n,]*/g, `branch=z9hG4bK-fz${n}`)
      .replace(/^(Call-ID|i)(\s*):\s*[^\r\n]*/gim, (_m, name: string, sp: string) => `${name}${sp}: fz-${n}@127.0.0.1`),
  );
}

/** Sends `count` mutated datagrams from `sockets` loopback ports at `rate`/s and counts the answers. */
export async function runFuzz(o: FuzzRunOptions): Promise<FuzzRunResult> {
  const answers = new Map<string, number>();
  const socks = await Promise.all(
    Array.from({ length: o.sockets ?? 8 }, () =>
      Bun.udpSocket({
        hostname: "127.0.0.1",
        port: 0,
        socket: {
          data(_s, buf) {
            const k = /^SIP\/2\.0 (\d{3})/.exec(buf.toString("latin1", 0, 16))?.[1] ?? "garbage";
            answers.set(k, (answers.get(k) ?? 0) + 1);
          },
        },
      }),
    ),
  );
  const corpus = fuzzCorpus({ host: "127.0.0.1", port: o.target.port, local: socks[0]!.port });
  const r = rng(o.seed);
  const rate = o.rate ?? 4000;
  const t0 = performance.now();
  let sent = 0;
  let skipped = 0;
  let lastProgress = t0;
  while (sent < o.count) {
    const due = Math.min(o.count, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    while (sent < due) {
      let d = mutate(fresh(corpus[Math.floor(r() * corpus.length)]!, sent + skipped), r);
      if (r() < 0.5) d = fixContentLength(d); // else most mutants stop at the Content-Length check
      if (!fuzzable(d)) {
        skipped++;
        continue;
      }
      socks[sent % socks.length]!.send(d, o.target.port, o.target.host);
      sent++;
    }
    if (o.progress && performance.now() - lastProgress > 1000) {
      lastProgress = performance.now();
      o.progress(sent);
    }
    await Bun.sleep(5);
  }
  await Bun.sleep(500);
  for (const s of socks) s.close();
  return { sent, skipped, answers, seconds: (performance.now() - t0) / 1000 };
}
