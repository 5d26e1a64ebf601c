/**
 * Registration with a registrar (RFC 3261 §10): REGISTER binding our Contact to an address-of-record,
 * digest authentication on 401/407 (§22.2), refresh before expiry, back-off on failure, and removal
 * (Expires: 0) on shutdown. Calls to the AOR then arrive as ordinary INVITEs to our Contact.
 *
 * §10.2.4: "a UA SHOULD use the same Call-ID for all registrations during a single boot cycle" and the
 * CSeq increases by one per REGISTER. §10.2.1.1: the expiration "can be suggested" by an Expires header;
 * the registrar's 200 lists the bindings, each Contact with an `expires` parameter (§10.3 step 8), which
 * wins over the Expires header. §10.2.8: 423 (Interval Too Brief) carries Min-Expires: retry with it.
 *
 * States: unregistered → registering → registered (refresh: registering again) | failed (retrying after
 * the back-off: 5 s doubling to 300 s); stop(): unregistering → unregistered.
 */
import { Headers, SipRequest, type SipResponse } from "../message/index.ts";
import { generateCallId, generateTag } from "../message/ids.ts";
import { DigestError, buildDigestAuthorization, parseDigestChallenge, type DigestCredentials } from "./digest.ts";
import type { UaContext } from "./context.ts";
import type { TimerHandle } from "../../util/clock.ts";

export type RegistrationState = "unregistered" | "registering" | "registered" | "failed" | "unregistering";

export interface RegistrationOptions {
  /** Where REGISTER goes: the registrar's address. */
  registrar: { host: string; port: number };
  /** Address-of-record, e.g. `sip:agent@example.com`; its host is the Request-URI (§10.2: "the domain"). */
  aor: string;
  credentials?: DigestCredentials;
  /** Requested binding lifetime, s (Expires). */
  expiresS: number;
  /** Called on every state change. */
  onState?: (state: RegistrationState, detail: { status?: number; expiresS?: number; reason?: string }) => void;
}

const BACKOFF_MIN_S = 5;
const BACKOFF_MAX_S = 300;

export class Registration {
  private readonly callId: string;
  private readonly fromTag = generateTag();
  private cseq = 0;
  private timer: TimerHandle | undefined;
  private backoffS = BACKOFF_MIN_S;
  private stopped = false;
  private _state: RegistrationState = "unregistered";
  /** Binding lifetime the registrar granted, s (0 before the first success). */
  grantedS = 0;
  /** Successful REGISTERs so far (initial and refreshes). */
  registrations = 0;
  lastStatus: number | undefined;

  constructor(
    private readonly ctx: UaContext,
    private readonly o: RegistrationOptions,
  ) {
    this.callId = generateCallId(o.registrar.host);
  }

  get state(): RegistrationState {
    return this._state;
  }

  /** Sends the first REGISTER. */
  start(): void {
    this.stopped = false;
    this.register(this.o.expiresS);
  }

  /** Removes the binding (Expires: 0) and stops refreshing; resolves on its final response or timeout. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.ctx.clock.clearTimer(this.timer);
    if (this._state !== "registered" && this._state !== "registering") return this.set("unregistered", {});
    this.set("unregistering", {});
    const status = await this.send(0);
    this.set("unregistered", { status });
  }

  private set(state: RegistrationState, detail: { status?: number; expiresS?: number; reason?: string }): void {
    this._state = state;
    this.o.onState?.(state, detail);
  }

  private async register(expiresS: number): Promise<void> {
    if (this.stopped) return;
    this.set("registering", {});
    let res: SipResponse | undefined;
    try {
      res = await this.sendFull(expiresS);
    } catch {
      res = undefined;
    }
    if (this.stopped) return;
    this.lastStatus = res?.status ?? 408;
    if (res && res.status === 423) {
      const min = Number(res.headers.get("Min-Expires"));
      if (Number.isFinite(min) && min > expiresS && min <= 86_400) return void this.register(min);
    }
    if (res && res.status >= 200 && res.status < 300) {
      const granted = grantedExpires(res, this.ctx.contactHeader) ?? expiresS;
      this.grantedS = granted;
      this.registrations++;
      this.backoffS = BACKOFF_MIN_S;
      this.set("registered", { status: res.status, expiresS: granted });
      // Refresh ahead of expiry: 30 s before, or half-way for short bindings.
      const refreshS = granted > 60 ? granted - 30 : Math.max(1, granted / 2);
      this.timer = this.ctx.clock.setTimer(refreshS * 1000, () => void this.register(expiresS));
      return;
    }
    this.set("failed", { status: this.lastStatus, reason: res?.reason ?? "no response" });
    const wait = this.backoffS;
    this.backoffS = Math.min(BACKOFF_MAX_S, this.backoffS * 2);
    this.timer = this.ctx.clock.setTimer(wait * 1000, () => void this.register(expiresS));
  }

  /** One REGISTER exchange (with at most one digest retry, or more for stale nonces); the final status. */
  private async send(expiresS: number): Promise<number> {
    try {
      return (await this.sendFull(expiresS))?.status ?? 408;
    } catch {
      return 408;
    }
  }

