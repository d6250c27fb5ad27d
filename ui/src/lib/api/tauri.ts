// IPC client, for the UI inside the Tauri window. No token is needed there.
import { Channel, invoke as tauriInvoke } from "@tauri-apps/api/core";
import type { EngineClient, HttpMethod, StreamState } from "./client";
import { ApiError, errorFromBody } from "./errors";
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
import { isEngineEvent, type EngineEvent } from "./types";

export type InvokeFn = <T>(cmd: string, args?: Record<string, unknown>) => Promise<T>;

/** The part of a Tauri `Channel` this client uses. */
export interface EventChannel {
  onmessage: (message: unknown) => void;
}

export interface TauriClientOptions {
  invoke: InvokeFn;
  createChannel: () => EventChannel;
  backoff: BackoffOptions;
}

/**
 * What the `api_request` command resolves to. IPC carries JSON, so the body comes in the form
 * that keeps it intact: JSON as JSON, text as a string, anything else (media) as base64.
 */
export interface IpcResponse {
  status: number;
  content_type?: string | null;
  body: unknown;
  /** A binary body's exact bytes, base64. */
  base64?: string;
}

/** The bytes of a body as the command hands it back. */
export function ipcBodyBytes(response: IpcResponse): Uint8Array<ArrayBuffer> {
  if (typeof response.base64 === "string") {
    const raw = atob(response.base64);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }
  const body = response.body;
  if (body === null || body === undefined) return new Uint8Array(0);
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>;
}

export function createTauriClient(options: Partial<TauriClientOptions> = {}): EngineClient {
  const invoke: InvokeFn = options.invoke ?? ((cmd, args) => tauriInvoke(cmd, args));
  const createChannel = options.createChannel ?? (() => new Channel<unknown>());
  const backoff = options.backoff ?? DEFAULT_BACKOFF;

  async function send(method: HttpMethod, path: string, body?: unknown): Promise<IpcResponse> {
    let response: IpcResponse;
    try {
      response = await invoke<IpcResponse>("api_request", {
        request: { method, path, body: body === undefined ? null : body },
      });
    } catch (err) {
      throw new ApiError(0, "ipc_error", err instanceof Error ? err.message : String(err));
    }
    if (response.status >= 400) throw errorFromBody(response.status, response.body);
    return response;
  }

  async function request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    return (await send(method, path, body)).body as T;
  }

  /**
   * Contract with the backend: `subscribe_events` resolves once the channel is registered and
   * events then flow into it; it rejects when it cannot subscribe (then retried with backoff).
   * A lost engine shows through the health poll, which goes through `api_request` too.
   */
  function subscribe(onEvent: (event: EngineEvent) => void, onState: (state: StreamState) => void): () => void {
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let channel: EventChannel | null = null;
    const report = (state: StreamState) => {
      if (!stopped) onState(state);
    };

    function retry(): void {
      if (stopped) return;
      if (channel) channel.onmessage = () => {};
      channel = null;
      report("reconnecting");
      timer = setTimeout(connect, backoffDelay(attempt++, backoff));
    }

    function connect(): void {
      timer = null;
      if (stopped) return;
      const ch = createChannel();
      channel = ch;
      ch.onmessage = (message) => {
        if (stopped || channel !== ch || !isEngineEvent(message)) return;
        try {
          onEvent(message);
        } catch (err) {
          console.error("switchboard: event handler failed", err);
        }
      };
      invoke<unknown>("subscribe_events", { channel: ch }).then(
        () => {
          if (channel !== ch) return;
          attempt = 0;
          report("open");
        },
        () => {
          if (channel === ch) retry();
        },
      );
    }

    report("connecting");
    connect();
    return () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      if (channel) channel.onmessage = () => {};
      channel = null;
    };
  }

  /** Media and other files: the exact bytes, typed as the engine served them. */
  async function requestBlob(path: string): Promise<Blob> {
    const response = await send("GET", path);
    return new Blob([ipcBodyBytes(response)], { type: response.content_type ?? "" });
  }

  /** Text exports (CSV, JSON lines) come back as a string. */
  async function requestText(path: string): Promise<string> {
    return new TextDecoder().decode(ipcBodyBytes(await send("GET", path)));
  }

  return { kind: "tauri", request, requestBlob, requestText, subscribe };
}
