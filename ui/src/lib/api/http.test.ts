import { describe, expect, it, vi } from "vitest";
import { jsonResponse, streamOf, waitFor } from "../../test/fakes";
import type { StreamState } from "./client";
import { ApiError } from "./errors";
import { createHttpClient, type FetchLike } from "./http";
import type { EngineEvent } from "./types";

const BASE = "http://127.0.0.1:7878";

function headersOf(init: RequestInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const headers = init?.headers ?? {};
  const entries = Array.isArray(headers) ? headers : Object.entries(headers as Record<string, string>);
  for (const [key, value] of entries) out[key.toLowerCase()] = value;
  return out;
}

describe("HTTP client: requests", () => {
  it("sends the bearer token and parses JSON", async () => {
    const fetch = vi.fn<FetchLike>(async () => jsonResponse(200, { status: "ok" }));
    const client = createHttpClient({ baseUrl: `${BASE}/`, fetch, getToken: () => "s3cret" });

    const body = await client.request<{ status: string }>("GET", "/api/health");

    expect(body).toEqual({ status: "ok" });
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe(`${BASE}/api/health`);
    expect(init?.method).toBe("GET");
    expect(headersOf(init).authorization).toBe("Bearer s3cret");
  });

  it("sends a JSON body on POST", async () => {
    const fetch = vi.fn<FetchLike>(async () => jsonResponse(200, {}));
    const client = createHttpClient({ baseUrl: BASE, fetch, getToken: () => "t" });

    await client.request("POST", "/api/actions/7/reject", { reason: "wrong price" });

    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe(`${BASE}/api/actions/7/reject`);
    expect(init?.method).toBe("POST");
    expect(headersOf(init)["content-type"]).toBe("application/json");
    expect(JSON.parse(String(init?.body))).toEqual({ reason: "wrong price" });
  });

  it("maps {error:{code,message}} to ApiError", async () => {
    const fetch: FetchLike = async () =>
      jsonResponse(409, { error: { code: "action_not_pending", message: "Action 3 is already executed" } });
    const client = createHttpClient({ baseUrl: BASE, fetch, getToken: () => "t" });

    const err = await client.request("POST", "/api/actions/3/approve").catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: "action_not_pending", message: "Action 3 is already executed" });
  });

  it("reports 401 as unauthorized and calls onUnauthorized", async () => {
    const onUnauthorized = vi.fn();
    const fetch: FetchLike = async () => jsonResponse(401, { error: { code: "unauthorized", message: "bad token" } });
    const client = createHttpClient({ baseUrl: BASE, fetch, getToken: () => "old", onUnauthorized });

    const err = await client.request("GET", "/api/conversations").catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).unauthorized).toBe(true);
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it("gives a non-JSON error body a generic code", async () => {
    const fetch: FetchLike = async () => new Response("Bad Gateway", { status: 502 });
    const client = createHttpClient({ baseUrl: BASE, fetch, getToken: () => "t" });

    await expect(client.request("GET", "/api/health")).rejects.toMatchObject({ status: 502, code: "http_502" });
  });

  it("turns a network failure into an unreachable ApiError", async () => {
    const fetch: FetchLike = async () => {
      throw new TypeError("Failed to fetch");
    };
    const client = createHttpClient({ baseUrl: BASE, fetch, getToken: () => "t" });

    const err = (await client.request("GET", "/api/health").catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.unreachable).toBe(true);
    expect(err.code).toBe("network_error");
  });
});

