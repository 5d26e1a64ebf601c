/** Persistent call records: SQLite (bun:sqlite) in DATA_DIR. */
export { SqliteCallStore, recoverLiveCalls, DB_FILE, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, type SqliteCallStoreOptions, type RecoveryReport } from "./sqlite-call-store";
export { StoreError, SCHEMA_VERSION, migrate } from "./schema";
export { DataDirLock, DataDirLockError, LOCK_FILE, type LockHolder } from "./data-dir-lock";
