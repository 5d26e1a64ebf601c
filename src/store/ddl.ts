/**
 * The call store's tables, described once and rendered per dialect (SQLite: src/store/schema.ts,
 * PostgreSQL: src/store/pg-schema.ts), so both stores keep the same columns and the same row mapping
 * (src/store/rows.ts) fits both.
 *
 *   calls  one row per call (both directions), written when the call is created and on every change
 *   turns  one row per conversation turn, (call_id, idx) unique, written as each turn completes
 *
 * Times are ISO-8601 UTC text (they sort as text); durations are ms; JSON columns hold objects.
 * Migrations are history: the first version's columns are frozen here as they were created, and a
 * later column is one entry of LATER_COLUMNS, which each dialect turns into one migration. Add at the
 * end, never edit an entry that has shipped.
 */

export type Dialect = "sqlite" | "pg";

/** One column as written in CREATE TABLE (name, SQL type, constraints). */
type Column = readonly [name: string, definition: string];

/** The calls table of schema version 1 (PostgreSQL adds `agent` after `id`). */
const CALLS_V1: readonly Column[] = [
  ["id", "TEXT PRIMARY KEY"],
  ["sip_call_id", "TEXT NOT NULL"],
  ["direction", "TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound'))"],
  ["from_uri", "TEXT NOT NULL"],
  ["to_uri", "TEXT NOT NULL"],
  ["state", "TEXT NOT NULL CHECK (state IN ('ringing', 'connected', 'ended'))"],
  ["status", "TEXT"],
  ["started_at", "TEXT NOT NULL"],
  ["ringing_at", "TEXT"],
  ["answered_at", "TEXT"],
  ["ended_at", "TEXT"],
  ["duration_ms", "INTEGER"],
  ["end_reason", "TEXT"],
  ["hangup_code", "INTEGER"],
  ["hangup_reason", "TEXT"],
  ["hangup_source", "TEXT"],
  ["codec", "TEXT"],
  ["providers", "TEXT"],
  ["barge_ins", "INTEGER NOT NULL DEFAULT 0"],
  ["opening_reason", "TEXT"],
  ["objective", "TEXT"],
  ["metadata", "TEXT"],
  ["outcome", "TEXT"],
  ["outcome_source", "TEXT"],
  ["updated_at", "TEXT NOT NULL"],
];

/**
 * PostgreSQL only: the AGENT_ID of the agent that holds the call, so restart recovery ends only that
 * agent's own live calls (a fleet shares one database).
 */
const AGENT_COLUMN: Column = ["agent", "TEXT NOT NULL"];

/** The turns table of schema version 1. */
const TURNS_V1: readonly Column[] = [
  ["call_id", "TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE"],
  ["idx", "INTEGER NOT NULL"],
  ["speaker", "TEXT NOT NULL CHECK (speaker IN ('caller', 'agent'))"],
  ["text", "TEXT NOT NULL"],
  ["at", "TEXT NOT NULL"],
  ["interrupted", "INTEGER"],
  ["generated_text", "TEXT"],
  ["latency", "TEXT"],
  ["error", "TEXT"],
];

/** Columns added after version 1, in order; each entry is one migration (JSON text unless said). */
export const LATER_COLUMNS: readonly { tables: readonly ("calls" | "turns")[]; column: string; type: string; what: string }[] = [
  { tables: ["calls"], column: "transfer", type: "TEXT", what: "the transfer to a person (JSON of TransferRecord, src/pipeline/call-record.ts)" },
  {
    tables: ["calls"],
    column: "rtcp",
    type: "TEXT",
    what: "the far end's last RTCP report about our stream (fractionLost, cumulativeLost, jitterMs, rttMs; RFC 3550 §6.4.1), so loss, jitter and round-trip time outlive the call",
  },
  { tables: ["calls", "turns"], column: "usage", type: "TEXT", what: "what the call and each agent turn cost (CallUsage / TurnUsage, src/pipeline/call-record.ts)" },
  { tables: ["calls"], column: "amd", type: "TEXT", what: "answering-machine detection on outbound calls (AmdRecord, src/pipeline/call-record.ts)" },
  {
    tables: ["turns"],
    column: "tts",
    type: "TEXT",
    what: "the TTS that spoke an agent turn when it was not the call's serving one (the apology by the offline voice; TurnRecord.tts), plain text",
  },
  { tables: ["calls"], column: "barge_in_pauses", type: "TEXT", what: "barge-ins that paused the reply, resumed or cut, and the silence they cost (BargeInPauses, src/pipeline/call-record.ts)" },
];

const table = (name: string, columns: readonly Column[], tail: string[] = []): string =>
  `CREATE TABLE ${name} (\n${[...columns.map(([n, d]) => `${n.padEnd(14)} ${d}`), ...tail].map((l) => `  ${l}`).join(",\n")}\n)`;

/** The statements of schema version 1 in `dialect`. */
export function firstVersion(dialect: Dialect): string[] {
  const calls = dialect === "pg" ? [CALLS_V1[0]!, AGENT_COLUMN, ...CALLS_V1.slice(1)] : CALLS_V1;
  return [
    table("calls", calls),
    `CREATE INDEX calls_by_start ON calls (started_at DESC)`,
    `CREATE INDEX calls_by_direction ON calls (direction, started_at DESC)`,
    // The live calls: restart recovery looks them up (by agent in a shared PostgreSQL database).
    dialect === "pg" ? `CREATE INDEX calls_live ON calls (agent) WHERE state <> 'ended'` : `CREATE INDEX calls_live ON calls (state) WHERE state <> 'ended'`,
    // (call_id, idx) is the key; SQLite stores the rows in key order without a separate rowid.
    table("turns", TURNS_V1, ["PRIMARY KEY (call_id, idx)"]) + (dialect === "sqlite" ? " WITHOUT ROWID" : ""),
  ];
}

/** One migration per LATER_COLUMNS entry (the same SQL in both dialects). */
export function laterColumnMigrations(): string[][] {
  return LATER_COLUMNS.map((c) => c.tables.map((t) => `ALTER TABLE ${t} ADD COLUMN ${c.column} ${c.type}`));
}
