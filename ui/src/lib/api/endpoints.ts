// Typed calls of the engine API, over whichever EngineClient runs.
import type { EngineClient } from "./client";
import { ApiError, NOT_AVAILABLE } from "./errors";
import type {
  Action,
  AuditFilter,
  AuditRecord,
  AuditVerification,
  Conversation,
  ConversationState,
  EditableLayer,
  Escalation,
  EscalationState,
  Health,
  KnowledgeDoc,
  LayerVersion,
  Me,
  Message,
  Metrics,
  NewTask,
  Operator,
  Page,
  PolicySet,
  ModelFolder,
  Provider,
  ProviderTest,
  ReplayResult,
  Role,
  Run,
  Settings,
  Task,
  TaskState,
  Template,
  WhatsappInfo,
} from "./types";

export function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export interface ConversationQuery {
  state?: ConversationState | null;
  q?: string | null;
  cursor?: string | null;
  limit?: number | null;
}

/** What the composer sends: free text, or a template (outside the 24-hour window). */
export type OutgoingMessage =
  | { text: string }
  | { template: { name: string; language: string; params: string[] } };

export type Api = ReturnType<typeof createApi>;

/** How the engine answers the creation of an operator or a new token: the token, once. */
interface OperatorWithToken {
  operator: Operator;
  token: string;
}

function withToken(answer: Operator | OperatorWithToken): Operator {
  return "operator" in answer ? { ...answer.operator, token: answer.token } : answer;
}

/** Accepts `T[]` or `{ items: T[] }` (list endpoints differ in shape between engine versions). */
function items<T>(value: T[] | { items?: T[] } | null | undefined): T[] {
  if (Array.isArray(value)) return value;
  return value?.items ?? [];
}

