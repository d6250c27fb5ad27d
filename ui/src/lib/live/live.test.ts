import { describe, expect, it } from "vitest";
import { confidencePercent, editableText, parseEdit } from "../action-kinds";
import { auditQuery, detailSummary } from "../audit";
import { createHttpClient } from "../api/http";
import { ApiError, errorFromBody, isNotAvailable } from "../api/errors";
import type { AuditRecord, Message, Metrics } from "../api/types";
import metricsResponse from "../../test/metrics-response.json";
import { messageBody } from "../message-content";
import { formatMs, series } from "../metrics";
import { draftToRule, ruleToDraft } from "../policy-draft";
import { fromAudit, normalizeLayers } from "../run-model";
import { DraftBook, DraftRegistry } from "./drafts.svelte";
import { tickOf } from "./delivery";
import { cardCommand, isTypingTarget } from "./shortcuts";
import { formatDuration, windowState } from "./window";

describe("drafts", () => {
  it("places deltas by byte offset, takes a late-join snapshot, starts over on reset, ends with the run", () => {
    const book = new DraftBook(7);
    const delta = (seq: number, offset: number, text: string) =>
      book.apply({ type: "token_delta", run_id: 3, conversation_id: 7, seq, offset, text });
    book.apply({ type: "run_started", run_id: 3, conversation_id: 7 });
    delta(1, 0, "¡Hola");
    delta(2, 6, "! Sí"); // "¡" is two bytes
    expect(delta(3, 6, "! Sí")).toBe(false);
    book.apply({ type: "token_delta", run_id: 9, conversation_id: 8, seq: 1, offset: 0, text: "other" });
    expect(book.drafts.map((d) => d.text)).toEqual(["¡Hola! Sí"]);

    book.apply({ type: "draft", run_id: 3, conversation_id: 7, text: "¡Hola! Sí, enviamos" });
    delta(4, 21, " a Monterrey");
    expect(book.drafts[0].text).toBe("¡Hola! Sí, enviamos a Monterrey");

    book.apply({ type: "draft_reset", run_id: 3, conversation_id: 7 });
    expect(book.drafts[0].text).toBe("");
    delta(5, 0, "Nuevo intento");
    expect(book.drafts[0].text).toBe("Nuevo intento");

    book.apply({ type: "run_finished", run_id: 3, conversation_id: 7, outcome: "completed" });
    expect(book.drafts).toEqual([]);
  });

  it("orders an older engine's deltas by their sequence", () => {
    const book = new DraftBook(7);
    book.apply({ type: "token_delta", run_id: 3, conversation_id: 7, seq: 1, text: "a" });
    book.apply({ type: "token_delta", run_id: 3, conversation_id: 7, seq: 1, text: "a" });
    book.apply({ type: "token_delta", run_id: 3, conversation_id: 7, seq: 2, text: "b" });
    expect(book.drafts[0].text).toBe("ab");
  });

  it("keeps every conversation's drafts from the session start in one registry", () => {
    const registry = new DraftRegistry();
    registry.apply({ type: "token_delta", run_id: 1, conversation_id: 4, seq: 1, text: "Ya " });
    const book = registry.book(4);
    registry.apply({ type: "token_delta", run_id: 1, conversation_id: 4, seq: 2, text: "casi" });
    expect(book.drafts[0].text).toBe("Ya casi");
    registry.apply({ type: "run_finished", run_id: 1, conversation_id: 4, outcome: "completed" });
    registry.apply({ type: "token_delta", run_id: 2, conversation_id: 4, seq: 1, text: "Otra" });
    expect(registry.book(4)).toBe(book);
    expect(book.drafts[0].text).toBe("Otra");
  });
});

