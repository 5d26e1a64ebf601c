/**
 * A throwaway self-signed certificate for 127.0.0.1 (CN and an IP subjectAltName, 2 days) made with
 * openssl, for TLS tests: `{ dir, certFile, keyFile, remove }`. Check `missingTools(["openssl"])` first.
 * @throws Error with openssl's stderr when it fails.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificate {
  dir: string;
  certFile: string;
  keyFile: string;
  /** Deletes the directory. */
  remove(): void;
}

export function selfSignedCertificate(prefix: string): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const gen = Bun.spawnSync([
    "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyFile, "-out", certFile,
  ]);
  if (gen.exitCode !== 0) throw new Error(`openssl: ${gen.stderr.toString()}`);
  return { dir, certFile, keyFile, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
