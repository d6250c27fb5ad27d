import { describe, expect, it } from "vitest";
import { waitFor } from "../../test/fakes";
import type { StreamState } from "./client";
import { ApiError } from "./errors";
import { createTauriClient, type EventChannel, type InvokeFn } from "./tauri";
import type { EngineEvent } from "./types";

function fakeInvoke(impl: (cmd: string, args?: Record<string, unknown>) => unknown) {
  const calls: { cmd: string; args?: Record<string, unknown> }[] = [];
  const invoke: InvokeFn = async <T>(cmd: string, args?: Record<string, unknown>) => {
    calls.push({ cmd, args });
    return (await impl(cmd, args)) as T;
  };
  return { invoke, calls };
}

describe("Tauri client", () => {
  it("hands back a binary body byte for byte, typed as served", async () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const base64 = btoa(String.fromCharCode(...bytes));
    const { invoke, calls } = fakeInvoke(() => ({ status: 200, content_type: "application/pdf", body: null, base64 }));
    const blob = await createTauriClient({ invoke }).requestBlob!("/api/messages/7/media");
    expect(calls[0].args).toEqual({ request: { method: "GET", path: "/api/messages/7/media", body: null } });
    expect(blob.type).toBe("application/pdf");
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(bytes);
  });

  it("hands back text bodies as text and refuses a failed media request", async () => {
    const csv = "id,detail\n1,\"á\"\n";
    const text = await createTauriClient({
      invoke: fakeInvoke(() => ({ status: 200, content_type: "text/csv; charset=utf-8", body: csv })).invoke,
    }).requestText("/api/audit/export?format=csv");
    expect(text).toBe(csv);

    const err = await createTauriClient({
      invoke: fakeInvoke(() => ({ status: 404, body: { error: { code: "not_found", message: "No media" } } })).invoke,
    })
      .requestBlob!("/api/messages/8/media")
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404, code: "not_found" });
  });

  it("sends requests through invoke('api_request')", async () => {
    const { invoke, calls } = fakeInvoke(() => ({ status: 200, body: { items: [], next_cursor: null } }));
    const client = createTauriClient({ invoke });

    const result = await client.request("POST", "/api/escalations/5/handback", { note: "done" });

    expect(result).toEqual({ items: [], next_cursor: null });
    expect(calls).toEqual([
      {
        cmd: "api_request",
        args: { request: { method: "POST", path: "/api/escalations/5/handback", body: { note: "done" } } },
      },
    ]);
  });

  it("sends body null when there is none", async () => {
    const { invoke, calls } = fakeInvoke(() => ({ status: 200, body: {} }));
    await createTauriClient({ invoke }).request("GET", "/api/health");
    expect(calls[0].args).toEqual({ request: { method: "GET", path: "/api/health", body: null } });
  });

  it("throws ApiError for status >= 400", async () => {
    const { invoke } = fakeInvoke(() => ({
      status: 404,
      body: { error: { code: "not_found", message: "No conversation 9" } },
    }));
    const err = await createTauriClient({ invoke })
      .request("GET", "/api/conversations/9")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, code: "not_found", message: "No conversation 9" });
  });

  it("turns an IPC failure into an unreachable ApiError", async () => {
    const { invoke } = fakeInvoke(() => {
      throw "command api_request not found";
    });
    const err = (await createTauriClient({ invoke })
      .request("GET", "/api/health")
      .catch((e: unknown) => e)) as ApiError;
    expect(err.unreachable).toBe(true);
    expect(err.message).toContain("api_request");
  });

  it("subscribes with a channel and delivers known events only", async () => {
    const channels: EventChannel[] = [];
    const { invoke, calls } = fakeInvoke(() => undefined);
    const client = createTauriClient({
      invoke,
      createChannel: () => {
        const ch: EventChannel = { onmessage: () => {} };
        channels.push(ch);
        return ch;
      },
    });
    const events: EngineEvent[] = [];
    const states: StreamState[] = [];

    const stop = client.subscribe(
      (e) => events.push(e),
      (s) => states.push(s),
    );
    await waitFor(() => states.includes("open"));
    channels[0].onmessage({ type: "escalation_opened", escalation_id: 1, conversation_id: 2 });
    channels[0].onmessage({ type: "something_new" });
    channels[0].onmessage("garbage");
    stop();
    channels[0].onmessage({ type: "lagged", missed: 1 });

    expect(calls[0]).toEqual({ cmd: "subscribe_events", args: { channel: channels[0] } });
    expect(events).toEqual([{ type: "escalation_opened", escalation_id: 1, conversation_id: 2 }]);
    expect(states).toEqual(["connecting", "open"]);
  });

  it("retries subscribe_events with backoff when it fails", async () => {
    let attempts = 0;
    const { invoke } = fakeInvoke(() => {
      attempts += 1;
      if (attempts < 3) throw new Error("engine not ready");
    });
    const states: StreamState[] = [];
    const stop = createTauriClient({
      invoke,
      createChannel: () => ({ onmessage: () => {} }),
      backoff: { initialMs: 1, maxMs: 2 },
    }).subscribe(
      () => {},
      (s) => states.push(s),
    );
    await waitFor(() => states.includes("open"));
    stop();
    expect(states).toEqual(["connecting", "reconnecting", "reconnecting", "open"]);
    expect(attempts).toBe(3);
  });
});

describe("text answers through the window's IPC", () => {
  it("hands back a CSV or JSON-lines export as text", async () => {
    const invoke = (async (_cmd: string, args?: Record<string, unknown>) => {
      const path = (args?.request as { path: string }).path;
      return { status: 200, body: path.includes("csv") ? "id,kind\n1,action.approved\n" : { id: 1 } };
    }) as InvokeFn;
    const client = createTauriClient({
      invoke,
      createChannel: () => ({ onmessage: () => {} }),
    });
    expect(await client.requestText("/api/audit/export?format=csv")).toBe("id,kind\n1,action.approved\n");
    expect(await client.requestText("/api/audit/export?format=jsonl")).toBe('{"id":1}');
  });
});
