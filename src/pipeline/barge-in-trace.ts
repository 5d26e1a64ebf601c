/**
 * The last frames the speech detector judged, kept for the barge-in decision's log line
 * (BargeInTrace.frames), so a slow decision on a live call can be read frame by frame afterwards.
 * A fixed ring of typed numbers: nothing is allocated per frame; the text is built only at a decision.
 * Units: one entry per 20 ms frame; probabilities 0…1; levels dBFS.
 */
const FIELDS = 4;

export class FrameTrace {
  private readonly ring: Float32Array;
  private n = 0;

  /** @param size frames kept (default 40: 800 ms) */
  constructor(private readonly size = 40) {
    this.ring = new Float32Array(size * FIELDS);
  }

  /**
   * Notes one frame: `p` main stream, `q` confirming stream (undefined without one; null: no window ended),
   * `echo` taken for echo, `agent` the agent was talking, `db` its level (frameDbfs; 0 when not measured).
   */
  note(p: number | null, q: number | null | undefined, echo: boolean, agent: boolean, db: number): void {
    const i = (this.n++ % this.size) * FIELDS;
    this.ring[i] = p ?? -1;
    this.ring[i + 1] = q === undefined ? -2 : q ?? -1;
    this.ring[i + 2] = (echo ? 1 : 0) + (agent ? 2 : 0);
    this.ring[i + 3] = Number.isFinite(db) ? db : -99;
  }

  /**
   * The frames kept, oldest first, space-separated; each: p and q ×9 rounded ("-" no window, "_" no
   * confirming stream), then "E" echo or "." counted, "~" if the agent was silent, then −level dB.
   */
  text(): string {
    const out: string[] = [];
    for (let k = Math.max(0, this.n - this.size); k < this.n; k++) {
      const i = (k % this.size) * FIELDS;
      const d = (x: number) => (x === -2 ? "_" : x < 0 ? "-" : String(Math.round(x * 9)));
      const f = this.ring[i + 2]!;
      out.push(`${d(this.ring[i]!)}${d(this.ring[i + 1]!)}${f & 1 ? "E" : "."}${f & 2 ? "" : "~"}${Math.round(-this.ring[i + 3]!)}`);
    }
    return out.join(" ");
  }
}
