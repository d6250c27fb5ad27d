// Typed calls of the engine API, over whichever EngineClient runs.
import type { EngineClient } from "./client";
import type {
  Action,
  AuditRecord,
  Conversation,
  ConversationState,
  Escalation,
  EscalationState,
  Health,
  Message,
  Page,
  Settings,
  Task,
} from "./types";

function query(params: Record<string, string | number | null | undefined>): string {
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
}

export type Api = ReturnType<typeof createApi>;

export function createApi(client: EngineClient) {
  const get = <T>(path: string) => client.request<T>("GET", path);
  const post = <T>(path: string, body?: unknown) => client.request<T>("POST", path, body);

  return {
    health: () => get<Health>("/api/health"),

    conversations: (params: ConversationQuery = {}) =>
      get<Page<Conversation>>(`/api/conversations${query({ ...params })}`),
    conversation: (id: number) => get<Conversation>(`/api/conversations/${id}`),
    messages: (id: number, cursor?: string | null) =>
      get<Page<Message>>(`/api/conversations/${id}/messages${query({ cursor })}`),

    actions: (params: { state?: string; cursor?: string | null } = { state: "pending" }) =>
      get<Page<Action>>(`/api/actions${query(params)}`),
    approve: (id: number) => post<unknown>(`/api/actions/${id}/approve`),
    reject: (id: number, reason: string) => post<unknown>(`/api/actions/${id}/reject`, { reason }),

    escalations: (params: { state?: EscalationState; cursor?: string | null } = { state: "open" }) =>
      get<Page<Escalation>>(`/api/escalations${query(params)}`),
    takeover: (id: number) => post<unknown>(`/api/escalations/${id}/takeover`),
    handback: (id: number, note: string) => post<unknown>(`/api/escalations/${id}/handback`, { note }),

    audit: (cursor?: string | null) => get<Page<AuditRecord>>(`/api/audit${query({ cursor })}`),
    tasks: (cursor?: string | null) => get<Page<Task>>(`/api/tasks${query({ cursor })}`),
    settings: () => get<Settings>("/api/settings"),
  };
}