  private async sendFull(expiresS: number): Promise<SipResponse | undefined> {
    let auth: [string, string] | undefined;
    for (let attempt = 0; attempt < 4; attempt++) {
      const req = this.request(expiresS, auth);
      const res = await this.transact(req);
      if (!res || (res.status !== 401 && res.status !== 407)) return res;
      const next = this.answer(res, req, attempt);
      if (!next) return res;
      auth = next;
    }
    return undefined;
  }

  private answer(res: SipResponse, req: SipRequest, attempt: number): [string, string] | undefined {
    const creds = this.o.credentials;
    if (!creds) return undefined;
    const [challengeHeader, answerHeader] = res.status === 401 ? ["WWW-Authenticate", "Authorization"] : ["Proxy-Authenticate", "Proxy-Authorization"];
    for (const v of res.headers.getAll(challengeHeader)) {
      try {
        const c = parseDigestChallenge(v);
        if (creds.realm !== undefined && creds.realm !== c.realm) continue;
        // A second challenge that is not stale: the credentials were refused.
        if (attempt >= 1 && !c.stale) return undefined;
        return [answerHeader, buildDigestAuthorization(c, creds, "REGISTER", req.uri)];
      } catch (e) {
        if (!(e instanceof DigestError)) throw e;
      }
    }
    return undefined;
  }

  private request(expiresS: number, auth?: [string, string]): SipRequest {
    const host = this.o.aor.replace(/^sips?:(?:[^@]*@)?/, "").split(/[;>]/)[0]!;
    const h = new Headers();
    h.append("Max-Forwards", "70");
    h.append("To", `<${this.o.aor}>`);
    h.append("From", `<${this.o.aor}>;tag=${this.fromTag}`);
    h.append("Call-ID", this.callId);
    h.append("CSeq", `${++this.cseq} REGISTER`);
    h.append("Contact", this.ctx.contactHeader);
    h.append("Expires", String(expiresS));
    h.append("User-Agent", this.ctx.userAgent);
    if (auth) h.append(auth[0], auth[1]);
    h.append("Content-Length", "0");
    const req = new SipRequest("REGISTER", `sip:${host}`, h);
    this.ctx.addVia(req);
    return req;
  }

  private transact(req: SipRequest): Promise<SipResponse | undefined> {
    return new Promise((resolve) => {
      this.ctx.layer.createNonInviteClient(req, this.o.registrar, {
        onResponse: (r) => {
          if (r.status >= 200) resolve(r);
        },
        onTimeout: () => resolve(undefined),
      });
    });
  }
}

/** The lifetime the 200 grants our binding: our Contact's `expires`, else the Expires header (§10.2.4). */
export function grantedExpires(res: SipResponse, ourContact: string): number | undefined {
  const ours = ourContact.replace(/^<|>$/g, "").toLowerCase();
  for (const c of res.headers.getAll("Contact")) {
    for (const part of c.split(/,(?=\s*<)/)) {
      const uri = /<([^>]+)>/.exec(part)?.[1]?.toLowerCase();
      const exp = /;\s*expires\s*=\s*(\d+)/i.exec(part)?.[1];
      if (uri === ours && exp !== undefined) return Number(exp);
    }
  }
  const e = res.headers.get("Expires");
  return e !== undefined && /^\d+$/.test(e.trim()) ? Number(e.trim()) : undefined;
}
