import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import { FakeClient, withContext } from "../../test/fakes";
import type { Action, Message, Template } from "../api/types";
import ActionCard from "./ActionCard.svelte";
import Chart from "./Chart.svelte";
import Composer from "./Composer.svelte";
import ConnectionBanner from "./ConnectionBanner.svelte";
import { createTauriClient, type InvokeFn } from "../api/tauri";
import MediaView from "./MediaView.svelte";
import MessageBubble from "./MessageBubble.svelte";
import Thread from "./Thread.svelte";

const XSS = "<img src=x onerror=alert(1)>";

const reply: Action = {
  id: 31,
  conversation_id: 12,
  run_id: 4,
  kind: "reply",
  params: { text: "Your order ships today." },
  state: "pending",
  reasoning: "Customer asked about shipping.",
  confidence: 0.82,
  created_at: new Date().toISOString(),
  decided_at: null,
};

function card(action: Action = reply) {
  const onapprove = vi.fn(async () => {});
  const onreject = vi.fn(async () => {});
  const onretry = vi.fn(async () => {});
  const result = render(ActionCard, { props: { action, onapprove, onreject, onretry } });
  return { ...result, onapprove, onreject, onretry, article: result.container.querySelector("article")! };
}

describe("ActionCard", () => {
  it("shows the reply text itself, the reasoning and the run", () => {
    card();
    expect(screen.getByTestId("reply-text").textContent).toBe("Your order ships today.");
    expect(screen.getByText("Customer asked about shipping.")).toBeTruthy();
    expect(screen.getByText("Confidence 82%")).toBeTruthy();
    expect(screen.getByRole("link", { name: "Run #4" }).getAttribute("href")).toBe("#/runs/4?conversation=12");
  });

  it("renders hostile model text as text", () => {
    const { container } = card({ ...reply, params: { text: XSS }, reasoning: XSS });
    expect(screen.getAllByText(XSS)).toHaveLength(2);
    expect(container.querySelector("img")).toBeNull();
  });

  it("approves with A, and edits with E showing the diff before approving the change", async () => {
    const { article, onapprove, container } = card();
    await fireEvent.keyDown(article, { key: "a" });
    await waitFor(() => expect(onapprove).toHaveBeenCalledWith(reply));

    await fireEvent.keyDown(article, { key: "e" });
    const editor = screen.getByLabelText("Edit the reply") as HTMLTextAreaElement;
    expect(editor.value).toBe("Your order ships today.");
    // Typing in the editor is not a shortcut.
    await fireEvent.keyDown(editor, { key: "r" });
    expect(screen.queryByLabelText("Reason for rejecting")).toBeNull();

    await fireEvent.input(editor, { target: { value: "Your order ships tomorrow morning." } });
    expect(container.querySelector("del")?.textContent).toBe("today");
    expect([...container.querySelectorAll("ins")].map((e) => e.textContent).join("")).toContain("tomorrow");
    await fireEvent.keyDown(editor, { key: "Enter", ctrlKey: true });
    await waitFor(() => expect(onapprove).toHaveBeenLastCalledWith(reply, { text: "Your order ships tomorrow morning." }));
  });

  it("will not approve an empty reply or invalid JSON", async () => {
    const { article, onapprove } = card();
    await fireEvent.keyDown(article, { key: "e" });
    await fireEvent.input(screen.getByLabelText("Edit the reply"), { target: { value: "  " } });
    await fireEvent.click(screen.getByRole("button", { name: "Approve with changes" }));
    expect(screen.getByText("The reply cannot be empty.")).toBeTruthy();
    expect(onapprove).not.toHaveBeenCalled();
  });

  it("edits other actions as JSON", async () => {
    const task: Action = { ...reply, id: 32, kind: "create_task", params: { title: "Call back", priority: "normal" } };
    const { article, onapprove } = card(task);
    expect(screen.getByText("Call back")).toBeTruthy();
    await fireEvent.keyDown(article, { key: "e" });
    const editor = screen.getByLabelText("Edit the parameters (JSON)");
    await fireEvent.input(editor, { target: { value: '{"title": "Call back", "priority": "urgent"' } });
    await fireEvent.click(screen.getByRole("button", { name: "Approve with changes" }));
    expect(screen.getByText(/Not valid JSON/)).toBeTruthy();
    await fireEvent.input(editor, { target: { value: '{"title": "Call back", "priority": "urgent"}' } });
    await fireEvent.click(screen.getByRole("button", { name: "Approve with changes" }));
    await waitFor(() => expect(onapprove).toHaveBeenCalledWith(task, { title: "Call back", priority: "urgent" }));
  });

  it("rejects with R and a required reason, and retries with guidance", async () => {
    const { article, onreject, onretry } = card();
    await fireEvent.keyDown(article, { key: "r" });
    await fireEvent.click(screen.getByRole("button", { name: "Confirm rejection" }));
    expect(screen.getByText("This field is required.")).toBeTruthy();
    await fireEvent.input(screen.getByLabelText("Reason for rejecting"), { target: { value: "Wrong tone" } });
    await fireEvent.click(screen.getByRole("button", { name: "Confirm rejection" }));
    await waitFor(() => expect(onreject).toHaveBeenCalledWith(reply, "Wrong tone"));

    await fireEvent.click(screen.getByRole("button", { name: "Try again with guidance" }));
    await fireEvent.input(screen.getByLabelText("Guidance for the AI"), { target: { value: "Offer the tracking link" } });
    await fireEvent.click(screen.getByRole("button", { name: "Ask the AI again" }));
    await waitFor(() => expect(onretry).toHaveBeenCalledWith(reply, "Offer the tracking link"));
  });

  it("shows a decided action without controls, with why it failed", () => {
    card({ ...reply, state: "failed", error: "131047: re-engagement message", decided_by: "operator:ana" });
    expect(screen.queryByRole("button", { name: /^Approve/ })).toBeNull();
    expect(screen.getByText("Failed")).toBeTruthy();
    expect(screen.getByText("Execution failed: 131047: re-engagement message")).toBeTruthy();
    expect(screen.getByText("Decided by operator:ana")).toBeTruthy();
  });
});

