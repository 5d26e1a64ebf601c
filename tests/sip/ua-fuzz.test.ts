import { expect, test } from "bun:test";
import { FakeClock } from "../../src/util/clock.ts";
import { MemoryTransport, UserAgent, type SipLogger } from "../../src/sip/index.ts";
import { CANONICAL_FIXTURES, COMPACT_INVITE, TRUNK_INVITE_JOINED } from "./fixtures.ts";
import { ANSWER_SDP, TRUNK } from "./ua-harness.ts";
import { mulberry32 as rng } from "../support/prng.ts";

const SNIPPETS = [";tag=", ";tag=x", "<", ">", '"', ",", ";lr", "\r\n", ":", " ", "@", "sip:", ";branch=z9hG4bK1", ";rport", ";received=", "Contact: *\r\n", "Require: x\r\n", "CANCEL", "BYE", "ACK", "INVITE", "0", "9999999999"];

/**
 * The UA core under hostile input: mutated real messages (requests, responses, in and out of dialog)
 * go through the same receive path as UDP datagrams. Nothing may throw, no handler may fail with
 * anything but a parse problem, and a clean INVITE afterwards is still served.
 */
test("seeded fuzz through the UA: never throws, keeps serving", () => {
  const clock = new FakeClock();
  const transport = new MemoryTransport({ clock, local: { host: "203.0.113.10", port: 5060 } });
  const bugs: string[] = [];
  const log: SipLogger = {
    debug() {},
    info() {},
    warn() {},
    error: (fields, msg) => {
      const err = String((fields as { err?: unknown }).err ?? "");
      if (!err.startsWith("SipParseError")) bugs.push(`${msg}: ${err}`);
    },
  };
  let invites = 0;
  const ua = new UserAgent({
    transport,
    clock,
    contact: { host: "203.0.113.10", port: 5060 },
    log,
    delegate: {
      onInvite: (c) => {
        invites++;
        if (invites % 3 === 0) c.reject(486);
        else c.accept(ANSWER_SDP);
      },
    },
  });
  const seeds = [...Object.values(CANONICAL_FIXTURES), COMPACT_INVITE, TRUNK_INVITE_JOINED];
  const r = rng(20261105);
  for (let i = 0; i < 6000; i++) {
    let text = seeds[Math.floor(r() * seeds.length)]!;
    const n = 1 + Math.floor(r() * 3);
    for (let k = 0; k < n; k++) {
      const pos = Math.floor(r() * text.length);
      const op = r();
      if (op < 0.4) text = text.slice(0, pos) + SNIPPETS[Math.floor(r() * SNIPPETS.length)] + text.slice(pos);
      else if (op < 0.7) text = text.slice(0, pos) + text.slice(pos + 1 + Math.floor(r() * 12));
      else text = text.slice(0, pos) + String.fromCharCode(Math.floor(r() * 128)) + text.slice(pos + 1);
    }
    transport.receive(text, TRUNK);
    if (i % 50 === 0) clock.advance(Math.floor(r() * 5000));
  }
  expect(bugs).toEqual([]);
  clock.advance(200_000);
  transport.clear();
  invites = 0;
  transport.receive(CANONICAL_FIXTURES.SIPP_INVITE!.replace("1-4242@", "fresh-call@"), { host: "127.0.1.1", port: 5061 });
  expect(invites).toBe(1);
  expect(transport.sent.map((s) => (s.message.kind === "response" ? s.message.status : 0))).toEqual([100, 200]);
  ua.dispose();
  expect(clock.pending).toBe(0);
}, 60_000); // CPU-bound: 0.75 s under load 8, several times that on a busier machine
