import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { FakeClient, page, withContext } from "../../test/fakes";
import { ApiError, NOT_AVAILABLE } from "../api/errors";
import type { Action, Conversation, Escalation, Task } from "../api/types";
import { EventHub } from "../stores/events";
import ConversationView from "./ConversationView.svelte";
import DashboardView from "./DashboardView.svelte";
import RunView from "./RunView.svelte";
import TasksView from "./TasksView.svelte";
import LayersSettings from "./settings/LayersSettings.svelte";
import OperatorsSettings from "./settings/OperatorsSettings.svelte";
import PoliciesSettings from "./settings/PoliciesSettings.svelte";
import WhatsappSettings from "./settings/WhatsappSettings.svelte";

const missing = () => {
  throw new ApiError(404, NOT_AVAILABLE, "HTTP 404");
};

const conversation: Conversation = {
  id: 12,
  contact: { id: 3, wa_id: "5215512345678", user_id: null, name: "Ana Souza", phone: "+5215512345678" },
  state: "awaiting_approval",
  unread_count: 1,
  last_message_preview: "¿Hacen envíos?",
  last_message_at: new Date().toISOString(),
  last_customer_message_at: new Date().toISOString(),
  window_closes_at: new Date(Date.now() + 20 * 3_600_000).toISOString(),
  sandbox: true,
};

const pendingReply: Action = {
  id: 31,
  conversation_id: 12,
  run_id: 4,
  kind: "reply",
  params: { text: "Sí, enviamos." },
  state: "pending",
  reasoning: null,
  confidence: 0.9,
  created_at: new Date().toISOString(),
  decided_at: null,
};

describe("Conversation", () => {
  function setup(extra: Record<string, (body: unknown, path: string) => unknown> = {}) {
    const client = new FakeClient({
      "GET /api/conversations/12": () => conversation,
      "GET /api/conversations/12/messages": () => page([]),
      "GET /api/actions": () =>
        page([pendingReply, { ...pendingReply, id: 30, kind: "set_session_variable", params: { key: "ciudad", value: "Monterrey" }, state: "executed" }]),
      "GET /api/tasks": () =>
        page([{ id: 1, conversation_id: 12, title: "Llamar", assignee: null, due_at: null, priority: "high", state: "open", created_at: "" } as Task]),
      "GET /api/templates": () => [],
      ...extra,
    });
    const hub = new EventHub();
    const view = render(ConversationView, { props: { id: 12 }, ...withContext(client, hub) });
    return { client, hub, view };
  }

  it("shows the proposal, the session variables, tasks and run history beside the thread", async () => {
    setup();
    expect(await screen.findByRole("heading", { name: "Ana Souza" })).toBeTruthy();
    expect(await screen.findByTestId("reply-text")).toBeTruthy();
    expect(screen.getByText("ciudad")).toBeTruthy();
    expect(screen.getByText("Monterrey")).toBeTruthy();
    expect(screen.getByText("Llamar")).toBeTruthy();
    expect(screen.getAllByRole("link", { name: "Run #4" }).map((a) => a.getAttribute("href"))).toEqual([
      "#/runs/4?conversation=12",
      "#/runs/4?conversation=12",
    ]);
    expect(screen.getByText(/Window open · 19h 59m left|Window open · 20h 00m left/)).toBeTruthy();
  });

  it("approves the proposal with A pressed anywhere on the page", async () => {
    const { client } = setup({ "POST /api/actions/31/approve": () => ({ ...pendingReply, state: "approved" }) });
    await screen.findByTestId("reply-text");
    await fireEvent.keyDown(document.body, { key: "a" });
    await waitFor(() => expect(client.calls.some((c) => c.path === "/api/actions/31/approve")).toBe(true));
  });

  it("streams the AI's draft in place", async () => {
    const { hub } = setup();
    await screen.findByRole("heading", { name: "Ana Souza" });
    hub.emit({ type: "run_started", run_id: 7, conversation_id: 12 });
    hub.emit({ type: "token_delta", run_id: 7, conversation_id: 12, seq: 1, text: "Claro, " });
    hub.emit({ type: "token_delta", run_id: 7, conversation_id: 12, seq: 2, text: "con gusto" });
    await waitFor(() => expect(screen.getByTestId("live-draft").textContent).toContain("Claro, con gusto"));
    hub.emit({ type: "run_finished", run_id: 7, conversation_id: 12, outcome: "completed" });
    await waitFor(() => expect(screen.queryByTestId("live-draft")).toBeNull());
  });

  it("takes over through the escalation when the engine has no conversation takeover", async () => {
    const escalation: Escalation = {
      id: 8,
      conversation_id: 12,
      reason: "x",
      summary: null,
      state: "open",
      source: "model",
      created_at: "",
      taken_by: null,
    };
    const { client } = setup({
      "POST /api/conversations/12/takeover": missing,
      "GET /api/escalations": () => page([escalation]),
      "POST /api/escalations/8/takeover": () => ({ ...escalation, state: "taken" }),
    });
    await fireEvent.click(await screen.findByRole("button", { name: "Take over" }));
    await waitFor(() => expect(client.calls.some((c) => c.path === "/api/escalations/8/takeover")).toBe(true));
  });

  it("escalates with a reason", async () => {
    const { client } = setup({ "POST /api/conversations/12/escalate": () => ({}) });
    await fireEvent.click(await screen.findByRole("button", { name: "Escalate" }));
    await fireEvent.input(screen.getByLabelText("Why does this need a human?"), { target: { value: "Quiere factura" } });
    await fireEvent.click(screen.getAllByRole("button", { name: "Escalate" }).at(-1)!);
    await waitFor(() =>
      expect(client.calls).toContainEqual({ method: "POST", path: "/api/conversations/12/escalate", body: { reason: "Quiere factura" } }),
    );
  });
});

