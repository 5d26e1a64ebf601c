/**
 * `GET /calls` with search, for the API and the call page's recent-calls list:
 *   ?q=<number>        calls whose From or To contains these digits (or this text, when it has no digit)
 *   ?day=YYYY-MM-DD    calls started that day (UTC)
 *   ?direction=inbound|outbound, ?limit=<1..1000> recent calls returned (default: the store's)
 * Answers `{ active, recent }` like `CallRecordStore.list()`. A malformed parameter is a 400 naming it.
 */
import type { CallDirection, CallList, CallRecord, CallRecordStore } from "../pipeline/call-record";
import { HttpError } from "./errors";

/** Ended calls scanned for a search (newest first) when a filter is given. */
export const SEARCH_SCAN_LIMIT = 5000;

export async function searchCalls(store: CallRecordStore, query: Record<string, string | undefined>): Promise<CallList> {
  const { q, day, direction, limit } = query;
  if (direction !== undefined && direction !== "inbound" && direction !== "outbound")
    throw new HttpError(400, "bad_request", "direction: expected inbound or outbound");
  let max: number | undefined;
  if (limit !== undefined) {
    max = Number(limit);
    if (!Number.isInteger(max) || max < 1 || max > 1000) throw new HttpError(400, "bad_request", "limit: expected an integer 1..1000");
  }
  if (day !== undefined && day !== "" && !isCalendarDay(day)) throw new HttpError(400, "bad_request", `day: expected a date YYYY-MM-DD, got "${day.slice(0, 40)}"`);
  const filtering = !!(q?.trim() || day);
  const list = await store.list({ direction: direction as CallDirection | undefined, limit: filtering ? SEARCH_SCAN_LIMIT : max });
  if (!filtering) return list;
  const digits = (q ?? "").replace(/\D/g, "");
  const text = (q ?? "").trim().toLowerCase();
  const keep = (r: CallRecord) =>
    (!text || (digits ? `${r.from} ${r.to}`.replace(/\D/g, " ").includes(digits) || r.from.includes(digits) || r.to.includes(digits) : `${r.from} ${r.to}`.toLowerCase().includes(text))) &&
    (!day || r.startedAt.slice(0, 10) === day);
  const recent = list.recent.filter(keep);
  return { active: list.active.filter(keep), recent: max ? recent.slice(0, max) : recent };
}

/** "2026-12-05" → true; "2026-13-45", "2026-02-30", "5 Dec" → false (a real UTC calendar day). */
function isCalendarDay(day: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return false;
  const d = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === day;
}
