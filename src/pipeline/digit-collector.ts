/**
 * Groups DTMF key presses into one caller input: a group ends on the terminator key (`#`, kept in the
 * text so the dialogue can tell "1#" from "1"), on reaching `maxDigits` keys (0 = no limit), or when no
 * key came for `interDigitMs` (ms) after the last one. Keys come from RFC 4733 events (src/rtp/session.ts)
 * or SIP INFO (src/sip/ua/dtmf-info.ts), one call per key.
 */
import type { Clock, TimerHandle } from "../util/clock";

export interface DigitCollectorSettings {
  /** ms without a new key that ends the group. */
  interDigitMs: number;
  /** Keys that end a group at once (0 = only the terminator and the timeout). */
  maxDigits: number;
  /** Key that ends a group at once; "" for none. */
  terminator: string;
}

export const DEFAULT_DIGIT_COLLECTION: DigitCollectorSettings = { interDigitMs: 2000, maxDigits: 0, terminator: "#" };

export class DigitCollector {
  private keys = "";
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private settings: DigitCollectorSettings,
    private readonly onComplete: (keys: string) => void,
  ) {}

  /** New settings (a dialogue step's own grouping); applies from the next key. */
  configure(settings: DigitCollectorSettings): void {
    this.settings = settings;
  }

  /** Keys pressed and not yet handed on. */
  get pending(): string {
    return this.keys;
  }

  /** One key ("0"–"9", "*", "#", "A"–"D"); other events (flash) are ignored. */
  press(key: string): void {
    if (!/^[0-9*#A-D]$/.test(key)) return;
    this.keys += key;
    this.cancelTimer();
    const s = this.settings;
    if ((s.terminator && key === s.terminator) || (s.maxDigits > 0 && this.keys.length >= s.maxDigits)) return this.complete();
    this.timer = this.clock.setTimer(s.interDigitMs, () => this.complete());
  }

  /** Drops pending keys and the timer. */
  dispose(): void {
    this.cancelTimer();
    this.keys = "";
  }

  private complete(): void {
    this.cancelTimer();
    const keys = this.keys;
    this.keys = "";
    if (keys) this.onComplete(keys);
  }

  private cancelTimer(): void {
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }
}
