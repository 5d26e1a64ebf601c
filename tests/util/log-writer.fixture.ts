// Child of tests/util/log.test.ts: logs 20,000 distinct lines to stdout (nobody reads it), then reports
// on stderr how long each call took and how many lines the asynchronous destination dropped.
import { createLogger, logTotals } from "../../src/util/log";

const log = createLogger({ rateLimit: { burst: 0 } });
const costs: number[] = [];
for (let i = 0; i < 20_000; i++) {
  const t = performance.now();
  log.info({ i, pad: "x".repeat(200) }, "soak line");
  costs.push(performance.now() - t);
}
costs.sort((a, b) => a - b);
process.stderr.write(`${JSON.stringify({ lines: costs.length, dropped: logTotals.dropped, p99Ms: costs[Math.floor(costs.length * 0.99)] })}\n`);
process.exit(0);
