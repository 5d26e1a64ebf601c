/**
 * Session 19's attacker and carrier findings against the compiled agent, with SIPp as the peer: inside
 * one call a NOTIFY for a REFER never sent (481, RFC 6665 §4.1.3), a re-INVITE changing its SDP under an
 * unchanged o= version (the RFC 3264 §8 no-op: the previous answer), one whose o= version goes back (400),
 * one with a garbage Session-Expires (400, RFC 3261 §21.4.1); INVITEs with a Session-Expires below their own
 * Min-SE (422) or a garbage Min-SE (400, RFC 4028 §5); an INVITE with a gzip-coded body (415 + Accept-Encoding,
 * RFC 3261 §8.2.3; session 21); a caller without timer support whose Session-Expires is below 90 (raised in
 * the 200, erratum 1687; was 422); and over TCP a request without
 * Content-Length (400, RFC 3261 §18.3). Before, each was answered 200 (or framed as an empty body).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { describeSipp, finalResponseTo, runSipp } from "../support/sipp.ts";
import { missingTools } from "../support/process.ts";
import { startAgent, type RunningAgent } from "./agent.ts";

const missing = missingTools(["sipp"]);
let agent: RunningAgent;

beforeAll(async () => {
  if (missing.length === 0) agent = await startAgent();
}, 120_000);

afterAll(async () => {
  await agent?.stop();
});

/** The agent's final response to CSeq `seq` `method`. */
const finalTo = finalResponseTo;
const body = (text: string) => text.slice(text.indexOf("\n\n") + 2);
const warning = (text: string) => /^Warning:\s*(.*)$/im.exec(text)?.[1];

test.skipIf(missing.length > 0)("in one call: NOTIFY without our REFER → 481; same o= version → previous answer; lower → 400; bad Session-Expires → 400", async () => {
  const r = await runSipp({ scenario: "strict-in-dialog", target: `127.0.0.1:${agent.sipPort}`, timeoutMs: 30_000 });
  expect(r.exitCode, describeSipp(r)).toBe(0);
  const m = r.messages;
  const trace = m.map((x) => x.firstLine).join(" | ");
  const first = finalTo(m, 1, "INVITE")!;
  expect(first.status, trace).toBe(200);

  const notify = finalTo(m, 2, "NOTIFY")!;
  expect(notify.firstLine).toBe("SIP/2.0 481 Subscription does not exist");

  const noop = finalTo(m, 3, "INVITE")!;
  expect(noop.status).toBe(200);
  expect(body(noop.text)).toBe(body(first.text)); // a=sendrecv and the same o= version: the offer's a=sendonly not taken
  expect(body(noop.text)).toMatch(/^a=sendrecv$/m);

  const back = finalTo(m, 4, "INVITE")!;
  expect(back.status).toBe(400);
  expect(warning(back.text)).toContain("o= version went back from 1 to 0 (RFC 3264 section 8: it MUST increment)");

  const se = finalTo(m, 5, "INVITE")!;
  expect(se.status).toBe(400);
  expect(warning(se.text)).toContain("malformed Session-Expires 'soon'");

  expect(finalTo(m, 6, "BYE")?.status).toBe(200); // the call went on through all of it
}, 60_000);

test.skipIf(missing.length > 0)("INVITE with Session-Expires below its own Min-SE → 422 with that Min-SE; a garbage Min-SE → 400 naming it (RFC 4028 §5, §9)", async () => {
  const r = await runSipp({ scenario: "tests/e2e/sip-strict-min-se.xml", target: `127.0.0.1:${agent.sipPort}`, timeoutMs: 30_000 });
  expect(r.exitCode, describeSipp(r)).toBe(0); // the start binary answered 200 where 422 was expected
  const m = r.messages;
  const below = finalTo(m, 1, "INVITE")!;
  expect(below.status).toBe(422);
  expect(/^Min-SE:\s*(.*)$/im.exec(below.text)?.[1]?.trim()).toBe("600");
  const garbage = finalTo(m, 2, "INVITE")!;
  expect(garbage.status).toBe(400);
  expect(warning(garbage.text)).toContain("malformed Min-SE 'soon'");
}, 60_000);