const message = (overrides: Partial<Message>): Message => ({
  id: 1,
  conversation_id: 12,
  direction: "outbound",
  kind: "text",
  text: "Hola",
  status: "delivered",
  created_at: "2026-01-10T10:00:00Z",
  sent_by: null,
  ...overrides,
});

describe("MessageBubble", () => {
  it.each([
    ["sent", "Sent", "✓"],
    ["delivered", "Delivered", "✓✓"],
    ["read", "Read", "✓✓"],
    ["queued", "Waiting to be sent", "◷"],
  ])("shows the %s tick", (status, label, glyph) => {
    const { container } = render(MessageBubble, { props: { message: message({ status }) } });
    expect(container.querySelector(".tick .visually-hidden")?.textContent).toBe(label);
    expect(container.querySelector(".tick [aria-hidden]")?.textContent).toBe(glyph);
  });

  it("says why a message failed", () => {
    render(MessageBubble, { props: { message: message({ status: "failed", error: "Message undeliverable (131026)" }) } });
    expect(screen.getByText("Not delivered: Message undeliverable (131026)")).toBeTruthy();
  });

  it("shows the message a reply quotes, and media with its caption (bytes unavailable here)", async () => {
    const { container } = render(MessageBubble, {
      props: {
        message: message({
          id: 2,
          text: "Sí, la tenemos",
          reply_to: { wamid: "wamid.Q", message_id: 1, preview: "<b>¿Tienen</b> talla M?" },
        }),
      },
    });
    const quote = container.querySelector(".quote");
    expect(quote?.textContent).toContain("<b>¿Tienen</b> talla M?");
    expect(quote?.getAttribute("data-quoted-id")).toBe("1");
    expect(quote?.querySelector("b")).toBeNull();
    // Above the bubble's own text.
    expect(quote?.compareDocumentPosition(container.querySelector(".text")!)).toBe(Node.DOCUMENT_POSITION_FOLLOWING);

    const unknown = render(MessageBubble, {
      props: { message: message({ id: 4, text: "Sí", reply_to: { wamid: "wamid.gone", message_id: null, preview: null } }) },
    });
    expect(unknown.container.querySelector(".quote")?.textContent).toContain("Reply to an earlier message");

    const client = new FakeClient({});
    render(MessageBubble, {
      props: {
        message: message({ id: 3, direction: "inbound", kind: "image", text: null, content: { caption: "La caja rota", mime_type: "image/jpeg" } }),
      },
      ...withContext(client),
    });
    expect(screen.getByText("La caja rota")).toBeTruthy();
    expect(await screen.findByText("The file cannot be shown here.")).toBeTruthy();
  });
});

