// Wire types of the Switchboard engine API (hand-written from `docs/openapi.json`; keep in
// step with the engine). Fields marked optional are ones some engine versions do not send:
// the console reads them defensively.

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

export const CONVERSATION_STATES = ["ai_active", "awaiting_approval", "escalated", "human", "closed"] as const;
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
  /** Session variables, when the engine sends them. */
  variables?: Record<string, string> | [string, string][] | null;
  tags?: string[] | null;
}

export const DELIVERY_STATES = ["pending", "queued", "sending", "sent", "delivered", "read", "failed", "unknown"] as const;

export interface Message {
  id: number;
  conversation_id: number;
  direction: "inbound" | "outbound";
  /** `text`, `image`, `video`, `audio`, `document`, `sticker`, `location`, `contacts`, `interactive`, `button`, `reaction`, `order`, `system`, `unsupported`, `template`… */
  kind: string;
  /** Customer content: always rendered as text. */
  text: string | null;
  /** The type-specific part (caption, file name, coordinates, the emoji of a reaction…). */
  content?: unknown;
  status: string;
  /** Why delivery failed, when it did. */
  error?: string | null;
  created_at: Timestamp;
  sent_by: string | null;
  /** WhatsApp's id of the message (none for a send Meta has not accepted yet). */
  wamid?: string | null;
  /** The message this one quotes (WhatsApp's `context.id`). */
  reply_to?: ReplyTo | null;
  /** Reactions to this message; a reaction to a message we do not have stays a message of its own. */
  reactions?: Reaction[];
}

export interface ReplyTo {
  wamid: string;
  /** Our id of the quoted message, when it is in this conversation. */
  message_id: number | null;
  /** The start of its text (or `[kind]`) when we have it. Customer content: render as text. */
  preview: string | null;
}

export interface Reaction {
  emoji: string;
  from: "customer" | "business";
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
  decided_by?: string | null;
  decision_note?: string | null;
  /** Why execution failed, when it did. */
  error?: string | null;
  /** The operator's edit, when the action was approved with changes. */
  edited_params?: unknown;
  diff?: unknown;
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
  actor_kind?: string;
  actor: string;
  kind: string;
  conversation_id: number | null;
  run_id?: number | null;
  action_id: number | null;
  detail: unknown;
  prev_hash?: string;
  hash: string;
}

export interface AuditVerification {
  intact: boolean;
  records?: number | null;
  broken_at?: number | null;
  reason?: string | null;
}

/** The filters of `GET /api/audit` and its export. */
export interface AuditFilter {
  conversation_id?: string;
  /** An exact actor label. */
  actor?: string;
  /** Records about actions of this type. */
  action_kind?: string;
  /** Event kinds, comma separated. */
  kind?: string;
  from?: string;
  to?: string;
}

export const TASK_PRIORITIES = ["low", "normal", "high", "urgent"] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];
export type TaskState = "open" | "done" | "cancelled";

export interface Task {
  id: number;
  conversation_id: number | null;
  title: string;
  assignee: string | null;
  due_at: Timestamp | null;
  priority: TaskPriority;
  state: TaskState;
  created_at: Timestamp;
}

export interface NewTask {
  title: string;
  conversation_id?: number | null;
  assignee?: string | null;
  due_at?: string | null;
  priority: TaskPriority;
}

/** Free-form: shown read-only as key/value sections. */
export type Settings = Record<string, unknown>;

// ---------------------------------------------------------------------------
// Operators and roles

export const ROLES = ["agent", "supervisor", "owner"] as const;
export type Role = (typeof ROLES)[number];

export interface Me {
  /** Null for the engine's own token (the built-in owner). */
  operator_id?: number | null;
  name: string;
  role: Role;
  /** What audit records call this operator, e.g. `operator:3:Ana`. */
  label?: string;
}

export interface Operator {
  id: number;
  name: string;
  role: Role;
  active?: boolean;
  email?: string | null;
  created_at?: Timestamp;
  /** Only in the answer that creates an operator or rotates its token: shown once. */
  token?: string;
}

// ---------------------------------------------------------------------------
// Policies

export type Verdict = "auto" | "approval" | "forbid";

