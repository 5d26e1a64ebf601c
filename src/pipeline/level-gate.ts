/**
 * The speech detector's level rules (src/pipeline/speech-detector.ts; the rules and their measurements
 * are in caller-level.ts): while the agent talks, speech interrupts only when some frame of it is
 *  - at the caller's own level (CallerLevel, learned while the agent was silent), once that is known;
 *  - at or over the first-turn floor (DetectorOptions.firstTurnFloorDbfs), when the floor is on: before
 *    the caller's level is known, and with `floorAlways` after that too (both rules then); measured by `firstTurnMeasure`: the peak sample ("peak"), or the level pre-emphasised by
 *    `firstTurnTilt` ("tilt").
 * A frame's level is the highest of the last 60 ms (Silero's probability lags the audio by a window); for
 * the floor, of the last `floorWindowMs` (200 ms: Silero can call a quiet onset speech that long after its
 * loudest frame; caller-level.ts DEFAULT_FLOOR_WINDOW_MS).
 * While the agent talks, levels are those of the frame with our echo taken out (EchoDecision's residual)
 * where the echo decision gives them: our echo summed with a quiet voice must not lift it over a rule.
 * Units: PCM16 frames at 8000 Hz (160 samples), dBFS.
 */
import {
  CallerLevel, DEFAULT_CALLER_LEVEL, DEFAULT_FIRST_TURN_FLOOR_DBFS, DEFAULT_FIRST_TURN_MEASURE, DEFAULT_FIRST_TURN_TILT, DEFAULT_FLOOR_ALWAYS, DEFAULT_FLOOR_WINDOW_MS, DEFAULT_TILT_FLOOR_DBFS, frameDbfs, max60, peakDbfs, tiltedDbfs,
} from "./caller-level";
import type { DetectorOptions } from "./detector-options";


/** The highest of `db` and the levels before it in `ring` (which it then updates), dBFS. */
function maxOver(ring: Float64Array, at: number, db: number): number {
  ring[at % ring.length] = db;
  let m = -Infinity;
  for (let i = 0; i < ring.length; i++) if (ring[i]! > m) m = ring[i]!;
  return m;
}

/** A frame's levels, measured when it is pushed, dBFS; 0 when not needed. */
export interface FrameLevels {
  /** Energy mean (frameDbfs), our echo taken out where known. */
  dbfs: number;
  /** The first-turn floor's measure: peak sample (echo taken out where known) or tiltedDbfs. */
  floor: number;
  /** tiltedDbfs, for the second floor (DetectorOptions.tiltFloorDbfs); 0 when off. */
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
  /** The level floor judges (it is on: before the caller's level is known, or `floorAlways`). */
  floorOn: boolean;
}

export class LevelGate {
  /** The caller's own level (DetectorOptions.callerLevel); null when off. */
  readonly callerLevel: CallerLevel | null;
  /** DetectorOptions.firstTurnFloorDbfs, dBFS; null when off. */
  private readonly floorDbfs: number | null;
  private readonly tilt: number | null;
  /** DetectorOptions.floorAlways. */
  private readonly floorAlways: boolean;
  /** Levels of the two frames before this one, dBFS. */
  private readonly prevDb = [-Infinity, -Infinity];
  private readonly prevFloor: Float64Array;
  private readonly prevTilt: Float64Array;
  /** Frames judged (the rings' write position). */
  private judged = 0;
  /** DetectorOptions.tiltFloorDbfs, dBFS; null when off. */
  private readonly tiltFloorDbfs: number | null;
  /** The last sample measured (tiltedDbfs's `prev`). */
  private lastSample = 0;

  constructor(opts: Pick<DetectorOptions, "callerLevel" | "firstTurnFloorDbfs" | "firstTurnMeasure" | "firstTurnTilt" | "floorAlways" | "tiltFloorDbfs" | "floorWindowMs">) {
    const window = Math.max(1, Math.round((opts.floorWindowMs ?? DEFAULT_FLOOR_WINDOW_MS) / 20));
    this.prevFloor = new Float64Array(window).fill(-Infinity);
    this.prevTilt = new Float64Array(window).fill(-Infinity);
    this.floorAlways = opts.floorAlways ?? DEFAULT_FLOOR_ALWAYS;
    this.tiltFloorDbfs = opts.tiltFloorDbfs === undefined ? DEFAULT_TILT_FLOOR_DBFS : opts.tiltFloorDbfs;
    this.callerLevel = opts.callerLevel === null ? null : new CallerLevel({ ...DEFAULT_CALLER_LEVEL, ...opts.callerLevel });
    this.floorDbfs = opts.firstTurnFloorDbfs === undefined ? DEFAULT_FIRST_TURN_FLOOR_DBFS : opts.firstTurnFloorDbfs;
    this.tilt = (opts.firstTurnMeasure ?? DEFAULT_FIRST_TURN_MEASURE) === "tilt" ? (opts.firstTurnTilt ?? DEFAULT_FIRST_TURN_TILT) : null;
  }

  /**
   * Measures a frame as it is pushed (in arrival order).
   * @param residualDbfs, residualPeakDbfs, residualTiltDbfs the frame with our echo taken out (EchoDecision), when known
   */
  measure(pcm: Int16Array, residualDbfs?: number, residualPeakDbfs?: number, residualTiltDbfs?: number): FrameLevels {
    const dbfs = this.callerLevel || this.floorDbfs !== null ? (residualDbfs ?? frameDbfs(pcm)) : 0;
    let floor = 0;
    if (this.floorDbfs !== null) floor = this.tilt === null ? (residualPeakDbfs ?? peakDbfs(pcm)) : tiltedDbfs(pcm, this.lastSample, this.tilt);
    const tilt = this.floorDbfs !== null && this.tiltFloorDbfs !== null ? (residualTiltDbfs ?? tiltedDbfs(pcm, this.lastSample, DEFAULT_FIRST_TURN_TILT)) : 0;
    this.lastSample = pcm[pcm.length - 1] ?? 0;
    return { dbfs, floor, tilt };
  }

  /** Judges a frame when its probabilities arrive (in arrival order; every frame, to keep the 60 ms levels). */
  judge(l: FrameLevels, agentSpeaking: boolean): LevelJudgement {
    const recent = max60(this.prevDb, l.dbfs);
    const recentFloor = maxOver(this.prevFloor, this.judged, l.floor);
    const recentTilt = maxOver(this.prevTilt, this.judged++, l.tilt);
    const known = this.callerLevel?.levelDb !== undefined;
    const floorOn = (!known || this.floorAlways) && this.floorDbfs !== null;
    const overFloor = !floorOn || !agentSpeaking || recentFloor >= this.floorDbfs! || (this.tiltFloorDbfs !== null && recentTilt >= this.tiltFloorDbfs);
    const atLevel = overFloor && (!known || this.callerLevel!.atCallerLevel(recent));
    return { atLevel, judged: known || floorOn, known, floorOn };
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
