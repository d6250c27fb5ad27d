// One pipeline run as the audit view shows it, from `GET /api/runs/{id}` or, on engines
// without it, from the run's audit records.
import type { Action, AuditRecord, ContextLayerView, Run, RunAction, RunAttempt } from "./api/types";

export const LAYER_ORDER = ["system", "domain", "session", "request"] as const;

export interface RunModel {
  id: number;
  conversationId: number | null;
  outcome: string | null;
  tier: number | null;
  layers: ContextLayerView[];
  /** The messages as sent, when the layers' own texts are not available. */
  sent: { role: string; content: string }[];
  truncated: string[];
  contextHash: string | null;
  attempts: RunAttempt[];
  actions: (Action | RunAction)[];
  provider: string | null;
  model: string | null;
  guidance: string | null;
  decisions: AuditRecord[];
  deliveries: AuditRecord[];
  tokensIn: number | null;
  tokensOut: number | null;
  cost: number | null;
  latencyMs: number | null;
  /** Built from the audit trail because the engine has no run endpoint. */
  fromAudit: boolean;
}

function obj(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function layerText(content: unknown): string | null {
  if (typeof content === "string") return content;
  if (content === null || content === undefined) return null;
  return JSON.stringify(content, null, 2);
}

/** Layers in their fixed order, whatever shape the engine sent them in. */
export function normalizeLayers(raw: unknown, tokens?: Record<string, number>, versions?: Record<string, unknown>): ContextLayerView[] {
  const found = new Map<string, ContextLayerView>();
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      const e = obj(entry);
      const name = typeof e.name === "string" ? e.name : typeof e.layer === "string" ? e.layer : null;
      if (!name) continue;
      found.set(name, {
        name,
        tokens: num(e.tokens) ?? num(e.token_count) ?? tokens?.[name] ?? null,
        budget: num(e.budget),
        version: num(e.version) ?? num(versions?.[name]),
        text: layerText(e.text ?? e.content),
      });
    }
  } else if (raw && typeof raw === "object") {
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      const e = obj(value);
      const hasShape = "text" in e || "content" in e || "tokens" in e;
      found.set(name, {
        name,
        tokens: num(e.tokens) ?? num(e.token_count) ?? tokens?.[name] ?? null,
        budget: num(e.budget),
        version: num(e.version) ?? num(versions?.[name]),
        text: hasShape ? layerText(e.text ?? e.content) : layerText(value),
      });
    }
  }
  for (const name of LAYER_ORDER) {
    if (!found.has(name) && tokens && name in tokens) {
      found.set(name, { name, tokens: tokens[name], version: num(versions?.[name]), text: null });
    }
  }
  const ordered = LAYER_ORDER.filter((n) => found.has(n)).map((n) => found.get(n)!);
  const extra = [...found.values()].filter((l) => !(LAYER_ORDER as readonly string[]).includes(l.name));
  return [...ordered, ...extra];
}

/** The run's own records and those of the actions it proposed. */
function related(records: AuditRecord[], runId: number, actions: (Action | RunAction)[]): AuditRecord[] {
  // A run's own actions (`RunAction`s carry no run id) and those of the list that name it.
  const ids = new Set(actions.filter((a) => !("run_id" in a) || a.run_id === runId).map((a) => a.id));
  return records
    .filter((r) => r.run_id === runId || (r.action_id !== null && ids.has(r.action_id)))
    .sort((a, b) => a.id - b.id);
}

const sum = (values: (number | null | undefined)[]) => {
  const known = values.filter((v): v is number => typeof v === "number");
  return known.length ? known.reduce((a, b) => a + b, 0) : null;
};

