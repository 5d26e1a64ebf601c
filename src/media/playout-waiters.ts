/**
 * The promises a Playout (playout.ts) hands out and settles as it sends: `waitForPlayout()` (every frame
 * queued before the call has been sent or dropped) and `captureFrame()`'s back-pressure (room below the
 * high-water mark, src/media/audio-output.ts). Checked every 20 ms tick: nothing is allocated until a
 * waiter is due.
 */
export class PlayoutWaiters {
  /** `waitForPlayout` promises: resolved once the frames done reach `target`. */
  private frames: { target: number; resolve: () => void }[] = [];
  /** `captureFrame` promises waiting for room below the high-water mark. */
  private room: (() => void)[] = [];

  /** Resolves once `settle` reports at least `target` frames done. */
  forFrames(target: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.frames.push({ target, resolve });
    return promise;
  }

  /** Resolves once `settle` reports room. */
  forRoom(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.room.push(resolve);
    return promise;
  }

  /** `doneFrames`: frames sent or dropped so far; `hasRoom`: below the high-water mark (or closed). */
  settle(doneFrames: number, hasRoom: boolean): void {
    if (this.room.length > 0 && hasRoom) {
      for (const r of this.room.splice(0)) r();
    }
    if (this.frames.length === 0) return;
    let due = false;
    for (const w of this.frames) if (doneFrames >= w.target) due = true;
    if (!due) return;
    const still: typeof this.frames = [];
    for (const w of this.frames) {
      if (doneFrames >= w.target) w.resolve();
      else still.push(w);
    }
    this.frames = still;
  }
}
