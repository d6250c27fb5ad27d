// A policy rule as the editor's form holds it (strings for inputs), and back.
import type { PolicyCondition, PolicyRule, Verdict } from "./api/types";

export interface RuleDraft {
  action: string;
  verdict: Verdict;
  confidenceBelow: number | null;
  tags: string;
  hours: "any" | "outside" | "inside";
  aboveField: string;
  aboveValue: number | null;
  equalsField: string;
  equalsValue: string;
}

export function ruleToDraft(rule: PolicyRule): RuleDraft {
  const w = rule.when ?? {};
  return {
    action: rule.action,
    verdict: rule.verdict,
    confidenceBelow: w.confidence_below ?? null,
    tags: (w.any_tag ?? []).join(", "),
    hours: w.outside_business_hours === true ? "outside" : w.outside_business_hours === false ? "inside" : "any",
    aboveField: w.param_above?.field ?? "",
    aboveValue: w.param_above?.above ?? null,
    equalsField: w.param_equals?.field ?? "",
    equalsValue:
      w.param_equals === null || w.param_equals === undefined
        ? ""
        : typeof w.param_equals.equals === "string"
          ? w.param_equals.equals
          : JSON.stringify(w.param_equals.equals),
  };
}

/** A typed value for "equals": numbers and booleans stay what they look like. */
function literal(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === "true") return true;
  if (trimmed === "false") return false;
  if (trimmed !== "" && !Number.isNaN(Number(trimmed))) return Number(trimmed);
  return trimmed;
}

export function draftToRule(draft: RuleDraft): PolicyRule {
  const when: PolicyCondition = {};
  if (draft.confidenceBelow !== null && draft.confidenceBelow !== undefined && String(draft.confidenceBelow) !== "") {
    when.confidence_below = Number(draft.confidenceBelow);
  }
  const tags = draft.tags
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (tags.length) when.any_tag = tags;
  if (draft.hours !== "any") when.outside_business_hours = draft.hours === "outside";
  if (draft.aboveField.trim() && draft.aboveValue !== null && String(draft.aboveValue) !== "") {
    when.param_above = { field: draft.aboveField.trim(), above: Number(draft.aboveValue) };
  }
  if (draft.equalsField.trim()) when.param_equals = { field: draft.equalsField.trim(), equals: literal(draft.equalsValue) };
  return { action: draft.action, when, verdict: draft.verdict };
}
