/**
 * Groups DTMF key presses into one caller input: a group ends on the terminator key (`#`, kept in the
 * text so the dialogue can tell "1#" from "1"), on reaching `maxDigits` keys (0 = no limit), or when no
 * key came for `interDigitMs` (ms) after the last one. Keys come from RFC 4733 events (src/rtp/session.ts)
 * or SIP INFO (src/sip/ua/dtmf-info.ts), one call per key.
 *
 * Groups are handed on at most one per `MIN_GROUP_GAP_MS`: a group complete sooner after the previous one
 * is held until then, and keys pressed meanwhile join it. Each group is a caller turn, and each turn an
 * LLM request whose history holds every turn before it; a caller pressing `#` as fast as RTP carries it
 * made 291 requests in 10 s (395 keys, the request growing from 1.1 to 8.2 K characters: s19 fresheyes,
 * OpenAI-compatible fake), a cost that grows with the square of the call's length. A person entering keys
 * for a prompt is not affected: the next group answers the next prompt, seconds later.
 *
 * A group holds at most `MAX_GROUP_KEYS` keys; past that the oldest key is dropped for each new one (see
 * there). Each call has its own collector, so one caller's keys never touch another call's group.
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

/** Least time between two groups handed on, ms (a caller turn each; see above). */
export const MIN_GROUP_GAP_MS = 1000;

/**
 * Keys one group holds at most (64). Without a bound, a caller pressing keys without `#` for a whole call
 * made one turn of up to ~270,000 characters, stored whole in the call record (s22 fresheyes2: 16,000
 * RFC 4733 events in 8 s, policed, made one turn of 1,453 keys). 64 is the longest group DTMF_MAX_DIGITS and a script step's `maxDigits` can
 * ask for (both 0–64), over three times the longest number a person keys for a prompt (a 19-digit card
 * number; Asterisk's Read() takes at most 255).
 *
 * Overflow: the oldest key is dropped, the group goes on until the terminator, `maxDigits` or the pause
 * as before. Why not end the group at the bound: that makes a caller turn (an LLM request) the caller did
 * not ask for, and a keypad flood one request a second for the rest of the call; dropping the oldest keys
 * costs nothing, and the keys kept are the ones the caller pressed last — after a slip, a caller keys the
 * number again, and the group still ends on their `#`.
 */
export const MAX_GROUP_KEYS = 64;

export class DigitCollector {
  private keys = "";
  /** Keys dropped from the pending group by the MAX_GROUP_KEYS bound (reported with the group). */
  private dropped = 0;
  private timer: TimerHandle | undefined;
  /** When the last group was handed on (clock ms). */
  private lastAt = Number.NEGATIVE_INFINITY;
  /** A complete group waits for MIN_GROUP_GAP_MS: keys join it, the release timer hands it on. */
  private held = false;

  constructor(
    private readonly clock: Clock,
    private settings: DigitCollectorSettings,
    /** A complete group: its keys (≤ MAX_GROUP_KEYS) and how many older ones the bound dropped from it. */
    private readonly onComplete: (keys: string, dropped: number) => void,
    private readonly minGapMs = MIN_GROUP_GAP_MS,
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
    if (this.keys.length > MAX_GROUP_KEYS) {
      this.keys = this.keys.slice(-MAX_GROUP_KEYS);
      this.dropped++;
    }
    if (this.held) return; // joins the held group, handed on by its release timer
    this.cancelTimer();
    const s = this.settings;
    if ((s.terminator && key === s.terminator) || (s.maxDigits > 0 && this.keys.length >= s.maxDigits)) return this.complete();
    this.timer = this.clock.setTimer(s.interDigitMs, () => this.complete());
  }

  /** Drops pending keys and the timer. */
  dispose(): void {
    this.cancelTimer();
    this.keys = "";
    this.dropped = 0;
    this.held = false;
  }

  private complete(): void {
    this.cancelTimer();
    const now = this.clock.now();
    const wait = this.lastAt + this.minGapMs - now;
    if (this.keys && wait > 0) {
      this.held = true;
      this.timer = this.clock.setTimer(wait, () => {
        this.held = false;
        this.complete();
      });
      return;
    }
    const keys = this.keys;
    const dropped = this.dropped;
    this.keys = "";
    this.dropped = 0;
    if (!keys) return;
    this.lastAt = now;
    this.onComplete(keys, dropped);
  }

  private cancelTimer(): void {
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }
}