describe("MediaView in the window", () => {
  it("shows an image whose bytes came over IPC as base64, from a blob URL", async () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0xff, 0x00, 0xc4]);
    const invoke = vi.fn(async () => ({
      status: 200,
      content_type: "image/png",
      body: null,
      base64: btoa(String.fromCharCode(...png)),
    })) as unknown as InvokeFn;
    const blobs: Blob[] = [];
    const create = vi.fn((blob: Blob) => {
      blobs.push(blob);
      return "blob:tauri://localhost/42";
    });
    const original = URL.createObjectURL;
    URL.createObjectURL = create;
    try {
      const client = createTauriClient({ invoke, createChannel: () => ({ onmessage: () => {} }) });
      const { container } = render(MediaView, {
        props: { messageId: 9042, media: "image", caption: "La caja", filename: null, mime: "image/png" },
        ...withContext(client),
      });
      await waitFor(() => expect(container.querySelector("img")?.getAttribute("src")).toBe("blob:tauri://localhost/42"));
      expect(container.querySelector("img")?.getAttribute("alt")).toBe("La caja");
      expect(blobs[0].type).toBe("image/png");
      expect(new Uint8Array(await blobs[0].arrayBuffer())).toEqual(png);
    } finally {
      URL.createObjectURL = original;
    }
  });
});

describe("Thread", () => {
  it("shows messages in order, reactions as chips under their message, and the draft as it streams", async () => {
    const messages = [
      message({
        id: 1,
        direction: "inbound",
        text: XSS,
        wamid: "wamid.A",
        status: "received",
        reactions: [
          { emoji: "👍", from: "customer" },
          { emoji: "❤️", from: "business" },
        ],
      }),
      message({ id: 2, text: "Claro" }),
      // A reaction to a message we do not have stays a line of its own.
      message({ id: 3, direction: "inbound", kind: "reaction", text: null, content: { message_id: "wamid.gone", emoji: "😮" } }),
    ];
    const { container } = render(Thread, {
      props: {
        messages,
        hasOlder: false,
        loadingOlder: false,
        onolder: async () => {},
        drafts: [{ runId: 5, conversationId: 12, text: "Estamos revisando", seq: 3, done: false }],
      },
    });
    await waitFor(() => expect(container.querySelectorAll("article.bubble")).toHaveLength(3));
    expect([...container.querySelectorAll("article.bubble .text")].map((p) => p.textContent)).toEqual([XSS, "Claro"]);
    const chips = [...container.querySelectorAll('[data-message-id="1"] .reactions .chip')];
    expect(chips.map((c) => [c.textContent, c.getAttribute("data-from")])).toEqual([
      ["👍", "customer"],
      ["❤️", "business"],
    ]);
    expect(container.querySelector('[data-message-id="3"] .special')?.textContent).toBe("Reacted 😮");
    expect(container.querySelectorAll(".reactions")).toHaveLength(1);
    expect(screen.getByTestId("live-draft").textContent).toContain("Estamos revisando");
    expect(container.querySelector("img")).toBeNull();
  });
});

