// HTTP + SSE client, for the UI opened in a browser against `switchboard serve`.
import type { EngineClient, HttpMethod, StreamState } from "./client";
import { ApiError, errorFromBody, NOT_AVAILABLE } from "./errors";
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
import { readEventStream } from "./sse";
import { loadToken } from "./token";
import type { EngineEvent } from "./types";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface HttpClientOptions {
  /** Engine origin, e.g. `http://127.0.0.1:7878`. */
  baseUrl: string;
  /** Injected for tests; defaults to the global fetch. */
  fetch: FetchLike;
  /** Current bearer token, read on every request. */
  getToken: () => string | null;
  /** Called whenever the engine answers 401. */
  onUnauthorized?: () => void;
  backoff: BackoffOptions;
}

function isHtml(response: Response, text: string): boolean {
  const type = response.headers?.get?.("content-type") ?? "";
  return type.includes("text/html") || /^\s*<!doctype html/i.test(text);
}

export function createHttpClient(options: Partial<HttpClientOptions> & { baseUrl: string }): EngineClient {
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const getToken = options.getToken ?? (() => loadToken());
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const base = options.baseUrl.replace(/\/+$/, "");
  const url = (path: string) => `${base}${path.startsWith("/") ? path : `/${path}`}`;

  function authHeaders(): Record<string, string> {
    const token = getToken();
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  async function request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json", ...authHeaders() };
    const init: RequestInit = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetchImpl(url(path), init);
    } catch (err) {
      throw new ApiError(0, "network_error", err instanceof Error ? err.message : String(err));
    }
    let text = "";
    try {
      text = await response.text();
    } catch {
      // An unreadable body is treated as empty.
    }
    let data: unknown = undefined;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!response.ok) {
      const error = errorFromBody(response.status, data);
      if (response.status === 401) options.onUnauthorized?.();
      throw error;
    }
    // An engine serving the UI answers unknown paths with index.html: that endpoint does not exist.
    if (isHtml(response, text)) throw new ApiError(404, NOT_AVAILABLE, `HTTP 404 (${path})`);
    return data as T;
  }

  async function requestBlob(path: string): Promise<Blob> {
    let response: Response;
    try {
      response = await fetchImpl(url(path), { headers: authHeaders(), cache: "no-store" });
    } catch (err) {
      throw new ApiError(0, "network_error", err instanceof Error ? err.message : String(err));
    }
    if (!response.ok) {
      let data: unknown = undefined;
      try {
        data = JSON.parse(await response.text());
      } catch {
        // Not JSON: the status says enough.
      }
      if (response.status === 401) options.onUnauthorized?.();
      throw errorFromBody(response.status, data);
    }
    if ((response.headers.get("content-type") ?? "").includes("text/html")) {
      throw new ApiError(404, NOT_AVAILABLE, `HTTP 404 (${path})`);
    }
    return response.blob();
  }

  function subscribe(onEvent: (event: EngineEvent) => void, onState: (state: StreamState) => void): () => void {
    let stopped = false;
    let attempt = 0;
    let controller: AbortController | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const report = (state: StreamState) => {
      if (!stopped) onState(state);
    };
    const deliver = (event: EngineEvent) => {
      if (!stopped) onEvent(event);
    };

    async function connect(): Promise<void> {
      timer = null;
      if (stopped) return;
      controller = new AbortController();
      try {
        const response = await fetchImpl(url("/api/events"), {
          headers: { ...authHeaders(), Accept: "text/event-stream" },
          signal: controller.signal,
          cache: "no-store",
        });
        if (response.status === 401) {
          report("unauthorized");
          if (!stopped) options.onUnauthorized?.();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        attempt = 0;
        report("open");
        await readEventStream(response.body, deliver);
      } catch {
        // Fall through to the reconnect below.
      }
      if (stopped) return;
      report("reconnecting");
      timer = setTimeout(() => void connect(), backoffDelay(attempt++, backoff));
    }

    report("connecting");
    void connect();
    return () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      controller?.abort();
    };
  }

  async function requestText(path: string): Promise<string> {
    return (await requestBlob(path)).text();
  }

  return { kind: "http", request, requestBlob, requestText, subscribe };
}
