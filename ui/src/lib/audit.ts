// The audit view's filters on the wire, and a one-line summary of a record.
import type { AuditFilter, AuditRecord } from "./api/types";

export interface AuditForm {
  conversation: string;
  /** An actor label, e.g. `operator:3:Ana` or `executor`. */
  operator: string;
  /** An action type, e.g. `reply`. */
  action_type: string;
  /** An outcome: one event kind, e.g. `action.approved`. */
  outcome: string;
  /** `YYYY-MM-DD` from a date input, in the operator's time zone. */
  from: string;
  to: string;
}

export const EMPTY_AUDIT_FORM: AuditForm = { conversation: "", operator: "", action_type: "", outcome: "", from: "", to: "" };

/** The outcomes the filter offers (event kinds of the trail). */
export const AUDIT_OUTCOMES = [
  "action.proposed",
  "action.approved",
  "action.rejected",
  "action.executed",
  "action.failed",
  "action.superseded",
  "action.stale",
  "escalation.opened",
  "escalation.taken",
  "escalation.handed_back",
  "message.composed",
  "message.failed",
  "run.finished",
  "run.replayed",
  "policy.changed",
] as const;

/** A local calendar day's start as RFC 3339 (UTC), or "" for no bound. */
export function dayStart(day: string, plusDays = 0): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return "";
  const date = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + plusDays);
  return date.toISOString();
}

/** The query of `/api/audit` and its export. */
export function auditQuery(form: AuditForm): AuditFilter & Record<string, string> {
  const out: Record<string, string> = {};
  const conversation = form.conversation.replace(/^#/, "").trim();
  if (/^\d+$/.test(conversation)) out.conversation_id = conversation;
  if (form.operator.trim()) out.actor = form.operator.trim();
  if (form.action_type) out.action_kind = form.action_type;
  if (form.outcome) out.kind = form.outcome;
  const from = dayStart(form.from);
  if (from) out.from = from;
  // "To" is inclusive of that day.
  const to = dayStart(form.to, 1);
  if (to) out.to = to;
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
