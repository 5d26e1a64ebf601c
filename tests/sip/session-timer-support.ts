/** Re-exports for the session timer tests. */
export { parseMessage, type SipRequest, type SipResponse } from "../../src/sip/index.ts";
export { parseSessionExpires as parseSessionExpiresForTest } from "../../src/sip/ua/session-timer.ts";
