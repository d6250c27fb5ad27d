// The audit view's filters on the wire, and a one-line summary of a record.
import type { AuditFilter, AuditRecord } from "./api/types";

export interface AuditForm {
  conversation: string;
  operator: string;
  action_type: string;
  outcome: string;
  /** The event kind, e.g. `action.approved`. */
  kind: string;
  /** `YYYY-MM-DD` from a date input, in the operator's time zone. */
  from: string;
  to: string;
}

/** A local calendar day's start as RFC 3339 (UTC), or "" for no bound. */
export function dayStart(day: string, plusDays = 0): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return "";
  const date = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + plusDays);
  return date.toISOString();
}

/**
 * The query of `/api/audit` and its export. The engine's first names (`conversation_id`,
 * `actor`, `since`, `until`) are sent too, with the same values, so either engine filters.
 */
export function auditQuery(form: AuditForm): AuditFilter & Record<string, string> {
  const out: Record<string, string> = {};
  const conversation = form.conversation.replace(/^#/, "").trim();
  if (/^\d+$/.test(conversation)) {
    out.conversation = conversation;
    out.conversation_id = conversation;
  }
  if (form.operator.trim()) {
    out.operator = form.operator.trim();
    out.actor = form.operator.trim();
  }
  if (form.action_type) out.action_type = form.action_type;
  if (form.outcome) out.outcome = form.outcome;
  if (form.kind.trim()) out.kind = form.kind.trim();
  const from = dayStart(form.from);
  if (from) {
    out.from = from;
    out.since = from;
  }
  // "To" is inclusive of that day.
  const to = dayStart(form.to, 1);
  if (to) {
    out.to = to;
    out.until = to;
  }
  return out;
}

function obj(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** The few words that say what a record is about (its reply text, reason, state, tier…). */
export function detailSummary(record: AuditRecord): string {
  const d = obj(record.detail);
  const params = obj(d.params);
  const parts: string[] = [];
  if (typeof d.action === "string") parts.push(d.action);
  if (typeof params.text === "string") parts.push(`“${params.text}”`);
  if (typeof d.reason === "string") parts.push(d.reason);
  if (typeof d.note === "string" && d.note) parts.push(d.note);
  if (typeof d.state === "string") parts.push(d.state);
  if (typeof d.tier === "number") parts.push(`tier ${d.tier}`);
  if (typeof d.status === "string") parts.push(d.status);
  if (typeof d.error === "string" && d.error) parts.push(d.error);
  const text = parts.join(" · ");
  return text.length > 140 ? `${text.slice(0, 139)}…` : text;
}