describe("Composer", () => {
  const templates: Template[] = [{ name: "order_update", language: "es_MX", params: 2, body: "Hola {{1}}, su pedido {{2}}" }];

  it("sends free text while the window is open", async () => {
    const onsend = vi.fn(async () => {});
    render(Composer, {
      props: { windowClosesAt: new Date(Date.now() + 5 * 3_600_000).toISOString(), humanHolds: true, templates, onsend },
    });
    expect(screen.getByText(/Reply window open · 4h 59m left|Reply window open · 5h 00m left/)).toBeTruthy();
    const box = screen.getByLabelText("Type a message (Ctrl+Enter sends)");
    await fireEvent.input(box, { target: { value: "Ya va en camino" } });
    await fireEvent.keyDown(box, { key: "Enter", ctrlKey: true });
    await waitFor(() => expect(onsend).toHaveBeenCalledWith({ text: "Ya va en camino" }));
  });

  it("offers only templates once the window has closed", async () => {
    const onsend = vi.fn(async () => {});
    render(Composer, {
      props: { windowClosesAt: new Date(Date.now() - 60_000).toISOString(), humanHolds: true, templates, onsend },
    });
    expect(screen.getByText("The 24-hour window is closed: send an approved template.")).toBeTruthy();
    expect(screen.queryByLabelText("Type a message (Ctrl+Enter sends)")).toBeNull();
    await fireEvent.change(screen.getByLabelText("Template"), { target: { value: "order_update|es_MX" } });
    await fireEvent.input(await screen.findByLabelText("Parameter 1"), { target: { value: "Ana" } });
    await fireEvent.input(screen.getByLabelText("Parameter 2"), { target: { value: "#4821" } });
    await fireEvent.click(screen.getByRole("button", { name: "Send template" }));
    await waitFor(() =>
      expect(onsend).toHaveBeenCalledWith({ template: { name: "order_update", language: "es_MX", params: ["Ana", "#4821"] } }),
    );
  });

  it("says so when no template is configured, and shows a refusal", async () => {
    render(Composer, { props: { windowClosesAt: null, humanHolds: false, templates: [], onsend: async () => {} } });
    expect(screen.getByText("No templates are configured.")).toBeTruthy();
    expect(screen.getByText("The AI is active here; take over to pause it.")).toBeTruthy();
  });
});

describe("ConnectionBanner", () => {
  it("appears only once the console had been connected, and says it retries", () => {
    const first = render(ConnectionBanner, { props: { status: "disconnected", everOpen: false } });
    expect(first.container.textContent?.trim()).toBe("");
    first.unmount();
    render(ConnectionBanner, { props: { status: "disconnected", everOpen: true } });
    expect(screen.getByText("Connection to the engine lost.")).toBeTruthy();
    expect(screen.getByText(/Retrying on its own/)).toBeTruthy();
  });
});

describe("Chart", () => {
  it("draws bars with a data table for screen readers", () => {
    const { container } = render(Chart, {
      props: {
        title: "Inbound messages",
        points: [
          { label: "09/01", value: 40 },
          { label: "10/01", value: null },
          { label: "11/01", value: 10 },
        ],
        format: (v: number | null) => (v === null ? "—" : String(v)),
        summary: "50",
      },
    });
    expect(container.querySelectorAll("rect")).toHaveLength(2);
    expect(container.querySelector("svg")?.getAttribute("aria-label")).toBe("Inbound messages: 50");
    expect([...container.querySelectorAll("table td")].map((td) => td.textContent)).toEqual(["40", "—", "10"]);
  });

  it("says when there is no data", () => {
    render(Chart, { props: { title: "Cost", points: [], format: String, summary: "—" } });
    expect(screen.getByText("No data")).toBeTruthy();
  });
});