describe("Run view", () => {
  it("shows the four layers with token counts, attempts and decisions", async () => {
    const client = new FakeClient({
      "GET /api/runs/4": () => ({
        id: 4,
        conversation_id: 12,
        state: "completed",
        tier: 1,
        provider: "fake",
        model: "gpt",
        context: {
          hash: "abc123",
          schema_version: 1,
          layers: [
            { name: "system", tokens: 310, text: "You are the assistant of Tienda Lupita", version: 2 },
            { name: "domain", tokens: 120, text: "Envíos: 2 a 3 días" },
            { name: "session", tokens: 80, text: "Customer: hola" },
            { name: "request", tokens: 40, text: "¿Hacen envíos a Monterrey?" },
          ],
          messages: [],
        },
        attempts: [
          { attempt: 1, tier: 0, provider: "fake", model: "gpt", raw_output: "not json", validation_errors: [{ path: "", message: "expected JSON" }], tokens_in: 550, tokens_out: 3, latency_ms: 200 },
          { attempt: 2, tier: 1, provider: "fake", model: "gpt", raw_output: '{"actions":[]}', validation_errors: [], tokens_in: 560, tokens_out: 20, cost: 0.0004, latency_ms: 300 },
        ],
        actions: [
          { id: 31, kind: "reply", params: { text: "Sí, enviamos." }, state: "executed", policy_verdict: "approval", policy_rule: "default for reply", decided_by: "operator:ana", result: { wamid: "wamid.X" } },
        ],
      }),
      "GET /api/providers": () => ({ items: [{ name: "fake", kind: "openai_compatible", model: "gpt" }] }),
      "POST /api/runs/4/replay": (body) => {
        expect(body).toEqual({ provider: "fake" });
        return { run_id: 4, provider: "fake", model: "gpt", raw_output: '{"actions":[{"type":"no_action"}]}', validation_errors: [], tokens_in: 560, tokens_out: 9, latency_ms: 120 };
      },
      "GET /api/audit": () => page([]),
      "GET /api/actions": () => page([]),
    });
    const { container } = render(RunView, { props: { id: 4, conversation: 12 }, ...withContext(client) });
    expect(await screen.findByRole("heading", { name: "Context as sent" })).toBeTruthy();
    const layers = [...container.querySelectorAll("details.layer")].map((d) => [
      d.getAttribute("data-layer"),
      d.querySelector(".tokens")?.textContent,
    ]);
    expect(layers).toEqual([
      ["system", "310 tokens"],
      ["domain", "120 tokens"],
      ["session", "80 tokens"],
      ["request", "40 tokens"],
    ]);
    expect(screen.getByText("corrective retry", { selector: "dd" })).toBeTruthy();
    expect(screen.getByText("expected JSON")).toBeTruthy();
    expect(screen.getByText("not json")).toBeTruthy();
    expect(screen.getByText("Decided by operator:ana", { exact: false })).toBeTruthy();
    expect(screen.getByText("Policy: approval · default for reply")).toBeTruthy();

    await fireEvent.click(await screen.findByRole("button", { name: "Replay" }));
    expect(await screen.findByText('{"actions":[{"type":"no_action"}]}')).toBeTruthy();
  });

  it("falls back to the audit trail on an engine without runs", async () => {
    const client = new FakeClient({
      "GET /api/runs/4": missing,
      "GET /api/audit": () =>
        page([
          { id: 1, at: "", actor: "fake:gpt", kind: "run.attempt_valid", conversation_id: 12, run_id: 4, action_id: null, detail: { attempt: 1, tier: 0, raw_output: '{"actions":[]}', tokens_in: 10, tokens_out: 2 }, hash: "h" },
        ]),
      "GET /api/actions": () => page([]),
    });
    render(RunView, { props: { id: 4, conversation: 12 }, ...withContext(client) });
    expect(await screen.findByText(/Rebuilt from the audit trail/)).toBeTruthy();
    expect(screen.getByText('{"actions":[]}')).toBeTruthy();
  });
});

