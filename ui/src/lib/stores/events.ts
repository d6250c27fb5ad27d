// Fan-out of engine events to the views, and debounced "refresh when relevant".
import type { EngineEvent } from "../api/types";

/** `resync` is raised locally when the stream came back after a loss: refetch everything. */
export type HubEvent = EngineEvent | { type: "resync" };

export class EventHub {
  #listeners = new Set<(event: HubEvent) => void>();

  listen(listener: (event: HubEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  emit(event: HubEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (err) {
        console.error("switchboard: event listener failed", err);
      }
    }
  }
}

/** True for the events after which every list must be refetched. */
export function isResync(event: HubEvent): boolean {
  return event.type === "lagged" || event.type === "resync";
}

/**
 * Call `refresh` (debounced by `delayMs`) after any event that `matches`, and always after a
 * lag or a reconnect. Returns the function that stops listening.
 */
export function refreshOn(
  hub: EventHub,
  matches: (event: EngineEvent) => boolean,
  refresh: () => void,
  delayMs = 300,
): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const stopListening = hub.listen((event) => {
    if (!(isResync(event) || matches(event as EngineEvent))) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      refresh();
    }, delayMs);
  });
  return () => {
    stopListening();
    if (timer !== null) clearTimeout(timer);
  };
}
