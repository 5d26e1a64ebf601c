import { expect, test } from "bun:test";
import { endedInWords } from "../../src/cli/caller";

test("the demo printout names how the call ended in plain words, never a reason code", () => {
  expect(endedInWords("remote_bye")).toBe("the agent hung up");
  expect(endedInWords("canceled")).toBe("the call was cancelled before it was answered");
  expect(endedInWords("rtp_timeout")).toBe("the call ended (rtp timeout)");
  expect(endedInWords("remote_bye")).not.toContain("_");
});