describe("Dashboard", () => {
  it("charts the metrics per day", async () => {
    const client = new FakeClient({
      "GET /api/metrics": (_b, path) => {
        expect(path).toBe("/api/metrics?days=14");
        return {
          time_zone: "America/Mexico_City",
          days: [
            { date: "2026-01-09", inbound_messages: 40, conversations: 10, resolved_without_human: 7, resolved_without_human_share: 0.7, tokens_in: 900, tokens_out: 100, cost_usd: 0.5 },
          ],
        };
      },
    });
    render(DashboardView, withContext(client));
    expect(await screen.findByText("Inbound messages", { selector: ".title" })).toBeTruthy();
    const summaries = [...document.querySelectorAll("figcaption")].map((f) => f.textContent?.replace(/\s+/g, " ").trim());
    expect(summaries).toContain("Resolved without a human 70%");
    expect(summaries).toContain("Tokens 1,000");
  });

  it("says when the engine has no metrics", async () => {
    render(DashboardView, withContext(new FakeClient({ "GET /api/metrics": missing })));
    expect(await screen.findByText("This engine does not offer Dashboard yet.")).toBeTruthy();
  });
});

describe("Tasks", () => {
  it("creates a task and marks one done", async () => {
    const task: Task = { id: 5, conversation_id: null, title: "Enviar factura", assignee: "ana", due_at: null, priority: "normal", state: "open", created_at: "" };
    const client = new FakeClient({
      "GET /api/tasks": () => page([task]),
      "POST /api/tasks": (body) => ({ ...task, id: 6, ...(body as object) }),
      "PATCH /api/tasks/5": () => ({ ...task, state: "done" }),
    });
    render(TasksView, withContext(client));
    await fireEvent.click(await screen.findByRole("button", { name: "Mark done" }));
    await waitFor(() => expect(client.calls).toContainEqual({ method: "PATCH", path: "/api/tasks/5", body: { state: "done" } }));

    await fireEvent.click(screen.getByRole("button", { name: "New task" }));
    await fireEvent.input(screen.getByLabelText("Task"), { target: { value: "Llamar a Rosa" } });
    await fireEvent.input(screen.getByLabelText("Conversation"), { target: { value: "12" } });
    await fireEvent.click(screen.getByRole("button", { name: "Create task" }));
    await waitFor(() =>
      expect(client.calls).toContainEqual({
        method: "POST",
        path: "/api/tasks",
        body: { title: "Llamar a Rosa", priority: "normal", assignee: null, due_at: null, conversation_id: 12 },
      }),
    );
  });
});