describe("the 24-hour window", () => {
  const now = Date.parse("2026-01-10T12:00:00Z");
  it.each([
    [null, { open: false, leftMs: 0, closing: false }],
    ["2026-01-10T11:00:00Z", { open: false, leftMs: 0, closing: false }],
    ["2026-01-10T12:40:00Z", { open: true, leftMs: 40 * 60_000, closing: true }],
    ["2026-01-11T05:00:00Z", { open: true, leftMs: 17 * 3_600_000, closing: false }],
  ])("%s", (closes, expected) => {
    expect(windowState(closes, now)).toEqual(expected);
  });

  it("formats what is left", () => {
    expect([30_000, 47 * 60_000, (5 * 60 + 3) * 60_000, 26 * 3_600_000].map(formatDuration)).toEqual([
      "<1m",
      "47m",
      "5h 03m",
      "1d 2h",
    ]);
  });
});

describe("shortcuts", () => {
  const key = (k: string, target: Element, extra: KeyboardEventInit = {}) => {
    const event = new KeyboardEvent("keydown", { key: k, bubbles: true, ...extra });
    Object.defineProperty(event, "target", { value: target });
    return event;
  };

  it("maps A / E / R / J / K, but never while typing or with a modifier", () => {
    const div = document.createElement("div");
    const textarea = document.createElement("textarea");
    expect(["a", "E", "r", "j", "k", "x"].map((k) => cardCommand(key(k, div)))).toEqual([
      "approve",
      "edit",
      "reject",
      "next",
      "previous",
      null,
    ]);
    expect(cardCommand(key("a", textarea))).toBeNull();
    expect(isTypingTarget(key("a", div, { ctrlKey: true }))).toBe(true);
  });
});

describe("message content", () => {
  const msg = (kind: string, content: unknown, extra: Partial<Message> = {}): Message => ({
    id: 1,
    conversation_id: 1,
    direction: "inbound",
    kind,
    text: null,
    content,
    status: "received",
    created_at: "2026-01-01T00:00:00Z",
    sent_by: null,
    ...extra,
  });

  it("reads media, locations, contacts, replies to buttons and unknown kinds", () => {
    expect(messageBody(msg("image", { kind: "image", id: "m1", caption: "La caja", mime_type: "image/jpeg" }))).toEqual({
      type: "media",
      media: "image",
      caption: "La caja",
      filename: null,
      mime: "image/jpeg",
    });
    expect(messageBody(msg("location", { latitude: 25.67, longitude: -100.31, name: "Tienda" }))).toMatchObject({
      type: "location",
      name: "Tienda",
    });
    expect(messageBody(msg("contacts", { cards: [{ name: { formatted_name: "Ana" } }] }))).toEqual({
      type: "contacts",
      names: ["Ana"],
    });
    expect(messageBody(msg("button", { text: "Sí, confirmar" }))).toEqual({ type: "choice", title: "Sí, confirmar" });
    expect(messageBody(msg("location", { latitude: "x" }))).toEqual({ type: "other", kind: "location" });
    expect(messageBody(msg("order", null))).toEqual({ type: "order", items: 0 });
  });

  it("maps delivery statuses to ticks", () => {
    expect(["queued", "sent", "delivered", "read", "failed", "unknown"].map(tickOf)).toEqual([
      "pending",
      "sent",
      "delivered",
      "read",
      "failed",
      "unknown",
    ]);
  });
});

describe("editing a proposal", () => {
  it("edits a reply as text and anything else as JSON", () => {
    expect(editableText("reply", { text: "Hola" })).toBe("Hola");
    expect(parseEdit("reply", { text: "Hola" }, "  Buenas  ")).toEqual({ ok: true, params: { text: "Buenas" } });
    expect(parseEdit("reply", { text: "Hola" }, "   ")).toEqual({ ok: false, error: "empty" });
    expect(parseEdit("create_task", { title: "x" }, '{"title":"y","priority":"high"}')).toEqual({
      ok: true,
      params: { title: "y", priority: "high" },
    });
    expect(parseEdit("create_task", {}, "[1]")).toEqual({ ok: false, error: "object" });
    expect(parseEdit("create_task", {}, "{oops").ok).toBe(false);
    expect([0.82, 82, null].map(confidencePercent)).toEqual([82, 82, null]);
  });
});

