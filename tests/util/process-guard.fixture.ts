// Child of tests/util/process-guard.test.ts.
import { createLogger, flushLog } from "../../src/util/log";
import { installProcessGuard, processErrorTotals } from "../../src/util/process-guard";

const log = createLogger();
installProcessGuard(log);
void Promise.reject(Object.assign(new Error("provider socket closed"), { code: "ECONNRESET" }));
setTimeout(() => {
  throw new TypeError("timer callback bug");
}, 20);
setTimeout(async () => {
  log.info({ totals: processErrorTotals }, "still alive");
  await flushLog(log);
  process.exit(0);
}, 300);
