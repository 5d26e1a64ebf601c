import type { SipMessage } from "./message.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Serialises a message to wire bytes (RFC 3261 §7): start line, one row per header entry in order
 * (`Name: value`), `Content-Length` set to the body's byte length (replaced in place, or appended when
 * absent; §20.14, mandatory in our output), an empty line, then the body. Never throws.
 */
export function serializeMessage(msg: SipMessage): Uint8Array {
  const head = encoder.encode(headText(msg));
  const out = new Uint8Array(head.length + msg.body.length);
  out.set(head, 0);
  out.set(msg.body, head.length);
  return out;
}

/** The serialised message as text (the body decoded as UTF-8). For logs and tests. */
export function messageToString(msg: SipMessage): string {
  return decoder.decode(serializeMessage(msg));
}

function headText(msg: SipMessage): string {
  let s = msg.kind === "request" ? `${msg.method} ${msg.uri} SIP/2.0\r\n` : `SIP/2.0 ${msg.status} ${msg.reason}\r\n`;
  let wroteLength = false;
  for (const { name, value } of msg.headers.entries()) {
    if (name === "Content-Length") {
      if (!wroteLength) s += `Content-Length: ${msg.body.length}\r\n`;
      wroteLength = true;
      continue;
    }
    s += `${name}: ${value}\r\n`;
  }
  if (!wroteLength) s += `Content-Length: ${msg.body.length}\r\n`;
  return `${s}\r\n`;
}
