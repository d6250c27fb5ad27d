// The one way the UI talks to the engine: inside the Tauri window through IPC,
// in a browser through HTTP + SSE against `switchboard serve`.
import type { EngineEvent } from "./types";
import { createHttpClient, type HttpClientOptions } from "./http";
import { createTauriClient, type TauriClientOptions } from "./tauri";

export { ApiError, isNotAvailable } from "./errors";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * State of the event stream:
 * - `connecting`: first attempt under way;
 * - `open`: events flow;
 * - `reconnecting`: the stream was lost (or never came up) and is being retried with backoff;
 * - `unauthorized`: the engine refused the token; nothing more is tried until a new one is given.
 */
export type StreamState = "connecting" | "open" | "reconnecting" | "unauthorized";

export interface EngineClient {
  readonly kind: "tauri" | "http";
  request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T>;
  /** Binary GET (media): over HTTP with the token in a browser, as base64 over IPC in the window. */
  requestBlob?(path: string): Promise<Blob>;
  /** A GET answered with text that is not one JSON value (CSV, JSON lines). */
  requestText(path: string): Promise<string>;
  /** Start receiving events; returns the function that stops it. */
  subscribe(onEvent: (event: EngineEvent) => void, onState: (state: StreamState) => void): () => void;
}

/** True inside the Tauri window. */
export function inTauri(win: Window = window): boolean {
  return "__TAURI_INTERNALS__" in win;
}

export interface CreateClientOptions {
  http?: Partial<HttpClientOptions>;
  tauri?: Partial<TauriClientOptions>;
}

/** The base URL of the engine in a browser: `VITE_API_BASE`, else this page's origin. */
export function defaultApiBase(): string {
  const fromEnv = import.meta.env.VITE_API_BASE;
  return (fromEnv && fromEnv.trim()) || window.location.origin;
}

/** Pick the implementation for where the UI runs. */
export function createEngineClient(options: CreateClientOptions = {}): EngineClient {
  if (inTauri()) return createTauriClient(options.tauri);
  return createHttpClient({ baseUrl: defaultApiBase(), ...options.http });
}