export interface PolicyCondition {
  confidence_below?: number | null;
  any_tag?: string[];
  outside_business_hours?: boolean | null;
  param_above?: { field: string; above: number } | null;
  param_equals?: { field: string; equals: unknown } | null;
}

export interface PolicyRule {
  action: string;
  when?: PolicyCondition;
  verdict: Verdict;
}

export interface PolicySet {
  /** 0 when no policy was ever saved (the built-in defaults apply). */
  version?: number | null;
  rules: PolicyRule[];
  /** Each built-in action kind's verdict when no rule matches. */
  defaults?: Record<string, Verdict>;
  created_at?: Timestamp | null;
  author?: string | null;
}

// ---------------------------------------------------------------------------
// Runs

export interface RunAttempt {
  /** 1-based (`number` in older shapes). */
  attempt?: number;
  number?: number;
  tier?: number;
  provider?: string;
  model?: string;
  raw_output?: string | null;
  validation_errors?: unknown[];
  error?: string | null;
  tokens_in?: number | null;
  tokens_out?: number | null;
  cost?: number | null;
  ttft_ms?: number | null;
  latency_ms?: number | null;
}

export interface ContextLayerView {
  name: string;
  tokens?: number | null;
  budget?: number | null;
  version?: number | null;
  content?: unknown;
  text?: string | null;
}

/** An action as a run shows it: with the policy's verdict and what executing it gave. */
export interface RunAction {
  id: number;
  kind: string;
  params: unknown;
  state: ActionState;
  policy_verdict?: string | null;
  policy_rule?: string | null;
  decided_by?: string | null;
  decided_at?: Timestamp | null;
  decision_note?: string | null;
  result?: unknown;
  error?: string | null;
  executed_at?: Timestamp | null;
  created_at?: Timestamp;
}

export interface Run {
  id: number;
  conversation_id?: number;
  state?: string;
  outcome?: string | null;
  tier?: number | null;
  started_at?: Timestamp | null;
  finished_at?: Timestamp | null;
  guidance?: string | null;
  reasoning?: string | null;
  confidence?: number | null;
  error?: string | null;
  attempts?: RunAttempt[];
  /** The context as sent: the four layers with their token counts, or the raw snapshot. */
  snapshot?: {
    layers?: ContextLayerView[] | Record<string, unknown>;
    layer_tokens?: Record<string, number>;
    layer_versions?: Record<string, unknown>;
    messages?: { role: string; content: string }[];
    truncated?: string[];
    hash?: string;
  } | null;
  layers?: ContextLayerView[] | Record<string, unknown>;
  /** The context as sent (`GET /api/runs/{id}`). */
  context?: {
    hash?: string;
    schema_version?: number;
    model?: string | null;
    layers?: ContextLayerView[];
    messages?: { role: string; content: string }[];
    truncated?: string[];
  } | null;
  provider?: string | null;
  model?: string | null;
  actions?: (Action | RunAction)[];
  tokens_in?: number | null;
  tokens_out?: number | null;
  cost?: number | null;
  latency_ms?: number | null;
}

// ---------------------------------------------------------------------------
// Metrics

/** One business day of `GET /api/metrics` (`DayMetrics` in docs/openapi.json). */
export interface MetricsDay {
  /** `YYYY-MM-DD` in the business's time zone. */
  date: string;
  inbound_messages: number;
  conversations: number;
  resolved_without_human: number;
  /** 0..1 of `conversations`; null when there were none. */
  resolved_without_human_share: number | null;
  escalated_conversations: number;
  /** 0..1 of `conversations`; null when there were none. */
  escalation_rate: number | null;
  escalations_opened: number;
  decisions: number;
  approved_unedited: number;
  approved_edited: number;
  rejected: number;
  /** `approved_unedited / decisions`; null when nothing was decided. */
  approvals_without_edits_share: number | null;
  replies_measured: number;
  unanswered: number;
  median_first_reply_ms: number | null;
  model_calls: number;
  tokens_in: number;
  tokens_out: number;
  /** USD; null when no call that day had a price. */
  cost_usd: number | null;
}

export interface Metrics {
  /** The IANA time zone whose calendar days these are. */
  time_zone: string;
  /** Oldest first; the last day is today so far. */
  days: MetricsDay[];
}