export function createApi(client: EngineClient) {
  const get = <T>(path: string) => client.request<T>("GET", path);
  const post = <T>(path: string, body?: unknown) => client.request<T>("POST", path, body);
  const put = <T>(path: string, body?: unknown) => client.request<T>("PUT", path, body);
  const patch = <T>(path: string, body?: unknown) => client.request<T>("PATCH", path, body);
  const del = <T>(path: string) => client.request<T>("DELETE", path);
  const list = async <T>(path: string) => items(await get<T[] | { items?: T[] }>(path));

  function blob(path: string): Promise<Blob> {
    if (!client.requestBlob) {
      return Promise.reject(new ApiError(404, NOT_AVAILABLE, "binary content is not available here"));
    }
    return client.requestBlob(path);
  }

  return {
    health: () => get<Health>("/api/health"),
    me: () => get<Me>("/api/me"),

    conversations: (params: ConversationQuery = {}) =>
      get<Page<Conversation>>(`/api/conversations${query({ ...params })}`),
    conversation: (id: number) => get<Conversation>(`/api/conversations/${id}`),
    messages: (id: number, cursor?: string | null, limit?: number) =>
      get<Page<Message>>(`/api/conversations/${id}/messages${query({ cursor, limit })}`),
    media: (messageId: number) => blob(`/api/messages/${messageId}/media`),
    send: (conversationId: number, message: OutgoingMessage) =>
      post<Message | unknown>(`/api/conversations/${conversationId}/messages`, message),
    takeoverConversation: (id: number) => post<unknown>(`/api/conversations/${id}/takeover`),
    handbackConversation: (id: number, note: string) => post<unknown>(`/api/conversations/${id}/handback`, { note }),
    escalateConversation: (id: number, reason: string) =>
      post<unknown>(`/api/conversations/${id}/escalate`, { reason }),

    actions: (params: { state?: string; conversation_id?: number; cursor?: string | null; limit?: number } = {
      state: "pending",
    }) => get<Page<Action>>(`/api/actions${query(params)}`),
    approve: (id: number, params?: unknown) =>
      post<Action>(`/api/actions/${id}/approve`, params === undefined ? undefined : { params }),
    reject: (id: number, reason: string) => post<Action>(`/api/actions/${id}/reject`, { reason }),
    retry: (id: number, guidance: string) => post<unknown>(`/api/actions/${id}/retry`, { guidance }),

    escalations: (params: { state?: EscalationState; cursor?: string | null } = { state: "open" }) =>
      get<Page<Escalation>>(`/api/escalations${query(params)}`),
    takeover: (id: number) => post<unknown>(`/api/escalations/${id}/takeover`),
    handback: (id: number, note: string) => post<unknown>(`/api/escalations/${id}/handback`, { note }),

    run: (id: number) => get<Run>(`/api/runs/${id}`),
    replay: (id: number, provider: string) => post<ReplayResult>(`/api/runs/${id}/replay`, { provider }),

    audit: (filter: AuditFilter & { cursor?: string | null; limit?: number } = {}) =>
      get<Page<AuditRecord>>(`/api/audit${query({ ...filter })}`),
    auditVerify: () => get<AuditVerification>("/api/audit/verify"),
    auditExport: async (format: "jsonl" | "csv", filter: AuditFilter = {}) => {
      const text = await client.requestText(`/api/audit/export${query({ format, ...filter })}`);
      return new Blob([text], { type: format === "csv" ? "text/csv" : "application/x-ndjson" });
    },

    metrics: (days: number) => get<Metrics>(`/api/metrics${query({ days })}`),

    tasks: (params: { state?: TaskState | null; conversation_id?: number; cursor?: string | null } = {}) =>
      get<Page<Task>>(`/api/tasks${query(params)}`),
    createTask: (task: NewTask) => post<Task>("/api/tasks", task),
    updateTask: (id: number, change: Partial<Pick<Task, "state" | "assignee" | "priority" | "due_at" | "title">>) =>
      patch<Task>(`/api/tasks/${id}`, change),

    settings: () => get<Settings>("/api/settings"),
    operators: () => list<Operator>("/api/operators"),
    createOperator: async (op: { name: string; role: Role }) =>
      withToken(await post<Operator | OperatorWithToken>("/api/operators", op)),
    updateOperator: (id: number, change: { role?: Role; active?: boolean }) =>
      patch<Operator>(`/api/operators/${id}`, change),
    rotateToken: async (id: number) =>
      withToken(await post<Operator | OperatorWithToken>(`/api/operators/${id}/token`)),

    policies: () => get<PolicySet>("/api/policies"),
    savePolicies: (rules: PolicySet["rules"]) => put<PolicySet>("/api/policies", { rules }),
    policyVersions: () => list<PolicySet>("/api/policies/versions"),

    /** Both editable layers as they are now. */
    layers: () => get<Record<EditableLayer, LayerVersion>>("/api/context-layers"),
    saveLayer: (layer: EditableLayer, content: string, baseVersion?: number) =>
      put<LayerVersion>(`/api/context-layers/${layer}`, { content, base_version: baseVersion }),
    layerVersions: async (layer: EditableLayer) => {
      const answer = await get<LayerVersion[] | { versions?: LayerVersion[]; items?: LayerVersion[] }>(
        `/api/context-layers/${layer}/versions`,
      );
      return Array.isArray(answer) ? answer : (answer.versions ?? answer.items ?? []);
    },

    knowledge: (q?: string) => list<KnowledgeDoc>(`/api/knowledge${query({ q })}`),
    createKnowledge: (doc: Omit<KnowledgeDoc, "id">) => post<KnowledgeDoc>("/api/knowledge", doc),
    updateKnowledge: (id: number, doc: Omit<KnowledgeDoc, "id">) => put<KnowledgeDoc>(`/api/knowledge/${id}`, doc),
    deleteKnowledge: (id: number) => del<unknown>(`/api/knowledge/${id}`),

    templates: () => list<Template>("/api/templates"),
    providers: () => list<Provider>("/api/providers"),
    testProvider: (name: string) => post<ProviderTest>(`/api/providers/${encodeURIComponent(name)}/test`),
    /** Adds a local provider or gives one another model file (a name in the models folder or an absolute path). */
    setLocalProvider: (name: string, model: string) =>
      put<Provider>(`/api/providers/${encodeURIComponent(name)}`, { kind: "local", model }),
    models: () => get<ModelFolder>("/api/models"),
    saveSecret: (name: string, value: string) => put<unknown>(`/api/secrets/${encodeURIComponent(name)}`, { value }),
    whatsapp: () => get<WhatsappInfo>("/api/whatsapp"),
    testWhatsapp: () => post<ProviderTest>("/api/whatsapp/test"),

    simulateCustomer: (message: {
      from: string;
      name?: string | null;
      text: string | null;
      /** A file the customer sends (sandbox only). */
      media?: { mime_type: string; data_base64: string; filename?: string | null };
    }) =>
      post<{ inbox_id: number }>("/api/sandbox/messages", message),
  };
}