describe("Settings", () => {
  it("edits policy rules and saves them", async () => {
    let saved: unknown = null;
    const client = new FakeClient({
      "GET /api/policies": () => ({ version: 3, rules: [{ action: "reply", when: { confidence_below: 0.6 }, verdict: "approval" }] }),
      "PUT /api/policies": (body) => {
        saved = body;
        return { version: 4, ...(body as object) };
      },
      "GET /api/policies/versions": () => [],
    });
    render(PoliciesSettings, { props: { owner: true }, ...withContext(client) });
    expect(await screen.findByText("Current: version 3")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Add rule" }));
    await fireEvent.click(screen.getByRole("button", { name: "Save policies" }));
    await waitFor(() =>
      expect(saved).toEqual({
        rules: [
          { action: "reply", when: { confidence_below: 0.6 }, verdict: "approval" },
          { action: "reply", when: {}, verdict: "approval" },
        ],
      }),
    );
  });

  it("keeps the controls read-only for a non-owner", async () => {
    const client = new FakeClient({
      "GET /api/policies": () => ({ rules: [] }),
      "GET /api/policies/versions": () => [],
    });
    render(PoliciesSettings, { props: { owner: false }, ...withContext(client) });
    expect(await screen.findByText("Owners only")).toBeTruthy();
    expect((screen.getByRole("button", { name: "Save policies" }) as HTMLButtonElement).disabled).toBe(true);
  });

  it("saves a context layer as a new version and lists the history", async () => {
    const client = new FakeClient({
      "GET /api/context-layers": () => ({
        system: { layer: "system", version: 2, content: "Sea breve.", tokens: 4, budget: 1500 },
        domain: { layer: "domain", version: 1, content: "", tokens: 0, budget: 1500 },
      }),
      "GET /api/context-layers/system/versions": () => ({
        layer: "system",
        versions: [
          { version: 1, content: "Sea amable.", author: "owner" },
          { version: 2, content: "Sea breve.", author: "owner" },
        ],
      }),
      "PUT /api/context-layers/system": (body) => ({ version: 3, ...(body as object) }),
    });
    render(LayersSettings, { props: { owner: true }, ...withContext(client) });
    const box = await screen.findByLabelText("System");
    expect((box as HTMLTextAreaElement).value).toBe("Sea breve.");
    expect(screen.getByText("Version history (2)")).toBeTruthy();
    await fireEvent.input(box, { target: { value: "Sea breve y cordial." } });
    await fireEvent.click(screen.getByRole("button", { name: "Save as new version" }));
    await waitFor(() =>
      expect(client.calls).toContainEqual({
        method: "PUT",
        path: "/api/context-layers/system",
        body: { content: "Sea breve y cordial.", base_version: 2 },
      }),
    );
  });

  it("shows a new operator's token once", async () => {
    const client = new FakeClient({
      "GET /api/operators": () => ({ items: [{ id: 1, name: "Ana", role: "agent", active: true }] }),
      "POST /api/operators": () => ({ operator: { id: 2, name: "Luis", role: "supervisor", active: true }, token: "sbt_once_123" }),
    });
    render(OperatorsSettings, { props: { owner: true }, ...withContext(client) });
    expect(await screen.findByText("Ana")).toBeTruthy();
    await fireEvent.input(screen.getByLabelText("Name"), { target: { value: "Luis" } });
    await fireEvent.click(screen.getByRole("button", { name: "Add operator" }));
    expect(await screen.findByText("sbt_once_123")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "I copied it" }));
    expect(screen.queryByText("sbt_once_123")).toBeNull();
  });

  it("shows the webhook URL and stores a secret without echoing it", async () => {
    const client = new FakeClient({
      "GET /api/whatsapp": () => ({ mode: "sandbox", webhook_url: "https://sb.example.com/webhooks/whatsapp", access_token_present: false }),
      "PUT /api/secrets/whatsapp.access-token": () => ({}),
    });
    render(WhatsappSettings, { props: { owner: true }, ...withContext(client) });
    expect(await screen.findByText("https://sb.example.com/webhooks/whatsapp")).toBeTruthy();
    const field = screen.getByLabelText(/Access token/) as HTMLInputElement;
    expect(field.type).toBe("password");
    await fireEvent.input(field, { target: { value: "EAAG-secret" } });
    await fireEvent.click(screen.getAllByRole("button", { name: "Save" })[0]);
    expect(await screen.findByText("Saved to the secret store.")).toBeTruthy();
    expect(field.value).toBe("");
    expect(client.calls).toContainEqual({ method: "PUT", path: "/api/secrets/whatsapp.access-token", body: { value: "EAAG-secret" } });
  });
});
