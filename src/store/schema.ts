/**
 * The SQLite schema of the call store (`DATA_DIR/calls.db`), versioned with `PRAGMA user_version`.
 * The tables are described in src/store/ddl.ts (shared with PostgreSQL). A migration is a list of
 * statements run in one transaction.
 */
import type { Database } from "bun:sqlite";
import { firstVersion, laterColumnMigrations } from "./ddl";

/** Statements per schema version; index 0 takes an empty database to version 1 (src/store/ddl.ts). */
export const MIGRATIONS: readonly (readonly string[])[] = [firstVersion("sqlite"), ...laterColumnMigrations()];

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