describe("HTTP client: event stream", () => {
  function sseResponse(pieces: string[]): Response {
    return new Response(streamOf(pieces), { status: 200, headers: { "Content-Type": "text/event-stream" } });
  }

  it("parses events split across chunks, ignores unknown types, reports reconnecting at stream end", async () => {
    const pieces = [
      ": keep-alive\n\n",
      "event: message_received\nda",
      'ta: {"type":"message_received","conversation_id":4,',
      '"message_id":17}\n',
      "\nevent: brand_new_thing\ndata: {\"type\":\"brand_new_thing\",\"x\":1}\n\n",
      "event: lagged\r\ndata: {\"type\":\"lagged\",\"missed\":3}\r\n\r\n",
      "data: not json\n\n",
      'event: token_delta\ndata: {"type":"token_delta","run_id":2,"seq":0,"text":"Hol',
      'a 👋"}\n\n',
    ];
    const fetch = vi.fn<FetchLike>(async () => sseResponse(pieces));
    const events: EngineEvent[] = [];
    const states: StreamState[] = [];
    const client = createHttpClient({
      baseUrl: BASE,
      fetch,
      getToken: () => "tok",
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });

    const stop = client.subscribe(
      (e) => events.push(e),
      (s) => states.push(s),
    );
    await waitFor(() => states.includes("reconnecting"));
    stop();

    expect(events).toEqual([
      { type: "message_received", conversation_id: 4, message_id: 17 },
      { type: "lagged", missed: 3 },
      { type: "token_delta", run_id: 2, seq: 0, text: "Hola 👋" },
    ]);
    expect(states).toEqual(["connecting", "open", "reconnecting"]);
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe(`${BASE}/api/events`);
    expect(headersOf(init).authorization).toBe("Bearer tok");
    expect(headersOf(init).accept).toBe("text/event-stream");
  });

  it("splits multi-byte characters across chunks correctly", async () => {
    const bytes = new TextEncoder().encode('data: {"type":"lagged","missed":1,"note":"ação"}\n\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside "ç"
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, cut));
        controller.enqueue(bytes.slice(cut));
        controller.close();
      },
    });
    const events: unknown[] = [];
    const states: StreamState[] = [];
    const client = createHttpClient({
      baseUrl: BASE,
      fetch: async () => new Response(body, { status: 200 }),
      getToken: () => "t",
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    const stop = client.subscribe(
      (e) => events.push(e),
      (s) => states.push(s),
    );
    await waitFor(() => states.includes("reconnecting"));
    stop();
    expect(events).toEqual([{ type: "lagged", missed: 1, note: "ação" }]);
  });

  it("reconnects with backoff after the stream ends", async () => {
    let calls = 0;
    const fetch: FetchLike = async () => {
      calls += 1;
      if (calls === 1) throw new TypeError("connection refused");
      return sseResponse(['data: {"type":"lagged","missed":0}\n\n']);
    };
    const events: EngineEvent[] = [];
    const states: StreamState[] = [];
    const client = createHttpClient({ baseUrl: BASE, fetch, getToken: () => "t", backoff: { initialMs: 1, maxMs: 5 } });

    const stop = client.subscribe(
      (e) => events.push(e),
      (s) => states.push(s),
    );
    await waitFor(() => events.length >= 2);
    stop();

    expect(states.slice(0, 3)).toEqual(["connecting", "reconnecting", "open"]);
    expect(calls).toBeGreaterThanOrEqual(3);
  });

  it("stops and reports unauthorized on 401", async () => {
    const onUnauthorized = vi.fn();
    const fetch = vi.fn<FetchLike>(async () => jsonResponse(401, { error: { code: "unauthorized", message: "no" } }));
    const states: StreamState[] = [];
    const client = createHttpClient({
      baseUrl: BASE,
      fetch,
      getToken: () => "t",
      onUnauthorized,
      backoff: { initialMs: 1, maxMs: 1 },
    });

    const stop = client.subscribe(
      () => {},
      (s) => states.push(s),
    );
    await waitFor(() => states.includes("unauthorized"));
    await new Promise((r) => setTimeout(r, 20));
    stop();

    expect(states).toEqual(["connecting", "unauthorized"]);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it("reports nothing after unsubscribe", async () => {
    const states: StreamState[] = [];
    const client = createHttpClient({
      baseUrl: BASE,
      fetch: async () => sseResponse([]),
      getToken: () => "t",
      backoff: { initialMs: 1, maxMs: 1 },
    });
    const stop = client.subscribe(
      () => {},
      (s) => states.push(s),
    );
    stop();
    await new Promise((r) => setTimeout(r, 20));
    expect(states).toEqual(["connecting"]);
  });
});
