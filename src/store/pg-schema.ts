/**
 * The PostgreSQL schema of the call store (`DATABASE_URL=postgres://…`), shared by every agent of a
 * fleet, versioned in `voice_agent_schema` (one row per applied version) and migrated at start-up under
 * a transaction-scoped advisory lock, so agents starting together apply each version exactly once.
 *
 * The columns are SQLite's (both rendered from src/store/ddl.ts, read by the same src/store/rows.ts),
 * plus `agent`: the AGENT_ID of the agent that holds the call, so restart recovery ends only that
 * agent's own live calls. Add migrations at the end; never edit one.
 */
import type { SQL } from "bun";
import { firstVersion, laterColumnMigrations } from "./ddl";
import { StoreError } from "./schema";

/** Statements per version; index 0 takes an empty database to version 1 (src/store/ddl.ts). */
export const PG_MIGRATIONS: readonly (readonly string[])[] = [
  firstVersion("pg"),
  // 2: durations in ms overflow INTEGER after 24.8 days (a record's clock, a call cut by a restart
  // recovered weeks later); SQLite's INTEGER is 64-bit, so is this now. Read back as a number.
  [`ALTER TABLE calls ALTER COLUMN duration_ms TYPE BIGINT`],
  // 3 onwards: the columns added later, as in SQLite's migrations 2 onwards.
  ...laterColumnMigrations(),
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
