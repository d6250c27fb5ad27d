import type { EngineClient, HttpMethod, StreamState } from "../lib/api/client";
import { createApi } from "../lib/api/endpoints";
import type { EngineEvent } from "../lib/api/types";
import { appContextMap } from "../lib/context";
import { EventHub } from "../lib/stores/events";

type Handler = (body: unknown, path: string) => unknown;

/** An EngineClient answering from a table of `"GET /api/..."` handlers (path without query). */
export class FakeClient implements EngineClient {
  readonly kind = "http" as const;
  calls: { method: HttpMethod; path: string; body: unknown }[] = [];
  onEvent: ((event: EngineEvent) => void) | null = null;
  onState: ((state: StreamState) => void) | null = null;
  unsubscribed = false;

  constructor(private handlers: Record<string, Handler> = {}) {}

  async request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    this.calls.push({ method, path, body });
    const handler = this.handlers[`${method} ${path.split("?")[0]}`];
    if (!handler) throw new Error(`no fake for ${method} ${path}`);
    return (await handler(body, path)) as T;
  }

  async requestText(path: string): Promise<string> {
    const body = await this.request<unknown>("GET", path);
    return typeof body === "string" ? body : JSON.stringify(body);
  }

  subscribe(onEvent: (event: EngineEvent) => void, onState: (state: StreamState) => void): () => void {
    this.onEvent = onEvent;
    this.onState = onState;
    return () => {
      this.unsubscribed = true;
    };
  }
}

export function page<T>(items: T[], next_cursor: string | null = null) {
  return { items, next_cursor };
}

/** Render options providing the app context over a fake client. */
export function withContext(client: EngineClient, hub = new EventHub()): { context: Map<unknown, unknown> } {
  return { context: appContextMap({ api: createApi(client), hub }) };
}

/** A ReadableStream that yields the given string pieces as UTF-8 chunks, then ends. */
export function streamOf(pieces: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < pieces.length) controller.enqueue(encoder.encode(pieces[i++]));
      else controller.close();
    },
  });
}

export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

export async function waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}
