import { describe, expect, test } from "bun:test";
import { RefusedInvites } from "../../src/sip/ua/refused-invites.ts";

const busy = { status: 503, headers: [["Retry-After", "5"]] as Array<[string, string]> };

describe("RefusedInvites: screening's stateless refusals remembered for 64·T1, bounded", () => {
  test("a refusal is found until ttl ms after it was sent, then forgotten", () => {
    let now = 0;
    const r = new RefusedInvites(() => now, 32_000);
    r.remember("k1", busy);
    now = 31_999;
    expect(r.get("k1")).toEqual(busy);
    expect(r.get("k2")).toBeUndefined();
    now = 32_000;
    expect(r.get("k1")).toBeUndefined();
    expect(r.size).toBe(0);
  });

  test("remembering again (the retransmission refused again) restarts its time", () => {
    let now = 0;
    const r = new RefusedInvites(() => now, 1_000);
    r.remember("k", busy);
    now = 900;
    r.remember("k", busy);
    now = 1_800;
    expect(r.get("k")).toEqual(busy);
  });

  test("a flood keeps at most max refusals, the oldest forgotten first; expired ones go as new ones come", () => {
    let now = 0;
    const r = new RefusedInvites(() => now, 1_000, 3);
    for (const k of ["a", "b", "c", "d"]) r.remember(k, busy);
    expect(r.size).toBe(3);
    expect(r.get("a")).toBeUndefined();
    expect(r.get("d")).toEqual(busy);
    now = 1_000;
    r.remember("e", busy);
    expect(r.size).toBe(1);
    for (let i = 0; i < 10_000; i++) r.remember(`f${i}`, busy);
    expect(r.size).toBe(3);
  });
});
