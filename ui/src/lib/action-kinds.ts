// How the console names and edits the actions a model proposes.
import type { MessageKey } from "./i18n/index.svelte";

export const ACTION_KIND_LABELS: Record<string, MessageKey> = {
  reply: "kind.reply",
  send_template: "kind.send_template",
  create_task: "kind.create_task",
  schedule_followup: "kind.schedule_followup",
  update_contact: "kind.update_contact",
  set_session_variable: "kind.set_session_variable",
  escalate_to_human: "kind.escalate_to_human",
  close_conversation: "kind.close_conversation",
  no_action: "kind.no_action",
};

export const BUILT_IN_ACTIONS = Object.keys(ACTION_KIND_LABELS);

function obj(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** The text a reply would send, if the action is a reply. */
export function replyText(kind: string, params: unknown): string | null {
  if (kind !== "reply") return null;
  const text = obj(params).text;
  return typeof text === "string" ? text : null;
}

/** The editable form of an action's parameters: a reply's text, else pretty JSON. */
export function editableText(kind: string, params: unknown): string {
  const text = replyText(kind, params);
  if (text !== null) return text;
  return JSON.stringify(params ?? {}, null, 2);
}

export type ParsedEdit = { ok: true; params: unknown } | { ok: false; error: string };

/** Turn the operator's edit back into parameters. */
export function parseEdit(kind: string, original: unknown, edited: string): ParsedEdit {
  if (replyText(kind, original) !== null) {
    const text = edited.trim();
    if (!text) return { ok: false, error: "empty" };
    return { ok: true, params: { ...obj(original), text } };
  }
  try {
    const value = JSON.parse(edited) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, error: "object" };
    return { ok: true, params: value };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** 0..1 or 0..100 → a whole percentage. */
export function confidencePercent(value: number | null | undefined): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  return Math.round(value <= 1 ? value * 100 : value);
}

/** A template's body text, from its own field or Meta's components (`[{type: "BODY", text}]`). */
export function templateBody(template: { body?: string | null; components?: unknown }): string | null {
  if (template.body) return template.body;
  if (!Array.isArray(template.components)) return null;
  for (const component of template.components) {
    const c = obj(component);
    if (String(c.type ?? "").toUpperCase() === "BODY" && typeof c.text === "string") return c.text;
  }
  return null;
}
