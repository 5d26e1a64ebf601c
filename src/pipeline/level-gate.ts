/**
 * The speech detector's level rules (src/pipeline/speech-detector.ts; the rules and their measurements
 * are in caller-level.ts): while the agent talks, speech interrupts only when some frame of it is
 *  - at the caller's own level (CallerLevel, learned while the agent was silent), once that is known;
 *  - before that, at or over the first-turn floor (DetectorOptions.firstTurnFloorDbfs; its level measure
 *    pre-emphasised by `firstTurnTilt`), when the floor is on.
 * A frame's level is the highest of the last 60 ms (Silero's probability lags the audio by a window).
 * Units: PCM16 frames at 8000 Hz (160 samples), dBFS.
 */
import { CallerLevel, DEFAULT_CALLER_LEVEL, DEFAULT_FIRST_TURN_FLOOR_DBFS, DEFAULT_FIRST_TURN_TILT, frameDbfs, max60, tiltedDbfs } from "./caller-level";
import type { DetectorOptions } from "./detector-options";

/** A frame's levels, measured when it is pushed (frameDbfs; tiltedDbfs for the first-turn floor), dBFS; 0 when not needed. */
export interface FrameLevels {
  dbfs: number;
  tilt: number;
}

/** How the level rules judged a frame (LevelGate.judge). */
export interface LevelJudgement {
  /** The frame (its last 60 ms) is at the caller's level, or over the floor; true when no rule judges. */
  atLevel: boolean;
  /** A level rule judges speech over the agent (the caller's level is known, or the floor is on). */
  judged: boolean;
  /** The caller's level is known. */
  known: boolean;
}

export class LevelGate {
  /** The caller's own level (DetectorOptions.callerLevel); null when off. */
  readonly callerLevel: CallerLevel | null;
  /** DetectorOptions.firstTurnFloorDbfs, dBFS; null when off. */
  private readonly floorDbfs: number | null;
  private readonly tilt: number;
  /** Levels of the two frames before this one, dBFS. */
  private readonly prevDb = [-Infinity, -Infinity];
  private readonly prevTilt = [-Infinity, -Infinity];
  /** The last sample measured (tiltedDbfs's `prev`). */
  private lastSample = 0;

  constructor(opts: Pick<DetectorOptions, "callerLevel" | "firstTurnFloorDbfs" | "firstTurnTilt">) {
    this.callerLevel = opts.callerLevel === null ? null : new CallerLevel({ ...DEFAULT_CALLER_LEVEL, ...opts.callerLevel });
    this.floorDbfs = opts.firstTurnFloorDbfs === undefined ? DEFAULT_FIRST_TURN_FLOOR_DBFS : opts.firstTurnFloorDbfs;
    this.tilt = opts.firstTurnTilt ?? DEFAULT_FIRST_TURN_TILT;
  }

  /** Measures a frame as it is pushed (in arrival order). */
  measure(pcm: Int16Array): FrameLevels {
    const dbfs = this.callerLevel || this.floorDbfs !== null ? frameDbfs(pcm) : 0;
    const tilt = this.floorDbfs !== null ? tiltedDbfs(pcm, this.lastSample, this.tilt) : 0;
    this.lastSample = pcm[pcm.length - 1] ?? 0;
    return { dbfs, tilt };
  }

  /** Judges a frame when its probabilities arrive (in arrival order; every frame, to keep the 60 ms levels). */
  judge(l: FrameLevels, agentSpeaking: boolean): LevelJudgement {
    const recent = max60(this.prevDb, l.dbfs);
    const recentTilt = max60(this.prevTilt, l.tilt);
    const known = this.callerLevel?.levelDb !== undefined;
    const floorOn = !known && this.floorDbfs !== null;
    const atLevel = known ? this.callerLevel!.atCallerLevel(recent) : !floorOn || !agentSpeaking || recentTilt >= this.floorDbfs!;
    return { atLevel, judged: known || floorOn, known };
  }

  /** Learns the caller's level from a frame of their speech heard while the agent was silent. */
  learn(l: FrameLevels): void {
    this.callerLevel?.learn(l.dbfs);
  }

  /** A frame at the caller's known level counts towards a barge-in from the band's lower edge (CallerLevelSettings.ease). */
  eases(j: LevelJudgement): boolean {
    return this.callerLevel?.settings.ease === true && j.known && j.atLevel;
  }
}
