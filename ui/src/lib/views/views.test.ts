import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { FakeClient, page, withContext } from "../../test/fakes";
import { ApiError } from "../api/errors";
import { EventHub } from "../stores/events";
import type { Action, Conversation, Escalation, Message, Task } from "../api/types";
import ApprovalsView from "./ApprovalsView.svelte";
import AuditView from "./AuditView.svelte";
import ConversationView from "./ConversationView.svelte";
import EscalationsView from "./EscalationsView.svelte";
import InboxView from "./InboxView.svelte";
import SettingsView from "./SettingsView.svelte";
import TasksView from "./TasksView.svelte";

const XSS = "<img src=x onerror=alert(1)>";

function conversation(overrides: Partial<Conversation> = {}): Conversation {
  return {
    id: 12,
    contact: { id: 3, wa_id: "5511999990000", user_id: null, name: "Ana Souza", phone: "+55 11 99999-0000" },
    state: "awaiting_approval",
    unread_count: 2,
    last_message_preview: "Hi, where is my order?",
    last_message_at: new Date(Date.now() - 5 * 60_000).toISOString(),
    last_customer_message_at: null,
    window_closes_at: null,
    sandbox: false,
    ...overrides,
  };
}

const action: Action = {
  id: 31,
  conversation_id: 12,
  run_id: 4,
  kind: "send_message",
  params: { text: "Your order ships today." },
  state: "pending",
  reasoning: "Customer asked about shipping.",
  confidence: 0.82,
  created_at: new Date().toISOString(),
  decided_at: null,
};

describe("Inbox", () => {
  it("lists conversations with name, state, unread count and preview", async () => {
    const client = new FakeClient({ "GET /api/conversations": () => page([conversation()]) });
    render(InboxView, withContext(client));

    expect(await screen.findByText("Ana Souza")).toBeTruthy();
    expect(screen.getByText("Awaiting approval", { selector: ".chip" })).toBeTruthy();
    expect(screen.getByText("2 unread")).toBeTruthy();
    expect(screen.getByText("Hi, where is my order?")).toBeTruthy();
    expect(screen.getByText("5 minutes ago")).toBeTruthy();
    expect((await screen.findByRole("link", { name: /Ana Souza/ })).getAttribute("href")).toBe("#/conversations/12");
  });

  it("shows its empty state", async () => {
    const client = new FakeClient({ "GET /api/conversations": () => page([]) });
    render(InboxView, withContext(client));
    expect(await screen.findByText("No conversations yet.")).toBeTruthy();
  });

  it("shows its error state and retries", async () => {
    let fail = true;
    const client = new FakeClient({
      "GET /api/conversations": () => {
        if (fail) throw new ApiError(500, "internal", "database is locked");
        return page([]);
      },
    });
    render(InboxView, withContext(client));

    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("database is locked (internal)");
    fail = false;
    await fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("No conversations yet.")).toBeTruthy();
  });

  it("renders a hostile preview and name as literal text", async () => {
    const client = new FakeClient({
      "GET /api/conversations": () =>
        page([conversation({ last_message_preview: XSS, contact: { ...conversation().contact, name: XSS } })]),
    });
    const { container } = render(InboxView, withContext(client));

    expect(await screen.findAllByText(XSS)).toHaveLength(2);
    expect(container.querySelector("img")).toBeNull();
  });

  it("refetches after a relevant event and on lagged", async () => {
    const client = new FakeClient({ "GET /api/conversations": () => page([]) });
    const hub = new EventHub();
    render(InboxView, withContext(client, hub));
    await screen.findByText("No conversations yet.");
    const before = client.calls.length;

    hub.emit({ type: "message_received", conversation_id: 1, message_id: 2 });
    hub.emit({ type: "message_received", conversation_id: 1, message_id: 3 });
    await waitFor(() => expect(client.calls.length).toBe(before + 1), { timeout: 2000 });

    hub.emit({ type: "lagged", missed: 40 });
    await waitFor(() => expect(client.calls.length).toBe(before + 2), { timeout: 2000 });
  });
});

describe("Conversation", () => {
  it("shows the thread in order, as text", async () => {
    const messages: Message[] = [
      {
        id: 2,
        conversation_id: 12,
        direction: "outbound",
        kind: "text",
        text: "It ships today.",
        status: "delivered",
        created_at: "2025-05-01T10:01:00Z",
        sent_by: null,
      },
      {
        id: 1,
        conversation_id: 12,
        direction: "inbound",
        kind: "text",
        text: XSS,
        status: "received",
        created_at: "2025-05-01T10:00:00Z",
        sent_by: null,
      },
    ];
    const client = new FakeClient({
      "GET /api/conversations/12": () => conversation(),
      "GET /api/conversations/12/messages": () => page(messages),
    });
    const { container } = render(ConversationView, { props: { id: 12 }, ...withContext(client) });

    expect(await screen.findByRole("heading", { name: "Ana Souza" })).toBeTruthy();
    await waitFor(() => expect(container.querySelectorAll("article.bubble")).toHaveLength(2));
    const texts = [...container.querySelectorAll("article.bubble .text")].map((p) => p.textContent);
    expect(texts).toEqual([XSS, "It ships today."]);
    expect(container.querySelector("img")).toBeNull();
  });
});

