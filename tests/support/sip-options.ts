/**
 * One out-of-dialog OPTIONS to an agent, as a load balancer's health probe sends it (RFC 3261 §11), and
 * its reply's status and the headers the fleet contract uses (`Retry-After`, `X-Calls`).
 */
import { freeUdpPort } from "./ports.ts";
import { parseSipStatusLine, sipHeader, udpExchange } from "./udp.ts";

let seq = 0;

/** The OPTIONS request text; `name` tells the probes of one file apart in Via/From/Call-ID. */
export function optionsRequest(sipPort: number, localPort: number, name: string, n: number): string {
  return [
    `OPTIONS sip:127.0.0.1:${sipPort} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${localPort};branch=z9hG4bK-${name}-${process.pid}-${n}`,
    "Max-Forwards: 70",
    `From: <sip:${name}@localhost>;tag=${name}${n}`,
    `To: <sip:127.0.0.1:${sipPort}>`,
    `Call-ID: ${name}-${process.pid}-${n}@127.0.0.1`,
    `CSeq: ${n} OPTIONS`,
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

/**
 * Sends one OPTIONS to 127.0.0.1:`sipPort` from a free port and waits up to 5 s for the reply.
 * @returns the status (undefined when none came), and the Retry-After and X-Calls headers.
 */
export async function optionsProbe(sipPort: number, name = "probe"): Promise<{ status: number | undefined; retryAfter: string | undefined; calls: string | undefined }> {
  const n = ++seq;
  const local = await freeUdpPort();
  const r = await udpExchange({ target: { port: sipPort }, payload: optionsRequest(sipPort, local, name, n), localPort: local, timeoutMs: 5000 });
  const text = r.replies[0]?.text ?? "";
  return { status: parseSipStatusLine(text)?.code, retryAfter: sipHeader(text, "Retry-After"), calls: sipHeader(text, "X-Calls") };
}
