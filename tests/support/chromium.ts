/**
 * Headless Chromium (Debian's `chromium`) driven over the Chrome DevTools Protocol, for tests of the
 * call page: a private profile per browser, loopback only, no dependency beyond Bun's WebSocket.
 *
 *   const b = await Browser.start({ width: 390, height: 844 });   // a phone-sized screen
 *   await b.navigate("http://127.0.0.1:8080/ui");
 *   await b.waitFor("document.querySelector('#app') && !document.querySelector('#app').hidden", 5000);
 *   await b.screenshot(".test-artifacts/page.png");
 *   await b.close();
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { spawnManaged, type ManagedProcess } from "./process.ts";

/** The browser binary, or undefined when not installed (tests use `test.skipIf(!CHROMIUM)`). */
export const CHROMIUM = Bun.which("chromium") ?? Bun.which("chromium-browser") ?? undefined;

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly proc: ManagedProcess,
    private readonly ws: WebSocket,
    private readonly profile: string,
  ) {
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data));
      const p = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`cdp: ${msg.error.message}`));
      else p.resolve(msg.result);
    };
  }

  /** Starts headless Chromium with a private profile and attaches to its first page. */
  static async start(o: { width?: number; height?: number } = {}): Promise<Browser> {
    if (!CHROMIUM) throw new Error("chromium is not installed (apt-get install chromium)");
    const profile = mkdtempSync(join(tmpdir(), "va-chromium-"));
    const proc = spawnManaged(
      [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", `--user-data-dir=${profile}`, "about:blank"],
      { name: "chromium", env: { PATH: process.env.PATH, HOME: profile } },
    );
    const m = await proc.waitForLine(/DevTools listening on (ws:\/\/[^\s]+)/, { timeoutMs: 30_000, stream: "stderr" });
    const port = new URL(m[1]!).port;
    let pageWs: string | undefined;
    for (let i = 0; i < 100 && !pageWs; i++) {
      const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as any[];
      pageWs = targets.find((t) => t.type === "page")?.webSocketDebuggerUrl;
      if (!pageWs) await Bun.sleep(100);
    }
    if (!pageWs) throw new Error("chromium: no page target");
    const ws = new WebSocket(pageWs);
    await new Promise<void>((resolve, reject) => ((ws.onopen = () => resolve()), (ws.onerror = () => reject(new Error("chromium: cdp connect failed")))));
    const b = new Browser(proc, ws, profile);
    await b.send("Page.enable");
    await b.send("Runtime.enable");
    if (o.width && o.height) await b.send("Emulation.setDeviceMetricsOverride", { width: o.width, height: o.height, deviceScaleFactor: 1, mobile: true });
    return b;
  }

  /** One CDP command; resolves with its result, rejects with its error. */
  send(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Evaluates `expression` in the page (promises awaited); returns its value. Throws what the page threw. */
  async eval<T = any>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Loads `url` and waits for the document to be complete. */
  async navigate(url: string): Promise<void> {
    await this.send("Page.navigate", { url });
    await this.waitFor(`document.readyState === "complete" && location.href === ${JSON.stringify(url)}`, 15_000);
  }

  /** Polls `expression` in the page every 50 ms until it is truthy; returns its value. */
  async waitFor<T = any>(expression: string, timeoutMs: number): Promise<T> {
    const end = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < end) {
      try {
        last = await this.eval(expression);
        if (last) return last as T;
      } catch (err) {
        last = String(err);
      }
      await Bun.sleep(50);
    }
    throw new Error(`page: timed out after ${timeoutMs} ms waiting for ${expression} (last: ${JSON.stringify(last)})`);
  }

  /** Saves a PNG of the page. */
  async screenshot(path: string): Promise<void> {
    const r = await this.send("Page.captureScreenshot", { format: "png", captureBeyondViewport: true });
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, Buffer.from(r.data, "base64"));
  }

  async close(): Promise<void> {
    try {
      this.ws.close();
    } catch {}
    await this.proc.stop({ signal: "SIGTERM", graceMs: 3000 });
    rmSync(this.profile, { recursive: true, force: true });
  }
}