// ---------------------------------------------------------------------------
// Settings resources

export const CONTEXT_LAYERS = ["system", "domain"] as const;
export type EditableLayer = (typeof CONTEXT_LAYERS)[number];

export interface LayerVersion {
  layer?: string;
  version: number;
  content: string;
  author?: string | null;
  created_at?: Timestamp | null;
  tokens?: number | null;
  budget?: number | null;
}

export interface KnowledgeDoc {
  id: number;
  title: string;
  body: string;
  tags?: string[];
  updated_at?: Timestamp | null;
}

export interface Template {
  name: string;
  language: string;
  category?: string | null;
  /** How many body parameters it takes. */
  params?: number | null;
  parameters?: number | null;
  body?: string | null;
  /** Meta's template components (`[{type: "BODY", text}]`…). */
  components?: unknown;
  status?: string | null;
}

export interface Provider {
  name: string;
  kind: string;
  base_url?: string | null;
  model: string;
  key_present?: boolean;
  has_key?: boolean;
  api_key_env?: string | null;
  secret_name?: string | null;
  json_schema?: boolean;
  tools?: boolean;
  json_mode?: boolean;
  primary?: boolean;
  /** False for the built-in offline model and for a local provider added in Settings. */
  configured?: boolean;
  /** Its model file was chosen in Settings. */
  model_from_settings?: boolean;
}

/** A `.gguf` file in the data directory's models folder. */
export interface ModelFile {
  name: string;
  path: string;
  size_bytes: number;
  /** The default offline model. */
  default: boolean;
  /** Starts with the GGUF magic. */
  valid: boolean;
}

export interface ModelFolder {
  dir: string;
  items: ModelFile[];
}

/** What a provider or WhatsApp test answers. */
export interface ProviderTest {
  ok: boolean;
  latency_ms?: number | null;
  model?: string | null;
  reply?: string | null;
  error?: { code?: string; message?: string } | string | null;
  code?: string | null;
  message?: string | null;
  phone_number?: { display_phone_number?: string | null; verified_name?: string | null } | null;
}

export interface ReplayResult {
  run_id?: number;
  provider?: string;
  model?: string;
  raw_output?: string | null;
  answer?: unknown;
  validation_errors?: string[];
  error?: string | null;
  tokens_in?: number | null;
  tokens_out?: number | null;
  cost?: number | null;
  latency_ms?: number | null;
}

export interface WhatsappInfo {
  mode: string;
  phone_number_id?: string | null;
  waba_id?: string | null;
  api_version?: string | null;
  webhook_url?: string | null;
  /** False for a loopback or private address Meta cannot reach. */
  webhook_url_is_public?: boolean;
  verify_token_present?: boolean;
  verify_token_set?: boolean;
  access_token_present?: boolean;
  app_secret_present?: boolean;
}

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
  /** `offset`: the text's byte offset in the draft (0 starts it over); absent from older engines. */
  | { type: "token_delta"; run_id: number; seq: number; text: string; conversation_id?: number; offset?: number }
  /** The draft shown so far is void (a retry); the next delta starts again. */
  | { type: "draft_reset"; run_id: number; conversation_id: number }
  /** A late joiner's view of a draft being written: the text so far. */
  | { type: "draft"; run_id: number; conversation_id: number; text: string; seq?: number }
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
  /** A desktop notification was clicked: open that conversation. */
  | { type: "navigate"; conversation_id: number }
  /** The subscriber fell behind: refetch everything. */
  | { type: "lagged"; missed: number };

export type EngineEventType = EngineEvent["type"];

const EVENT_TYPES: ReadonlySet<string> = new Set<EngineEventType>([
  "message_received",
  "message_status",
  "run_started",
  "run_finished",
  "token_delta",
  "draft",
  "draft_reset",
  "action_proposed",
  "action_decided",
  "action_executed",
  "escalation_opened",
  "escalation_taken",
  "escalation_resolved",
  "conversation_updated",
  "inbox_failed",
  "navigate",
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
  return "conversation_id" in event && typeof event.conversation_id === "number" ? event.conversation_id : null;
}
