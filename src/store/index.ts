/** Persistent call records: SQLite (bun:sqlite) in DATA_DIR. */
export { SqliteCallStore, recoverLiveCalls, DB_FILE, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, RETENTION_BATCH, RETENTION_INTERVAL_MS, type SqliteCallStoreOptions, type RecoveryReport } from "./sqlite-call-store";
export { WriteQueue, storeTotals, isRetryableSqliteError, DEFAULT_MAX_PENDING, RETRY_MIN_MS, RETRY_MAX_MS } from "./write-queue";
export { StoreError, SCHEMA_VERSION, migrate } from "./schema";
export { DataDirLock, DataDirLockError, LOCK_FILE, type LockHolder } from "./data-dir-lock";
export { PgCallStore, isRetryablePgError, type PgCallStoreOptions } from "./pg-call-store";
export { PG_SCHEMA_VERSION, migratePg } from "./pg-schema";