describe("audit filters", () => {
  it("sends the engine's filter names, with an inclusive end day", () => {
    const q = auditQuery({
      conversation: "#12",
      operator: "operator:3:Ana",
      action_type: "reply",
      outcome: "action.approved",
      from: "2026-01-10",
      to: "2026-01-10",
    });
    expect(q).toMatchObject({
      conversation_id: "12",
      actor: "operator:3:Ana",
      action_kind: "reply",
      kind: "action.approved",
    });
    expect(Date.parse(q.to!) - Date.parse(q.from!)).toBe(24 * 3_600_000);
    expect(auditQuery({ conversation: "x", operator: "", action_type: "", outcome: "", from: "", to: "" })).toEqual({});
  });

  it("summarizes a record in a line", () => {
    const record = { detail: { action: "reply", params: { text: "Hola" }, state: "pending" } } as unknown as AuditRecord;
    expect(detailSummary(record)).toBe("reply · “Hola” · pending");
  });
});

describe("runs", () => {
  it("orders the four layers whatever shape they come in", () => {
    expect(
      normalizeLayers([
        { name: "request", tokens: 40, text: "R" },
        { name: "system", tokens: 300, text: "S", version: 2 },
        { layer: "session", token_count: 120, content: "H" },
        { name: "domain", tokens: 90, content: { rules: "D" } },
      ]).map((l) => [l.name, l.tokens, l.version ?? null, l.text?.slice(0, 1)]),
    ).toEqual([
      ["system", 300, 2, "S"],
      ["domain", 90, null, "{"],
      ["session", 120, null, "H"],
      ["request", 40, null, "R"],
    ]);
    expect(normalizeLayers({ system: "S", request: { text: "R", tokens: 5 } }, { system: 10 }).map((l) => [l.name, l.tokens])).toEqual([
      ["system", 10],
      ["request", 5],
    ]);
    expect(normalizeLayers(undefined, { system: 1, domain: 2, session: 3, request: 4 })).toHaveLength(4);
  });

  it("rebuilds a run from its audit records when the engine has no run endpoint", () => {
    const rec = (id: number, kind: string, detail: unknown, extra: Partial<AuditRecord> = {}): AuditRecord => ({
      id,
      at: "2026-01-01T00:00:00Z",
      actor: "fake:gpt",
      kind,
      conversation_id: 3,
      run_id: 5,
      action_id: null,
      detail,
      hash: "h",
      ...extra,
    });
    const model = fromAudit(
      5,
      [
        rec(1, "run.attempt_invalid", { attempt: 1, tier: 0, raw_output: "nope", validation_errors: [{ path: "", message: "not JSON" }], tokens_in: 100, tokens_out: 5, latency_ms: 300, context_hash: "abc" }),
        rec(2, "run.attempt_valid", { attempt: 2, tier: 1, raw_output: "{}", tokens_in: 120, tokens_out: 30, cost: 0.001, latency_ms: 400 }),
        rec(3, "run.finished", { state: "completed", tier: 1 }),
        rec(4, "action.approved", { diff: [] }, { run_id: null, action_id: 9 }),
      ],
      [{ id: 9, conversation_id: 3, run_id: 5, kind: "reply", params: { text: "Hola" }, state: "executed", reasoning: null, confidence: 0.9, created_at: "2026-01-01T00:00:00Z", decided_at: null }],
    );
    expect(model.attempts.map((a) => [a.tier, a.raw_output])).toEqual([
      [0, "nope"],
      [1, "{}"],
    ]);
    expect(model).toMatchObject({ outcome: "completed", tier: 1, tokensIn: 220, tokensOut: 35, latencyMs: 700, contextHash: "abc", fromAudit: true });
    expect(model.decisions.map((r) => r.kind)).toEqual(["action.approved"]);
  });
});

describe("policy rules in the editor", () => {
  it("round-trips every condition", () => {
    const rule = {
      action: "reply",
      when: {
        confidence_below: 0.7,
        any_tag: ["vip", "refund"],
        outside_business_hours: true,
        param_above: { field: "amount", above: 1000 },
        param_equals: { field: "priority", equals: "urgent" },
      },
      verdict: "approval" as const,
    };
    expect(draftToRule(ruleToDraft(rule))).toEqual(rule);
    expect(draftToRule(ruleToDraft({ action: "*", verdict: "forbid" }))).toEqual({ action: "*", when: {}, verdict: "forbid" });
  });
});

