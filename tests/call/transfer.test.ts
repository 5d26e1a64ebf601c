import { describe, expect, test } from "bun:test";
import { blindTransfer, parseTransferTargets, referUri } from "../../src/call/transfer";
import { sipfragStatus } from "../../src/sip/ua/refer";
import { loadConfig } from "../../src/cli/config";
import { FakeClock } from "../../src/util/clock";
import type { TransferRecord } from "../../src/pipeline/call-record";

describe("TRANSFER_TARGETS", () => {
  test("name=uri pairs: SIP URIs and E.164 numbers; E.164 goes to the peer's host", () => {
    const t = parseTransferTargets("sales=sip:sales@pbx.example.com, desk = +14155550123 ,");
    expect([...t]).toEqual([["sales", "sip:sales@pbx.example.com"], ["desk", "+14155550123"]]);
    expect(referUri(t.get("desk")!, "trunk.example.net")).toBe("sip:+14155550123@trunk.example.net");
    expect(referUri(t.get("sales")!, "x")).toBe("sip:sales@pbx.example.com");
  });
  test("bad entries name themselves; config names the variable", () => {
    expect(() => parseTransferTargets("sales")).toThrow(/"sales"/);
    expect(() => parseTransferTargets("sales=4155550123")).toThrow(/E\.164/);
    expect(() => parseTransferTargets("a=+14155550123,a=+14155550124")).toThrow(/twice/);
    expect(() => loadConfig({ TRANSFER_TARGETS: "x=y" })).toThrow(/TRANSFER_TARGETS/);
  });
  test("sipfrag status line", () => {
    expect(sipfragStatus("SIP/2.0 486 Busy Here\r\n")).toBe(486);
    expect(sipfragStatus("garbage")).toBeUndefined();
  });
});

describe("blindTransfer", () => {
  function fakeCall(referStatus: number) {
    let listener: ((n: { status: number | undefined; terminated: boolean }) => void) | undefined;
    return {
      notify: (status: number | undefined, terminated = false) => listener?.({ status, terminated }),
      refer: async () => referStatus,
      on: (_e: "referNotify", fn: typeof listener) => ((listener = fn), () => (listener = undefined)),
    };
  }
  const run = (call: ReturnType<typeof fakeCall>, clock = new FakeClock()) => {
    const seen: TransferRecord[] = [];
    const p = blindTransfer({ call, uri: "sip:a@b", target: "a", clock, notifyTimeoutMs: 1000, onRecord: (r) => seen.push({ ...r }) });
    return { p, seen, clock };
  };
  test("202 then sipfrag 100, 200 → transferred", async () => {
    const call = fakeCall(202);
    const { p, seen } = run(call);
    await Promise.resolve();
    call.notify(100);
    call.notify(200, true);
    expect(await p).toMatchObject({ outcome: "transferred", referStatus: 202, finalStatus: 200 });
    expect(seen[0]!.outcome).toBe("pending");
  });
  test("REFER refused → refused; no NOTIFY in time → no_notify; 603 → failed", async () => {
    expect((await run(fakeCall(403)).p).outcome).toBe("refused");
    const slow = run(fakeCall(202));
    await Promise.resolve();
    await Promise.resolve();
    slow.clock.advance(1000);
    expect((await slow.p).outcome).toBe("no_notify");
    const busy = fakeCall(202);
    const b = run(busy);
    await Promise.resolve();
    busy.notify(603, true);
    expect(await b.p).toMatchObject({ outcome: "failed", finalStatus: 603 });
  });
});
