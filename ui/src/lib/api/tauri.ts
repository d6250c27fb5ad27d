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

/** What the `api_request` command resolves to. */
export interface IpcResponse {
  status: number;
  body: unknown;
}

export function createTauriClient(options: Partial<TauriClientOptions> = {}): EngineClient {
  const invoke: InvokeFn = options.invoke ?? ((cmd, args) => tauriInvoke(cmd, args));
  const createChannel = options.createChannel ?? (() => new Channel<unknown>());
  const backoff = options.backoff ?? DEFAULT_BACKOFF;

  async function request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    let response: IpcResponse;
    try {
      response = await invoke<IpcResponse>("api_request", {
        request: { method, path, body: body === undefined ? null : body },
      });
    } catch (err) {
      throw new ApiError(0, "ipc_error", err instanceof Error ? err.message : String(err));
    }
    if (response.status >= 400) throw errorFromBody(response.status, response.body);
    return response.body as T;
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

  /** The command hands back a body that is not JSON as a string (CSV, JSON lines). */
  async function requestText(path: string): Promise<string> {
    const body = await request<unknown>("GET", path);
    if (typeof body === "string") return body;
    return body === null || body === undefined ? "" : JSON.stringify(body);
  }

  return { kind: "tauri", request, requestText, subscribe };
}
