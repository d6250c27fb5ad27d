// Wire types of the Switchboard engine API (hand-written; keep in step with the engine).

/** RFC 3339 timestamp as sent by the engine. */
export type Timestamp = string;

export interface Health {
  status: "ok" | "degraded";
  version: string;
  mode: "sandbox" | "live";
  llm: string;
  offline_demo: boolean;
  database: "ok" | "error";
}

/** Every list endpoint answers with a page. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Contact {
  id: number;
  wa_id: string | null;
  user_id: string | null;
  name: string | null;
  phone: string | null;
}

export const CONVERSATION_STATES = [
  "ai_active",
  "awaiting_approval",
  "escalated",
  "human",
  "closed",
] as const;
export type ConversationState = (typeof CONVERSATION_STATES)[number];

export interface Conversation {
  id: number;
  contact: Contact;
  state: ConversationState;
  unread_count: number;
  last_message_preview: string | null;
  last_message_at: Timestamp | null;
  last_customer_message_at: Timestamp | null;
  window_closes_at: Timestamp | null;
  sandbox: boolean;
}

export interface Message {
  id: number;
  conversation_id: number;
  direction: "inbound" | "outbound";
  kind: string;
  text: string | null;
  status: string;
  created_at: Timestamp;
  sent_by: string | null;
}

export const ACTION_STATES = [
  "pending",
  "approved",
  "rejected",
  "executing",
  "executed",
  "failed",
  "superseded",
  "stale",
  "forbidden",
] as const;
export type ActionState = (typeof ACTION_STATES)[number];

export interface Action {
  id: number;
  conversation_id: number;
  run_id: number | null;
  kind: string;
  params: unknown;
  state: ActionState;
  reasoning: string | null;
  confidence: number | null;
  created_at: Timestamp;
  decided_at: Timestamp | null;
}

export type EscalationState = "open" | "taken" | "resolved";

export interface Escalation {
  id: number;
  conversation_id: number;
  reason: string;
  summary: string | null;
  state: EscalationState;
  source: string;
  created_at: Timestamp;
  taken_by: string | null;
}

export interface AuditRecord {
  id: number;
  at: Timestamp;
  actor: string;
  kind: string;
  conversation_id: number | null;
  action_id: number | null;
  detail: unknown;
  hash: string;
}

export type TaskPriority = "low" | "normal" | "high" | "urgent";

export interface Task {
  id: number;
  conversation_id: number | null;
  title: string;
  assignee: string | null;
  due_at: Timestamp | null;
  priority: TaskPriority;
  state: "open" | "done";
  created_at: Timestamp;
}

/** Free-form for now: shown read-only as key/value sections. */
export type Settings = Record<string, unknown>;

/** Body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string };
}

// ---------------------------------------------------------------------------
// Events (SSE `event: <type>` + `data: <json>`, or the Tauri channel)

export type EngineEvent =
  | { type: "message_received"; conversation_id: number; message_id: number }
  | { type: "message_status"; message_id: number; status: string; conversation_id?: number }
  | { type: "run_started"; run_id: number; conversation_id: number }
  | { type: "run_finished"; run_id: number; conversation_id: number; outcome: string }
  | { type: "token_delta"; run_id: number; seq: number; text: string; conversation_id?: number }
  | {
      type: "action_proposed" | "action_decided" | "action_executed";
      action_id: number;
      conversation_id: number;
      state: string;
    }
  | {
      type: "escalation_opened" | "escalation_taken" | "escalation_resolved";
      escalation_id: number;
      conversation_id: number;
    }
  | { type: "conversation_updated"; conversation_id: number }
  | { type: "inbox_failed"; inbox_id: number; reason: string }
  /** The subscriber fell behind: refetch everything. */
  | { type: "lagged"; missed: number };

export type EngineEventType = EngineEvent["type"];

const EVENT_TYPES: ReadonlySet<string> = new Set<EngineEventType>([
  "message_received",
  "message_status",
  "run_started",
  "run_finished",
  "token_delta",
  "action_proposed",
  "action_decided",
  "action_executed",
  "escalation_opened",
  "escalation_taken",
  "escalation_resolved",
  "conversation_updated",
  "inbox_failed",
  "lagged",
]);

/** True for an event of a type this UI knows; anything else is to be ignored. */
export function isEngineEvent(value: unknown): value is EngineEvent {
  if (typeof value !== "object" || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return typeof type === "string" && EVENT_TYPES.has(type);
}

/** The conversation an event concerns, if any. */
export function eventConversationId(event: EngineEvent): number | null {
  return "conversation_id" in event && typeof event.conversation_id === "number"
    ? event.conversation_id
    : null;
}
