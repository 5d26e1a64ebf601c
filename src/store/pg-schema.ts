/**
 * The PostgreSQL schema of the call store (`DATABASE_URL=postgres://…`), shared by every agent of a
 * fleet, versioned in `voice_agent_schema` (one row per applied version) and migrated at start-up under
 * a transaction-scoped advisory lock, so agents starting together apply each version exactly once.
 *
 * The columns are SQLite's (src/store/schema.ts, read by the same src/store/rows.ts), plus `agent`: the
 * AGENT_ID of the agent that holds the call, so restart recovery ends only that agent's own live calls.
 * Times are ISO-8601 UTC text (they sort as text, as in SQLite). Add migrations at the end; never edit one.
 */
import type { SQL } from "bun";
import { StoreError } from "./schema";

/** Statements per version; index 0 takes an empty database to version 1. */
export const PG_MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE calls (
       id             TEXT PRIMARY KEY,
       agent          TEXT NOT NULL,
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
    `CREATE INDEX calls_live ON calls (agent) WHERE state <> 'ended'`,
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
     )`,
  ],
  // 2: durations in ms overflow INTEGER after 24.8 days (a record's clock, a call cut by a restart
  // recovered weeks later); SQLite's INTEGER is 64-bit, so is this now. Read back as a number.
  [`ALTER TABLE calls ALTER COLUMN duration_ms TYPE BIGINT`],
  // 3: the transfer to a person (JSON of TransferRecord, src/pipeline/call-record.ts).
  [`ALTER TABLE calls ADD COLUMN transfer TEXT`],
  // 4: the far end's last RTCP report about our stream (JSON, as in SQLite migration 3).
  [`ALTER TABLE calls ADD COLUMN rtcp TEXT`],
  // 5: what the call and each agent turn cost (JSON, as in SQLite migration 4).
  [`ALTER TABLE calls ADD COLUMN usage TEXT`, `ALTER TABLE turns ADD COLUMN usage TEXT`],
  // 6: answering-machine detection on outbound calls (JSON, as in SQLite migration 5).
  [`ALTER TABLE calls ADD COLUMN amd TEXT`],
];

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;

/** Advisory lock key taken while migrating (any constant; 0x7661 = "va"). */
const MIGRATION_LOCK = 0x76610001;

/**
 * Brings the database to PG_SCHEMA_VERSION, one transaction per version.
 * @throws StoreError "newer_schema" (written by a newer program), "migration_failed".
 */
export async function migratePg(sql: SQL): Promise<void> {
  for (;;) {
    const done = await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      await tx`CREATE TABLE IF NOT EXISTS voice_agent_schema (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`;
      const [{ v }] = await tx`SELECT COALESCE(MAX(version), 0)::int AS v FROM voice_agent_schema`;
      const current = Number(v);
      if (current > PG_SCHEMA_VERSION) {
        throw new StoreError("newer_schema", `the database has schema version ${current}; this program knows up to ${PG_SCHEMA_VERSION}`);
      }
      if (current === PG_SCHEMA_VERSION) return true;
      try {
        for (const stmt of PG_MIGRATIONS[current]!) await tx.unsafe(stmt);
        await tx`INSERT INTO voice_agent_schema (version, applied_at) VALUES (${current + 1}, ${new Date().toISOString()})`;
      } catch (err) {
        throw new StoreError("migration_failed", `migration to version ${current + 1} failed: ${(err as Error).message}`, { cause: err });
      }
      return false;
    });
    if (done) return;
  }
}
