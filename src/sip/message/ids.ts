import { BRANCH_MAGIC_COOKIE } from "./via.ts";

/** `n` random bytes as lower-case hex, from the platform CSPRNG. */
function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/**
 * A From/To tag: "at least 32 bits of randomness" (RFC 3261 §19.3). We use 64 bits, 16 hex chars.
 */
export function generateTag(): string {
  return randomHex(8);
}

/**
 * A Via branch, unique across space and time, starting with the magic cookie `z9hG4bK` (RFC 3261
 * §8.1.1.7) so that peers use RFC 3261 transaction matching. 64 random bits after the cookie.
 */
export function generateBranch(): string {
  return `${BRANCH_MAGIC_COOKIE}${randomHex(8)}`;
}

/**
 * A Call-ID (RFC 3261 §8.1.1.4): globally unique; 128 random bits, `@host` appended when given
 * ("RECOMMENDED ... random string ... @ host").
 */
export function generateCallId(host?: string): string {
  return host ? `${randomHex(16)}@${host}` : randomHex(16);
}
