/**
 * The one send rule of every RTP send path (src/rtp/send-path.ts `mayTransmit`): our direction lets us
 * send (RFC 3264 §6.1) and the destination is not a hold address (port 0, 0.0.0.0, `::`; RFC 3264 §8.4).
 * The table, then each of the three paths — the in-thread LocalSendPath, the media worker's WorkerStream,
 * and WorkerSendPath (the call thread's report of what the worker will do) — checked against it for
 * every direction × destination with a socket that records what really went out.
 */
import { describe, expect, test } from "bun:test";
import { LocalSendPath, mayTransmit, packetBytesOf, packetSpans, type MediaDirection, type SendFormat } from "../../src/rtp/send-path.ts";
import { FrameRing } from "../../src/rtp/worker/frame-ring.ts";
import { WorkerSendPath } from "../../src/rtp/worker/send-path-worker.ts";
import { WorkerStream } from "../../src/rtp/worker/worker-stream.ts";
import type { RtpEndpoint } from "../../src/rtp/symmetric-latch.ts";

const DIRECTIONS: MediaDirection[] = ["sendrecv", "sendonly", "recvonly", "inactive"];
const DESTS: Array<[string, RtpEndpoint, boolean]> = [
  ["127.0.0.1:4000", { address: "127.0.0.1", port: 4000 }, true],
  ["::1 port 4000", { address: "::1", port: 4000 }, true],
  ["0.0.0.0 (RFC 2543 hold)", { address: "0.0.0.0", port: 4000 }, false],
  [":: (IPv6 hold)", { address: "::", port: 4000 }, false],
  ["port 0", { address: "127.0.0.1", port: 0 }, false],
];
const format = (direction: MediaDirection): SendFormat => ({ codec: "PCMU", mediaCodec: "PCMU", payloadType: 0, telephoneEventPt: 101, direction });
const frame = new Uint8Array(160).fill(0x55);
const recorder = () => {
  const sent: Array<{ port: number; address: string }> = [];
  return { sent, send: (_b: Uint8Array, port: number, address: string) => (sent.push({ port, address }), true) };
};

const cases = DIRECTIONS.flatMap((dir) => DESTS.map(([name, dest, usable]) => ({ dir, name, dest, want: usable && (dir === "sendrecv" || dir === "sendonly") })));

describe("mayTransmit: direction × destination", () => {
  test.each(cases.map((c) => [c.dir, c.name, c.want, c.dest] as const))("%s to %s → %p", (dir, _name, want, dest) => {
    expect(mayTransmit(dir, dest)).toBe(want);
  });
});

describe("every send path follows it", () => {
  test.each(cases.map((c) => [c.dir, c.name, c] as const))("%s to %s: LocalSendPath, WorkerStream and WorkerSendPath agree with the table", (_d, _n, c) => {
    const local = recorder();
    const path = new LocalSendPath(local, 1, { sequenceNumber: 0, timestamp: 0 }, format(c.dir), c.dest);
    expect(path.sendAudio(frame, true)).toBe(c.want);
    expect(local.sent).toHaveLength(c.want ? 1 : 0);
    expect(path.next.timestamp, "the timestamp advances whether sent or not").toBe(160);

    const worker = recorder();
    const ring = new FrameRing();
    const stream = new WorkerStream(worker, 2, { ssrc: 2, sequenceNumber: 0, timestamp: 0, format: format(c.dir), dest: c.dest }, ring.sab);
    stream.sendNow("audio", frame, true);
    expect(worker.sent).toHaveLength(c.want ? 1 : 0);
    if (c.want) expect(worker.sent[0]).toEqual({ port: c.dest.port, address: c.dest.address });

    const posted: unknown[] = [];
    const view = new WorkerSendPath({ post: (m) => posted.push(m) }, 3, 3, { sequenceNumber: 0, timestamp: 0 }, format(c.dir), c.dest);
    expect(view.sendAudio(frame, true), "what the call thread is told matches what the worker does").toBe(c.want);
    expect(posted.length).toBe(2); // "open", then the frame: the worker decides, with the same rule
  });
});

describe("a peer's a=maxptime below 20 ms (RFC 4566 §6): each 20 ms frame goes out as packets of at most that much", () => {
  const parse = (b: Uint8Array) => ({ marker: (b[1]! & 0x80) !== 0, seq: (b[2]! << 8) | b[3]!, ts: new DataView(b.buffer, b.byteOffset).getUint32(4), payload: b.length - 12 });
  const bytesRecorder = () => {
    const sent: Uint8Array[] = [];
    return { sent, send: (b: Uint8Array) => (sent.push(b.slice()), true) };
  };
  const dest = { address: "127.0.0.1", port: 4000 };
  const tenMs: SendFormat = { ...format("sendrecv"), packetBytes: packetBytesOf(10) };

  test("packetBytesOf and packetSpans: 10 ms → 80 bytes, two spans; 5 ms → 40, four; 20 ms or none → whole", () => {
    expect([packetBytesOf(10), packetBytesOf(5), packetBytesOf(20), packetBytesOf(undefined)]).toEqual([80, 40, undefined, undefined]);
    expect(packetSpans(160, 80)).toEqual([0, 80]);
    expect(packetSpans(160, 40)).toEqual([0, 40, 80, 120]);
    expect(packetSpans(160, undefined)).toEqual([0]);
    expect(packetSpans(160, 160)).toEqual([0]);
  });

  test("LocalSendPath and WorkerStream: two 80-byte packets per frame, consecutive sequence numbers and timestamps, the marker on the first only", () => {
    const local = bytesRecorder();
    const path = new LocalSendPath(local, 1, { sequenceNumber: 65535, timestamp: 1000 }, tenMs, dest);
    expect(path.sendAudio(frame, true)).toBe(true);
    expect(path.sendAudio(frame, false)).toBe(true);
    const worker = bytesRecorder();
    const ring = new FrameRing();
    const stream = new WorkerStream(worker, 2, { ssrc: 2, sequenceNumber: 65535, timestamp: 1000, format: tenMs, dest }, ring.sab);
    stream.sendNow("audio", frame, true);
    stream.sendNow("audio", frame, false);
    for (const sent of [local.sent, worker.sent]) {
      expect(sent.map(parse)).toEqual([
        { marker: true, seq: 65535, ts: 1000, payload: 80 },
        { marker: false, seq: 0, ts: 1080, payload: 80 },
        { marker: false, seq: 1, ts: 1160, payload: 80 },
        { marker: false, seq: 2, ts: 1240, payload: 80 },
      ]);
    }
    expect(path.next).toEqual({ sequenceNumber: 3, timestamp: 1320 });
  });

  test("a renegotiation back to 20 ms (configure without packetBytes) sends whole frames again", () => {
    const local = bytesRecorder();
    const path = new LocalSendPath(local, 1, { sequenceNumber: 0, timestamp: 0 }, tenMs, dest);
    path.sendAudio(frame, false);
    path.configure(format("sendrecv"));
    path.sendAudio(frame, false);
    expect(local.sent.map(parse).map((p) => [p.seq, p.ts, p.payload])).toEqual([[0, 0, 80], [1, 80, 80], [2, 160, 160]]);
  });
});
