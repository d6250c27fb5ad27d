import { render, screen, waitFor } from "@testing-library/svelte";
import { fireEvent } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { FakeClient, page } from "./test/fakes";
import App from "./App.svelte";
import { Session } from "./lib/stores/session.svelte";
import { TOKEN_STORAGE_KEY } from "./lib/api/token";

const sandboxHealth = {
  status: "ok",
  version: "0.1.0",
  mode: "sandbox",
  llm: "offline",
  offline_demo: true,
  database: "ok",
};

describe("App", () => {
  it("shows the connect form without a token, then the inbox once connected", async () => {
    window.location.hash = "#/inbox";
    const client = new FakeClient({
      "GET /api/health": () => sandboxHealth,
      "GET /api/conversations": () => page([]),
      "POST /api/sandbox/messages": () => ({ inbox_id: 1 }),
    });
    const session = new Session({ client, initialToken: null, baseUrl: "http://127.0.0.1:7878" });
    render(App, { props: { session } });

    expect(screen.getByRole("heading", { name: "Connect to engine" })).toBeTruthy();
    await fireEvent.input(screen.getByLabelText("Access token"), { target: { value: "tok-1" } });
    await fireEvent.click(screen.getByRole("button", { name: "Connect" }));

    expect(await screen.findByText("No conversations yet.")).toBeTruthy();
    expect(sessionStorage.getItem(TOKEN_STORAGE_KEY)).toBe("tok-1");
    client.onState?.("open");
    await waitFor(() => expect(screen.getByText("Connected")).toBeTruthy());
    expect(screen.getByText("Sandbox", { selector: ".badge" })).toBeTruthy();
    expect(screen.getByText("Offline demo", { selector: ".badge" })).toBeTruthy();
    expect(screen.getByTestId("mode-strip").textContent).toContain("nothing reaches WhatsApp");

    // The sandbox panel writes as a simulated customer through the API.
    await fireEvent.click(screen.getByRole("button", { name: "Write as a customer" }));
    const panel = await screen.findByTestId("sandbox-panel");
    expect(panel.textContent).toContain("Simulated customer");
    await fireEvent.input(screen.getByLabelText("Name"), { target: { value: "Rosa" } });
    await fireEvent.input(screen.getByLabelText("Phone (digits)"), { target: { value: "+52 155 5000 1234" } });
    await fireEvent.input(screen.getByLabelText("Message"), { target: { value: "¿Tienen envío?" } });
    await fireEvent.click(screen.getByRole("button", { name: "Send as customer" }));
    await waitFor(() =>
      expect(client.calls).toContainEqual({
        method: "POST",
        path: "/api/sandbox/messages",
        body: { from: "5215550001234", name: "Rosa", text: "¿Tienen envío?" },
      }),
    );
    expect(screen.getByText("Switchboard", { selector: ".title" })).toBeTruthy();
  });

  it("routes by hash", async () => {
    window.location.hash = "#/tasks";
    const client = new FakeClient({
      "GET /api/health": () => sandboxHealth,
      "GET /api/tasks": () => page([]),
    });
    render(App, { props: { session: new Session({ client, initialToken: "t" }) } });
    expect(await screen.findByRole("heading", { name: "Tasks" })).toBeTruthy();
    expect(screen.getByRole("link", { current: "page" }).textContent).toBe("Tasks");
  });
});
