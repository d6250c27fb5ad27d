import { createParser, type EventSourceMessage } from "eventsource-parser";
import { isEngineEvent, type EngineEvent } from "./types";

/** Turn one SSE message into an EngineEvent, or null when it is not one this UI knows. */
export function decodeEventMessage(message: EventSourceMessage): EngineEvent | null {
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    return null;
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
  // The JSON carries its `type`; fall back to the SSE event name if it does not.
  if (!("type" in data) && message.event) data = { ...data, type: message.event };
  return isEngineEvent(data) ? data : null;
}

/**
 * Read an SSE body to its end, calling `onEvent` for every known event. Chunks may split
 * lines and events anywhere. Resolves when the stream ends; rejects if reading fails
 * (including when `signal` aborts the request).
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array | string>,
  onEvent: (event: EngineEvent) => void,
): Promise<void> {
  const parser = createParser({
    onEvent(message) {
      const event = decodeEventMessage(message);
      if (!event) return;
      try {
        onEvent(event);
      } catch (err) {
        // A failing listener must not take the stream down.
        console.error("switchboard: event handler failed", err);
      }
    },
  });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(typeof value === "string" ? value : decoder.decode(value, { stream: true }));
    }
    const tail = decoder.decode();
    if (tail) parser.feed(tail);
  } finally {
    parser.reset();
    try {
      reader.releaseLock();
    } catch {
      // Already released or errored.
    }
  }
}