describe("Approvals", () => {
  it("approves a pending action through the API", async () => {
    let pending = [action];
    const client = new FakeClient({
      "GET /api/actions": () => page(pending),
      "POST /api/actions/31/approve": () => {
        pending = [];
        return { ...action, state: "approved" };
      },
    });
    render(ApprovalsView, withContext(client));

    await fireEvent.click(await screen.findByRole("button", { name: /^Approve/ }));
    expect(await screen.findByText("Nothing is waiting for approval.")).toBeTruthy();
    expect(client.calls).toContainEqual({ method: "POST", path: "/api/actions/31/approve", body: undefined });
    expect(client.calls[0].path).toBe("/api/actions?state=pending&limit=100");
  });

  it("rejects with a reason", async () => {
    const client = new FakeClient({
      "GET /api/actions": () => page([action]),
      "POST /api/actions/31/reject": () => ({}),
    });
    render(ApprovalsView, withContext(client));

    await fireEvent.click(await screen.findByRole("button", { name: /^Reject/ }));
    await fireEvent.input(screen.getByLabelText("Reason for rejecting"), { target: { value: "Wrong tone" } });
    await fireEvent.click(screen.getByRole("button", { name: "Confirm rejection" }));

    await waitFor(() =>
      expect(client.calls).toContainEqual({ method: "POST", path: "/api/actions/31/reject", body: { reason: "Wrong tone" } }),
    );
  });

  it("shows an API refusal next to the action", async () => {
    const client = new FakeClient({
      "GET /api/actions": () => page([action]),
      "POST /api/actions/31/approve": () => {
        throw new ApiError(409, "stale", "The conversation moved on");
      },
    });
    render(ApprovalsView, withContext(client));
    await fireEvent.click(await screen.findByRole("button", { name: /^Approve/ }));
    expect((await screen.findByRole("alert")).textContent).toContain("The conversation moved on (stale)");
  });
});

describe("Escalations", () => {
  const escalation: Escalation = {
    id: 8,
    conversation_id: 12,
    reason: "Customer asked for a human",
    summary: "Refund dispute",
    state: "open",
    source: "assistant",
    created_at: new Date().toISOString(),
    taken_by: null,
  };

  it("takes over an open escalation and hands back a taken one", async () => {
    const client = new FakeClient({
      "GET /api/escalations": (_b, path) =>
        path.includes("state=taken") ? page([{ ...escalation, state: "taken", taken_by: "maria" }]) : page([escalation]),
      "POST /api/escalations/8/takeover": () => ({}),
      "POST /api/escalations/8/handback": () => ({}),
    });
    render(EscalationsView, withContext(client));

    await fireEvent.click(await screen.findByRole("button", { name: "Take over" }));
    await waitFor(() => expect(client.calls.some((c) => c.path === "/api/escalations/8/takeover")).toBe(true));

    await fireEvent.click(screen.getByRole("button", { name: "Taken over" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Hand back" }));
    await fireEvent.input(screen.getByLabelText("Note for the assistant"), { target: { value: "Refunded" } });
    await fireEvent.click(screen.getByRole("button", { name: "Hand back to AI" }));
    await waitFor(() =>
      expect(client.calls).toContainEqual({
        method: "POST",
        path: "/api/escalations/8/handback",
        body: { note: "Refunded" },
      }),
    );
  });

  it("shows its empty state", async () => {
    render(EscalationsView, withContext(new FakeClient({ "GET /api/escalations": () => page([]) })));
    expect(await screen.findByText("No open escalations.")).toBeTruthy();
  });
});

describe("Tables and settings", () => {
  it("Tasks shows its empty state", async () => {
    render(TasksView, withContext(new FakeClient({ "GET /api/tasks": () => page([]) })));
    expect(await screen.findByText("No tasks yet.")).toBeTruthy();
  });

  it("Tasks shows its error state", async () => {
    const client = new FakeClient({
      "GET /api/tasks": () => {
        throw new ApiError(0, "network_error", "Failed to fetch");
      },
    });
    render(TasksView, withContext(client));
    expect((await screen.findByRole("alert")).textContent).toContain("The engine cannot be reached.");
  });

  it("Tasks lists rows", async () => {
    const task: Task = {
      id: 1,
      conversation_id: 12,
      title: "Call back about refund",
      assignee: null,
      due_at: null,
      priority: "urgent",
      state: "open",
      created_at: new Date().toISOString(),
    };
    render(TasksView, withContext(new FakeClient({ "GET /api/tasks": () => page([task]) })));
    expect(await screen.findByText("Call back about refund")).toBeTruthy();
    expect(screen.getByText("Urgent")).toBeTruthy();
    expect(screen.getByText("Unassigned")).toBeTruthy();
  });

  it("Audit lists records with their detail as text", async () => {
    const client = new FakeClient({
      "GET /api/audit": () =>
        page([
          {
            id: 1,
            at: "2025-05-01T10:00:00Z",
            actor: "operator:maria",
            kind: "action.approved",
            conversation_id: 12,
            action_id: 31,
            detail: { note: XSS },
            hash: "9f86d081884c7d659a2feaa0c55ad015",
          },
        ]),
    });
    const { container } = render(AuditView, withContext(client));
    expect(await screen.findByText("operator:maria")).toBeTruthy();
    expect(screen.getByText("9f86d08188")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: XSS }));
    expect(container.querySelector("pre")?.textContent).toContain(XSS);
    expect(container.querySelector("img")).toBeNull();
  });

  it("Settings shows the effective configuration read-only", async () => {
    const client = new FakeClient({
      "GET /api/settings": () => ({ mode: "sandbox", llm: { provider: "offline", temperature: 0.2 } }),
    });
    render(SettingsView, withContext(client));
    expect(await screen.findByText("General", { selector: "summary" })).toBeTruthy();
    expect(screen.getByText("llm", { selector: "summary" })).toBeTruthy();
    expect(screen.getByText("temperature")).toBeTruthy();
    expect(screen.getByText("0.2")).toBeTruthy();
  });
});
