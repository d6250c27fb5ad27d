import type { StreamState } from "../api/client";
import type { Health } from "../api/types";

export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "disconnected";

/**
 * What the indicator shows, from the last health poll (`null`: none answered yet) and the
 * event stream: red when the engine does not answer, green when it answers and events flow,
 * amber while the stream is (re)connecting.
 */
export function deriveStatus(healthOk: boolean | null, stream: StreamState, everOpen: boolean): ConnectionStatus {
  if (healthOk === false || stream === "unauthorized") return "disconnected";
  if (stream === "open") return "connected";
  if (stream === "connecting" && !everOpen) return "connecting";
  return "reconnecting";
}

export class ConnectionState {
  health = $state<Health | null>(null);
  healthOk = $state<boolean | null>(null);
  stream = $state<StreamState>("connecting");
  everOpen = $state(false);

  get status(): ConnectionStatus {
    return deriveStatus(this.healthOk, this.stream, this.everOpen);
  }
}
