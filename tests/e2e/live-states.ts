/**
 * What the call page's live list shows of calls, as it sees them: the `call` events of the agent's
 * `GET /events` stream (SSE), reduced to the state words of the page (src/http/ui/app.js `stateOf`):
 * ringing, talking, on hold, transferring, ended — each change once, in order.
 *
 *   const live = await watchLiveStates(agent);   // subscribed (snapshot received) when it resolves
 *   …the call…
 *   expect(await live.stop()).toEqual(["ringing", "talking", "on hold", "talking", "ended"]);
 */
import type { RunningAgent } from "./agent.ts";

export async function watchLiveStates(agent: RunningAgent, headers: Record<string, string> = {}): Promise<{ states: string[]; stop(): Promise<string[]> }> {
  const ctl = new AbortController();
  const states: string[] = [];
  let subscribed!: () => void;
  const snapshot = new Promise<void>((r) => (subscribed = r));
  const reading = (async () => {
    const res = await fetch(`http://127.0.0.1:${agent.httpPort}/events`, { signal: ctl.signal, headers });
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of res.body!) {
      buf += decoder.decode(chunk, { stream: true });
      for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (frame.startsWith("event: snapshot\n")) subscribed();
        if (!frame.startsWith("event: call\n")) continue;
        const c = JSON.parse(frame.slice(frame.indexOf("data: ") + 6)).call;
        const state = c.state === "connected" ? (c.transferring ? "transferring" : c.onHold ? "on hold" : "talking") : c.state;
        if (states.at(-1) !== state) states.push(state);
      }
    }
  })().catch(() => {});
  await Promise.race([snapshot, reading]);
  return {
    states,
    async stop() {
      ctl.abort();
      await reading;
      return states;
    },
  };
}
