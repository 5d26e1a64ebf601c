import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CallRecorder, pruneRecordings, recordingFile } from "../../src/call/recording";
import { FakeClock } from "../../src/util/clock";

const log = { info() {}, warn() {}, error() {}, debug() {} } as any;
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "va-rec-"));
  dirs.push(d);
  return d;
};

/** A 20 ms frame of constant value `v`. */
const frame = (v: number) => new Int16Array(160).fill(v);

/** Reads a stereo WAV; `live`: still being written (the data may run ahead of the header's sizes). */
function readStereo(path: string, live = false) {
  const b = readFileSync(path);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  expect(b.subarray(0, 4).toString()).toBe("RIFF");
  expect(b.subarray(8, 12).toString()).toBe("WAVE");
  expect(v.getUint16(22, true)).toBe(2); // channels
  expect(v.getUint32(24, true)).toBe(8000);
  expect(v.getUint16(34, true)).toBe(16);
  const dataBytes = v.getUint32(40, true);
  expect(v.getUint32(4, true)).toBe(36 + dataBytes);
  if (live) expect(b.length).toBeGreaterThanOrEqual(44 + dataBytes);
  else expect(b.length).toBe(44 + dataBytes);
  const n = dataBytes / 4;
  const left = new Int16Array(n);
  const right = new Int16Array(n);
  for (let i = 0; i < n; i++) (left[i] = v.getInt16(44 + i * 4, true)), (right[i] = v.getInt16(46 + i * 4, true));
  return { left, right, n };
}

describe("CallRecorder", () => {
  test("caller left, agent right, on the wall clock: a side's silence and gaps are kept as silence", async () => {
    const dir = tmp();
    const clock = new FakeClock(1000);
    const rec = CallRecorder.open({ dir, callId: "c1", clock, log, flushMs: 200 });
    // 0–1 s: the caller speaks (value 100); 1–1.5 s: nothing from anyone; 1.5–2 s: the agent (value -200).
    for (let t = 0; t < 50; t++) (clock.advance(20), rec.caller(frame(100)));
    clock.advance(500);
    for (let t = 0; t < 25; t++) (clock.advance(20), rec.agent(frame(-200)));
    // While the call goes on, the file on disk is already a valid WAV with what was flushed (written
    // asynchronously: waited for, up to 5 s on a busy machine).
    const path = join(dir, recordingFile("c1"));
    const headerFrames = () => (existsSync(path) && statSync(path).size >= 44 ? readFileSync(path).readUInt32LE(40) / 4 : 0);
    for (let i = 0; i < 500 && headerFrames() <= 8000; i++) await Bun.sleep(10);
    const during = readStereo(path, true);
    expect(during.n).toBeGreaterThan(8000); // flushed up to ~300 ms behind the clock
    await rec.close();
    const { left, right, n } = readStereo(join(dir, recordingFile("c1")));
    expect(n).toBe(2 * 8000); // 2 s of call = 2 s of file
    const at = (ms: number) => ms * 8;
    expect(left[at(10)]).toBe(100);
    expect(left[at(990)]).toBe(100);
    expect(left[at(1200)]).toBe(0);
    expect(left[at(1800)]).toBe(0);
    expect(right[at(500)]).toBe(0);
    expect(right[at(1400)]).toBe(0);
    expect(right[at(1510)]).toBe(-200);
    expect(right[at(1990)]).toBe(-200);
  });

  test("frames arriving in a burst keep their order and are not stretched; close is idempotent", async () => {
    const dir = tmp();
    const clock = new FakeClock(0);
    const rec = CallRecorder.open({ dir, callId: "c2", clock, log });
    clock.advance(100);
    for (let i = 1; i <= 5; i++) rec.caller(frame(i)); // 100 ms of audio at once (jitter)
    await Promise.all([rec.close(), rec.close()]);
    const { left, n } = readStereo(join(dir, recordingFile("c2")));
    // The first frame ends where it arrived (100 ms); the four behind it follow without a gap.
    expect(n).toBe(640 + 5 * 160);
    expect(left[600]).toBe(0);
    expect([0, 1, 2, 3, 4].map((k) => left[640 + k * 160 + 5])).toEqual([1, 2, 3, 4, 5]);
  });

  test("an unwritable folder: logged, the call goes on (no throw)", async () => {
    const file = join(tmp(), "not-a-dir");
    writeFileSync(file, "x");
    const errors: unknown[] = [];
    const rec = CallRecorder.open({ dir: file, callId: "c3", clock: new FakeClock(0), log: { ...log, error: (o: unknown) => errors.push(o) } });
    rec.caller(frame(1));
    await rec.close();
    expect(errors.length).toBe(1);
  });
});

test("pruneRecordings deletes recordings older than the retention, keeps the others", () => {
  const dir = tmp();
  const old = join(dir, "old.wav");
  const fresh = join(dir, "fresh.wav");
  writeFileSync(old, "x");
  writeFileSync(fresh, "x");
  const tenDaysAgo = (Date.now() - 10 * 86_400_000) / 1000;
  utimesSync(old, tenDaysAgo, tenDaysAgo);
  expect(pruneRecordings(dir, 7)).toBe(1);
  expect(existsSync(old)).toBe(false);
  expect(statSync(fresh).size).toBe(1);
  expect(pruneRecordings(join(dir, "missing"), 7)).toBe(0);
});