export function fromRun(run: Run, records: AuditRecord[] = []): RunModel {
  // `context` is the engine's shape; `snapshot` and top-level `layers` are tolerated.
  const context = obj(run.context ?? run.snapshot);
  const tokens = (context.layer_tokens ?? undefined) as Record<string, number> | undefined;
  const versions = (context.layer_versions ?? undefined) as Record<string, unknown> | undefined;
  const layers = normalizeLayers(context.layers ?? run.layers, tokens, versions);
  const attempts = (run.attempts ?? []).map((a) => ({ ...a, number: a.number ?? a.attempt }));
  const mine = related(records, run.id, run.actions ?? []);
  return {
    id: run.id,
    conversationId: run.conversation_id ?? null,
    outcome: run.outcome ?? run.state ?? null,
    tier: run.tier ?? null,
    layers,
    sent: Array.isArray(context.messages) ? (context.messages as RunModel["sent"]) : [],
    truncated: Array.isArray(context.truncated) ? (context.truncated as string[]) : [],
    contextHash: typeof context.hash === "string" ? context.hash : null,
    attempts,
    actions: run.actions ?? [],
    provider: run.provider ?? null,
    model: run.model ?? null,
    guidance: run.guidance ?? null,
    decisions: mine.filter((r) => r.kind.startsWith("action.") && r.kind !== "action.proposed"),
    deliveries: mine.filter((r) => r.kind.startsWith("message.") || r.kind === "action.executed" || r.kind === "action.failed"),
    tokensIn: run.tokens_in ?? sum(attempts.map((a) => a.tokens_in)),
    tokensOut: run.tokens_out ?? sum(attempts.map((a) => a.tokens_out)),
    cost: run.cost ?? sum(attempts.map((a) => a.cost)),
    latencyMs: run.latency_ms ?? sum(attempts.map((a) => a.latency_ms)),
    fromAudit: false,
  };
}

/** What the audit trail alone tells about a run (no layer texts: those need the run endpoint). */
export function fromAudit(runId: number, records: AuditRecord[], actions: Action[]): RunModel {
  const mine = related(records, runId, actions);
  const attempts: RunAttempt[] = mine
    .filter((r) => r.kind.startsWith("run.attempt"))
    .map((r) => {
      const d = obj(r.detail);
      return {
        number: num(d.attempt) ?? undefined,
        tier: num(d.tier) ?? undefined,
        provider: typeof d.provider === "string" ? d.provider : r.actor,
        model: typeof d.model === "string" ? d.model : undefined,
        raw_output: typeof d.raw_output === "string" ? d.raw_output : null,
        validation_errors: Array.isArray(d.validation_errors) ? (d.validation_errors as RunAttempt["validation_errors"]) : [],
        error: typeof d.error === "string" ? d.error : null,
        tokens_in: num(d.tokens_in),
        tokens_out: num(d.tokens_out),
        cost: num(d.cost),
        ttft_ms: num(d.ttft_ms),
        latency_ms: num(d.latency_ms),
      };
    });
  const finished = obj(mine.find((r) => r.kind === "run.finished")?.detail);
  const hash = mine.map((r) => obj(r.detail).context_hash).find((h) => typeof h === "string");
  return {
    id: runId,
    conversationId: mine[0]?.conversation_id ?? null,
    outcome: typeof finished.state === "string" ? finished.state : null,
    tier: num(finished.tier),
    layers: [],
    sent: [],
    truncated: [],
    contextHash: typeof hash === "string" ? hash : null,
    attempts,
    actions: actions.filter((a) => a.run_id === runId),
    provider: attempts.at(-1)?.provider ?? null,
    model: attempts.at(-1)?.model ?? null,
    guidance: null,
    decisions: mine.filter((r) => r.kind.startsWith("action.") && r.kind !== "action.proposed"),
    deliveries: mine.filter((r) => r.kind.startsWith("message.") || r.kind === "action.executed" || r.kind === "action.failed"),
    tokensIn: sum(attempts.map((a) => a.tokens_in)),
    tokensOut: sum(attempts.map((a) => a.tokens_out)),
    cost: sum(attempts.map((a) => a.cost)),
    latencyMs: sum(attempts.map((a) => a.latency_ms)),
    fromAudit: true,
  };
}

/** The original and edited text of an approval with changes, when the record carries them. */
export function editOf(record: AuditRecord): { before: string; after: string } | null {
  const d = obj(record.detail);
  const before = obj(d.original ?? d.params_before ?? d.before);
  const after = obj(d.edited ?? d.params ?? d.params_after ?? d.after);
  if (!("original" in d || "params_before" in d || "before" in d)) return null;
  const text = (p: Record<string, unknown>) => (typeof p.text === "string" ? p.text : JSON.stringify(p, null, 2));
  return { before: text(before), after: text(after) };
}
