// Ties the client, the token, the health poll and the event stream together.
import type { EngineClient } from "../api/client";
import { createApi, type Api } from "../api/endpoints";
import { ApiError } from "../api/errors";
import type { Me, Role } from "../api/types";
import { clearToken, saveToken } from "../api/token";
import { ConnectionState } from "./connection.svelte";
import { EventHub, refreshOn } from "./events";

const RANK: Record<Role, number> = { agent: 0, supervisor: 1, owner: 2 };

/** True when `role` is at least `needed`. */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return (RANK[role] ?? 0) >= RANK[needed];
}

/** Pending approvals and open escalations, for the navigation's counters (`null`: unknown). */
export interface QueueCounts {
  approvals: number | null;
  escalations: number | null;
}

export const HEALTH_POLL_MS = 5_000;

export interface SessionOptions {
  client: EngineClient;
  /** Browser mode only: the token in force at startup (`null`: none yet). */
  initialToken?: string | null;
  /** Browser mode only: the engine URL, shown on the connect form. */
  baseUrl?: string;
  pollMs?: number;
}

export class Session {
  readonly client: EngineClient;
  readonly api: Api;
  readonly hub = new EventHub();
  readonly connection = new ConnectionState();
  readonly baseUrl: string;
  /** Browser mode: no usable token, the connect form is shown. */
  needsToken = $state(false);
  /** The engine refused the last token. */
  tokenRejected = $state(false);
  /** Who this token belongs to; `null` while unknown or when the engine has no operators. */
  me = $state<Me | null>(null);
  counts = $state<QueueCounts>({ approvals: null, escalations: null });
  #stopCounts: (() => void) | null = null;

  #token: string | null;
  #pollMs: number;
  #pollTimer: ReturnType<typeof setInterval> | null = null;
  #unsubscribe: (() => void) | null = null;
  #running = false;

  constructor(options: SessionOptions) {
    this.client = options.client;
    this.api = createApi(this.client);
    this.baseUrl = options.baseUrl ?? "";
    this.#token = options.initialToken ?? null;
    this.#pollMs = options.pollMs ?? HEALTH_POLL_MS;
  }

  get token(): string | null {
    return this.#token;
  }

  get usesToken(): boolean {
    return this.client.kind === "http";
  }

  start(): void {
    if (this.#running) return;
    if (this.usesToken && !this.#token) {
      this.needsToken = true;
      return;
    }
    this.#running = true;
    this.needsToken = false;
    this.connection.stream = "connecting";
    this.#unsubscribe = this.client.subscribe(
      (event) => this.hub.emit(event),
      (state) => {
        const reopened = state === "open" && this.connection.everOpen && this.connection.stream !== "open";
        this.connection.stream = state;
        if (state === "open") this.connection.everOpen = true;
        if (state === "unauthorized") this.unauthorized();
        if (reopened) this.hub.emit({ type: "resync" });
      },
    );
    void this.pollHealth();
    this.#pollTimer = setInterval(() => void this.pollHealth(), this.#pollMs);
    void this.loadMe();
    void this.loadCounts();
    this.#stopCounts = refreshOn(
      this.hub,
      (event) => event.type.startsWith("action_") || event.type.startsWith("escalation_"),
      () => {
        void this.loadCounts();
        if (this.me === null) void this.loadMe();
      },
      500,
    );
  }

  /** May this operator do what needs `role`? Without operators (one engine token) it is the owner. */
  can(role: Role): boolean {
    return this.me === null || roleAtLeast(this.me.role, role);
  }

  async loadMe(): Promise<void> {
    try {
      const me = await this.api.me();
      if (this.#running && me && typeof me.role === "string") this.me = me;
    } catch {
      // No such endpoint, or not reachable yet: the health poll reports the connection.
    }
  }

  async loadCounts(): Promise<void> {
    const count = async (fetch: () => Promise<{ items: unknown[]; next_cursor: string | null }>) => {
      try {
        const page = await fetch();
        return page.next_cursor ? Math.max(page.items.length, 100) : page.items.length;
      } catch {
        return null;
      }
    };
    const [approvals, escalations] = await Promise.all([
      count(() => this.api.actions({ state: "pending", limit: 100 })),
      count(() => this.api.escalations({ state: "open" })),
    ]);
    if (this.#running) this.counts = { approvals, escalations };
  }

  stop(): void {
    this.#running = false;
    this.#stopCounts?.();
    this.#stopCounts = null;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    if (this.#pollTimer !== null) clearInterval(this.#pollTimer);
    this.#pollTimer = null;
  }

  async pollHealth(): Promise<void> {
    try {
      const health = await this.api.health();
      if (!this.#running) return;
      this.connection.health = health;
      this.connection.healthOk = true;
    } catch (err) {
      if (!this.#running) return;
      if (err instanceof ApiError && err.unauthorized) {
        this.unauthorized();
        return;
      }
      this.connection.healthOk = false;
    }
  }

  /** The engine refused the token: stop and ask for another. */
  unauthorized(): void {
    if (!this.usesToken) return;
    this.stop();
    this.tokenRejected = true;
    this.needsToken = true;
  }

  /** Use a token entered on the connect form. */
  connectWith(token: string): void {
    const value = token.trim();
    if (!value) return;
    saveToken(value);
    this.#token = value;
    this.tokenRejected = false;
    this.stop();
    this.start();
    this.hub.emit({ type: "resync" });
  }

  forgetToken(): void {
    clearToken();
    this.#token = null;
    this.stop();
    this.tokenRejected = false;
    this.needsToken = true;
  }
}