test.skipIf(missing.length > 0)("INVITE with Content-Encoding: gzip → 415 with Accept-Encoding: identity (RFC 3261 §8.2.3)", async () => {
  const r = await runSipp({ scenario: "tests/e2e/sip-strict-coding.xml", target: `127.0.0.1:${agent.sipPort}`, timeoutMs: 20_000 });
  expect(r.exitCode, describeSipp(r)).toBe(0); // the start binary answered 200, reading the body as plain SDP
  const coded = finalTo(r.messages, 1, "INVITE")!;
  expect(coded.status).toBe(415);
  expect(/^Accept-Encoding:\s*(.*)$/im.exec(coded.text)?.[1]?.trim()).toBe("identity");
  expect(warning(coded.text)).toContain("Content-Encoding gzip");
}, 60_000);

test.skipIf(missing.length > 0)("a caller without Supported: timer and Session-Expires 60 → 200 raised to 90 (RFC 4028 §9, erratum 1687); Min-SE 30 reads as 90 (§5): 422 with 90, or 200", async () => {
  const r = await runSipp({ scenario: "tests/e2e/sip-strict-timer-unsupported.xml", target: `127.0.0.1:${agent.sipPort}`, timeoutMs: 30_000 });
  expect(r.exitCode, describeSipp(r)).toBe(0); // before (f6090f0): the first INVITE got 422, the call failed
  const m = r.messages;
  const header = (text: string, name: string) => new RegExp(`^${name}:\\s*(.*)$`, "im").exec(text)?.[1]?.trim();
  const raised = finalTo(m, 1, "INVITE")!;
  expect(raised.status).toBe(200);
  expect(header(raised.text, "Session-Expires")).toBe("90;refresher=uas");
  expect(header(raised.text, "Require")).toBeUndefined();
  expect(finalTo(m, 2, "BYE")?.status).toBe(200);
  const tooSmall = finalTo(m, 3, "INVITE")!;
  expect(tooSmall.status).toBe(422);
  expect(header(tooSmall.text, "Min-SE")).toBe("90");
  const kept = finalTo(m, 4, "INVITE")!;
  expect(kept.status).toBe(200);
  expect(header(kept.text, "Session-Expires")).toBe("1800;refresher=uac");
  expect(finalTo(m, 5, "BYE")?.status).toBe(200);
}, 60_000);

test.skipIf(missing.length > 0)("over TCP (SIPp -t t1), an OPTIONS without Content-Length → 400 naming it (RFC 3261 §18.3)", async () => {
  const r = await runSipp({ scenario: "tcp-no-content-length", target: `127.0.0.1:${agent.sipPort}`, timeoutMs: 20_000, extraArgs: ["-t", "t1"] });
  expect(r.exitCode, describeSipp(r)).toBe(0);
  const bad = r.messages.find((x) => x.direction === "received" && x.status === 400)!;
  expect(warning(bad.text)).toContain("no Content-Length on a stream transport (RFC 3261 section 18.3 MUST)");
  // The same OPTIONS with Content-Length: 0 is answered 200 over TCP (the agent's TCP side works).
  const ok = await runSipp({ scenario: "options", target: `127.0.0.1:${agent.sipPort}`, timeoutMs: 20_000, extraArgs: ["-t", "t1"] });
  expect(ok.exitCode, describeSipp(ok)).toBe(0);
}, 60_000);

test.skipIf(missing.length > 0)("over TCP, a 488 to an INVITE that is not ACKed is sent once: no Timer G copies on the stream (RFC 3261 §17.2.1)", async () => {
  let text = "";
  const s = await Bun.connect({ hostname: "127.0.0.1", port: agent.sipPort, socket: { data: (_s, d) => void (text += new TextDecoder().decode(d)) } });
  try {
    const local = (s as unknown as { localPort: number }).localPort;
    const sdp = "v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
    s.write(
      `INVITE sip:agent@127.0.0.1:${agent.sipPort};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:${local};branch=z9hG4bKg729tcp;rport\r\n` +
        `From: <sip:caller@127.0.0.1>;tag=g1\r\nTo: <sip:agent@127.0.0.1>\r\nCall-ID: g729-tcp@127.0.0.1\r\nCSeq: 1 INVITE\r\n` +
        `Contact: <sip:caller@127.0.0.1:${local};transport=tcp>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`,
    );
    await Bun.sleep(1800); // past Timer G's firings at 0.5 and 1.5 s
    expect(text.match(/^SIP\/2\.0 488 /gm)).toHaveLength(1); // the start binary: 3 copies by now
  } finally {
    s.end();
  }
}, 30_000);
