// The dashboard's series, read from `GET /api/metrics` (`DayMetrics` in docs/openapi.json).
import type { MetricsDay } from "./api/types";

export interface Point {
  label: string;
  value: number | null;
}

/** A number the API sent, or null (no data that day, e.g. a share of zero conversations). */
function num(value: number | null | undefined): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

export interface Series {
  volume: Point[];
  /** Shares are 0..1, as the API computes them. */
  resolvedShare: Point[];
  approvedUneditedShare: Point[];
  escalationRate: Point[];
  medianFirstReplyMs: Point[];
  /** Tokens in plus tokens out. */
  tokens: Point[];
  /** USD. */
  cost: Point[];
}

export function dayLabel(day: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(day);
  return m ? `${m[3]}/${m[2]}` : day;
}

export function series(days: MetricsDay[]): Series {
  const at = (f: (d: MetricsDay) => number | null) => days.map((d) => ({ label: dayLabel(d.date), value: f(d) }));
  return {
    volume: at((d) => num(d.inbound_messages)),
    resolvedShare: at((d) => num(d.resolved_without_human_share)),
    approvedUneditedShare: at((d) => num(d.approvals_without_edits_share)),
    escalationRate: at((d) => num(d.escalation_rate)),
    medianFirstReplyMs: at((d) => num(d.median_first_reply_ms)),
    tokens: at((d) => {
      const i = num(d.tokens_in);
      const o = num(d.tokens_out);
      return i === null && o === null ? null : (i ?? 0) + (o ?? 0);
    }),
    cost: at((d) => num(d.cost_usd)),
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
