// The dashboard's series, read from `GET /api/metrics` whatever the exact field names are.
import type { MetricsDay } from "./api/types";

export interface Point {
  label: string;
  value: number | null;
}

function pick(day: MetricsDay, names: string[]): number | null {
  for (const name of names) {
    const v = day[name];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  return null;
}

/** A share as 0..1: a ratio field when present, else count / total. */
function share(day: MetricsDay, ratio: string[], count: string[], total: string[]): number | null {
  const r = pick(day, ratio);
  if (r !== null) return r > 1 ? r / 100 : r;
  const c = pick(day, count);
  const n = pick(day, total);
  return c !== null && n !== null && n > 0 ? c / n : null;
}

export interface Series {
  volume: Point[];
  resolvedShare: Point[];
  approvedUneditedShare: Point[];
  escalationRate: Point[];
  medianFirstReplyMs: Point[];
  tokens: Point[];
  cost: Point[];
}

export function dayLabel(day: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(day);
  return m ? `${m[3]}/${m[2]}` : day;
}

export function series(days: MetricsDay[]): Series {
  const at = (f: (d: MetricsDay) => number | null) =>
    days.map((d) => ({ label: dayLabel(d.date ?? d.day ?? ""), value: f(d) }));
  return {
    volume: at((d) => pick(d, ["inbound", "inbound_messages", "messages_in", "volume", "messages"])),
    resolvedShare: at((d) =>
      share(d, ["resolved_without_human_share", "resolved_without_human_rate", "ai_resolved_share"], ["resolved_without_human"], ["conversations", "resolved"]),
    ),
    approvedUneditedShare: at((d) =>
      share(
        d,
        ["approvals_without_edits_share", "approvals_without_edit_share", "approved_without_edits_share"],
        ["approved_unedited", "approvals_without_edit", "approved_without_edits"],
        ["approvals", "decisions"],
      ),
    ),
    escalationRate: at((d) => share(d, ["escalation_rate", "escalation_share"], ["escalated_conversations", "escalations"], ["conversations"])),
    medianFirstReplyMs: at((d) => {
      const ms = pick(d, ["median_first_reply_ms", "median_time_to_first_reply_ms"]);
      if (ms !== null) return ms;
      const s = pick(d, ["median_first_reply_secs", "median_first_reply_seconds", "median_time_to_first_reply_secs"]);
      return s === null ? null : s * 1000;
    }),
    tokens: at((d) => {
      const total = pick(d, ["tokens", "tokens_total"]);
      if (total !== null) return total;
      const i = pick(d, ["tokens_in"]);
      const o = pick(d, ["tokens_out"]);
      return i === null && o === null ? null : (i ?? 0) + (o ?? 0);
    }),
    cost: at((d) => pick(d, ["cost", "cost_usd", "cost_total"])),
  };
}

export function total(points: Point[]): number | null {
  const known = points.map((p) => p.value).filter((v): v is number => v !== null);
  return known.length ? known.reduce((a, b) => a + b, 0) : null;
}

export function mean(points: Point[]): number | null {
  const known = points.map((p) => p.value).filter((v): v is number => v !== null);
  return known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
}

export function formatMs(ms: number | null): string {
  if (ms === null) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 90) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = s / 60;
  if (m < 90) return `${m.toFixed(0)} min`;
  return `${(m / 60).toFixed(1)} h`;
}

export const formatPercent = (v: number | null) => (v === null ? "—" : `${Math.round(v * 100)}%`);
export const formatCost = (v: number | null) => (v === null ? "—" : `$${v.toFixed(v < 1 ? 4 : 2)}`);
export const formatCount = (v: number | null) => (v === null ? "—" : Math.round(v).toLocaleString());
