import { SipParseError } from "./errors.ts";

/** CSeq (RFC 3261 §20.16): a sequence number below 2^31 (§8.1.1.5) and a method. */
export interface CSeq {
  seq: number;
  method: string;
}

const CSEQ = /^\s*(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)\s*$/;

/** Parses `4711 INVITE`. Throws SipParseError("cseq"). */
export function parseCSeq(text: string): CSeq {
  const m = CSEQ.exec(text);
  if (!m) throw new SipParseError("cseq", `bad CSeq "${text.length > 40 ? `${text.slice(0, 40)}…` : text}"`);
  const seq = Number(m[1]);
  if (seq >= 2 ** 31) throw new SipParseError("cseq", "CSeq number not below 2^31 (§8.1.1.5)");
  return { seq, method: m[2]! };
}

export function formatCSeq(c: CSeq): string {
  return `${c.seq} ${c.method}`;
}
