import { expect, test } from "bun:test";
import { endedInWords } from "../../src/cli/caller";
import { BINARY, ensureBinary } from "../e2e/agent";
import { freeUdpPort } from "../support/ports";

test("the demo printout names how the call ended in plain words, never a reason code", () => {
  expect(endedInWords("remote_bye")).toBe("the agent hung up");
  expect(endedInWords("canceled")).toBe("the call was cancelled before it was answered");
  expect(endedInWords("rtp_timeout")).toBe("the call ended (rtp timeout)");
  expect(endedInWords("remote_bye")).not.toContain("_");
});

test("the compiled caller says why a call to an address where nobody listens failed, and exits 1", async () => {
  await ensureBinary();
  const port = await freeUdpPort();
  const p = Bun.spawn([BINARY, "call", `sip:agent@127.0.0.1:${port}`, "--say", "Hello"], { stdout: "pipe", stderr: "pipe" });
  const [code, out] = await Promise.all([p.exited, new Response(p.stdout).text()]);
  expect(out).toContain("call failed: nobody answers SIP at that address (ICMP port unreachable)");
  expect(code).toBe(1);
}, 30_000);
