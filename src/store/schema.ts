/**
 * The SQLite schema of the call store (`DATA_DIR/calls.db`), versioned with `PRAGMA user_version`.
 *
 *   calls  one row per call (both directions), written when the call is created and on every change
 *   turns  one row per conversation turn, (call_id, idx) unique, written as each turn completes
 *
 * Times are ISO-8601 UTC strings (they sort as text); durations are ms; JSON columns hold objects.
 * A migration is a list of statements run in one transaction; add new ones at the end, never edit old.
 */
import type { Database } from "bun:sqlite";

/** Statements per schema version; index 0 takes an empty database to version 1. */
export const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE calls (
       id             TEXT PRIMARY KEY,
       sip_call_id    TEXT NOT NULL,
       direction      TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
       from_uri       TEXT NOT NULL,
       to_uri         TEXT NOT NULL,
       state          TEXT NOT NULL CHECK (state IN ('ringing', 'connected', 'ended')),
       status         TEXT,
       started_at     TEXT NOT NULL,
       ringing_at     TEXT,
       answered_at    TEXT,
       ended_at       TEXT,
       duration_ms    INTEGER,
       end_reason     TEXT,
       hangup_code    INTEGER,
       hangup_reason  TEXT,
       hangup_source  TEXT,
       codec          TEXT,
       providers      TEXT,
       barge_ins      INTEGER NOT NULL DEFAULT 0,
       opening_reason TEXT,
       objective      TEXT,
       metadata       TEXT,
       outcome        TEXT,
       outcome_source TEXT,
       updated_at     TEXT NOT NULL
     )`,
    `CREATE INDEX calls_by_start ON calls (started_at DESC)`,
    `CREATE INDEX calls_by_direction ON calls (direction, started_at DESC)`,
    `CREATE INDEX calls_live ON calls (state) WHERE state <> 'ended'`,
    `CREATE TABLE turns (
       call_id        TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
       idx            INTEGER NOT NULL,
       speaker        TEXT NOT NULL CHECK (speaker IN ('caller', 'agent')),
       text           TEXT NOT NULL,
       at             TEXT NOT NULL,
       interrupted    INTEGER,
       generated_text TEXT,
       latency        TEXT,
       error          TEXT,
       PRIMARY KEY (call_id, idx)
     ) WITHOUT ROWID`,
  ],
  // 2: the transfer to a person (JSON of TransferRecord, src/pipeline/call-record.ts).
  [`ALTER TABLE calls ADD COLUMN transfer TEXT`],
  // 3: the far end's last RTCP report about our stream (JSON: fractionLost, cumulativeLost, jitterMs,
  // rttMs; RFC 3550 §6.4.1), so loss, jitter and round-trip time outlive the call.
  [`ALTER TABLE calls ADD COLUMN rtcp TEXT`],
  // 4: what the call and each agent turn cost (JSON of CallUsage / TurnUsage, src/pipeline/call-record.ts).
  [`ALTER TABLE calls ADD COLUMN usage TEXT`, `ALTER TABLE turns ADD COLUMN usage TEXT`],
  // 5: answering-machine detection on outbound calls (JSON of AmdRecord, src/pipeline/call-record.ts).
  [`ALTER TABLE calls ADD COLUMN amd TEXT`],
];

/** The version `migrate` brings a database to. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Error opening or migrating the store; `code` says which. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  constructor(
    readonly code: "open_failed" | "newer_schema" | "migration_failed" | "unavailable",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Brings the database to SCHEMA_VERSION, one transaction per version.
 * @throws StoreError "newer_schema" when the file was written by a newer version of the program.
 */
export function migrate(db: Database): void {
  const { user_version: current } = db.query("PRAGMA user_version").get() as { user_version: number };
  if (current > SCHEMA_VERSION) {
    throw new StoreError("newer_schema", `calls.db has schema version ${current}; this program knows up to ${SCHEMA_VERSION}`);
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    try {
      db.transaction(() => {
        for (const sql of MIGRATIONS[v]!) db.exec(sql);
        db.exec(`PRAGMA user_version = ${v + 1}`);
      })();
    } catch (err) {
      throw new StoreError("migration_failed", `calls.db migration to version ${v + 1} failed: ${(err as Error).message}`, { cause: err });
    }
  }
}