describe("metrics", () => {
  // Copied from `GET /api/metrics?days=3` of `switchboard serve` (sandbox, fake model) after an
  // AI reply, an edited approval and an escalation; see ui/src/test/metrics-response.json.
  it("reads the exact fields the metrics API returns", () => {
    const s = series((metricsResponse as Metrics).days);
    const days = metricsResponse.days;
    const today = days[days.length - 1];
    expect(s.volume.map((p) => p.value)).toEqual(days.map((d) => d.inbound_messages));
    expect(s.volume.at(-1)?.value).toBeGreaterThan(0);
    expect(s.resolvedShare.at(-1)?.value).toBe(today.resolved_without_human_share);
    expect(s.approvedUneditedShare.at(-1)?.value).toBe(today.approvals_without_edits_share);
    expect(s.escalationRate.at(-1)?.value).toBe(today.escalation_rate);
    expect(s.medianFirstReplyMs.at(-1)?.value).toBe(today.median_first_reply_ms);
    expect(s.tokens.at(-1)?.value).toBe(today.tokens_in + today.tokens_out);
    expect(s.cost.at(-1)?.value).toBe(today.cost_usd);
    for (const name of ["resolvedShare", "approvedUneditedShare", "escalationRate", "medianFirstReplyMs", "tokens", "cost"] as const) {
      expect(s[name].at(-1)?.value, name).not.toBeNull();
    }
    // A day without conversations has no share (null), not 0%.
    expect(s.resolvedShare[0].value).toBeNull();
    expect(s.volume[0].value).toBe(0);
    expect(s.volume.at(-1)?.label).toBe(`${today.date.slice(8, 10)}/${today.date.slice(5, 7)}`);
    expect([800, 75_000, 3 * 3_600_000].map(formatMs)).toEqual(["800 ms", "75 s", "3.0 h"]);
  });
});

describe("endpoints an engine does not have", () => {
  it("turns a router's 404/405 without our body into 'not available', and keeps real 404s", () => {
    expect(isNotAvailable(errorFromBody(405, undefined))).toBe(true);
    expect(isNotAvailable(errorFromBody(404, ""))).toBe(true);
    expect(isNotAvailable(errorFromBody(404, { error: { code: "not_found", message: "no such run" } }))).toBe(false);
  });

  it("treats the UI's index.html answered for an unknown path as not available", async () => {
    const client = createHttpClient({
      baseUrl: "http://engine",
      getToken: () => "t",
      fetch: async () => new Response("<!doctype html><html></html>", { status: 200, headers: { "Content-Type": "text/html" } }),
    });
    const err = await client.request("GET", "/api/me").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(isNotAvailable(err)).toBe(true);
  });

  it("fetches bytes with the bearer token", async () => {
    let auth: string | null = null;
    const client = createHttpClient({
      baseUrl: "http://engine",
      getToken: () => "secret",
      fetch: async (_url, init) => {
        auth = new Headers(init?.headers).get("Authorization");
        return new Response(new Uint8Array([1, 2, 3]), { status: 200, headers: { "Content-Type": "image/png" } });
      },
    });
    const blob = await client.requestBlob!("/api/messages/1/media");
    expect(blob.size).toBe(3);
    expect(auth).toBe("Bearer secret");
  });
});

describe("the browser CSP", () => {
  it("allows only this origin and the engine's, and media as blobs", async () => {
    const { browserCsp } = await import("../csp");
    const same = browserCsp("http://127.0.0.1:7420", "http://127.0.0.1:7420");
    expect(same).toContain("connect-src 'self';");
    expect(same).toContain("script-src 'self';");
    expect(same).toContain("img-src 'self' data: blob:");
    expect(same).toContain("object-src 'none'");
    expect(browserCsp("http://127.0.0.1:7420/", "http://localhost:5173")).toContain("connect-src 'self' http://127.0.0.1:7420;");
  });
});
