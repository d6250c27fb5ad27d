import { render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { Health } from "../api/types";
import { i18n } from "../i18n/index.svelte";
import HealthIndicator from "./HealthIndicator.svelte";
import MessageBubble from "./MessageBubble.svelte";
import ModeBadges from "./ModeBadges.svelte";
import Nav from "./Nav.svelte";

const health: Health = {
  status: "ok",
  version: "0.1.0",
  mode: "sandbox",
  llm: "offline",
  offline_demo: true,
  database: "ok",
};

describe("Nav", () => {
  it("renders every entry and marks the current route", () => {
    render(Nav, { props: { current: "escalations" } });

    const links = screen.getAllByRole("link");
    expect(links.map((a) => a.textContent)).toEqual([
      "Inbox",
      "Approvals",
      "Escalations",
      "Tasks",
      "Audit",
      "Dashboard",
      "Settings",
    ]);
    expect(links.map((a) => a.getAttribute("href"))).toEqual([
      "#/inbox",
      "#/approvals",
      "#/escalations",
      "#/tasks",
      "#/audit",
      "#/dashboard",
      "#/settings",
    ]);
    const current = screen.getByRole("link", { current: "page" });
    expect(current.textContent).toBe("Escalations");
    expect(links.filter((a) => a.hasAttribute("aria-current"))).toHaveLength(1);
  });

  it("shows queue counts and hides what the role does not reach", () => {
    render(Nav, { props: { current: "inbox", counts: { approvals: 3, escalations: 120 }, hidden: ["audit", "dashboard"] } });
    expect(screen.getByRole("link", { name: /Approvals/ }).textContent).toBe("Approvals3(3 waiting)");
    expect(screen.getByRole("link", { name: /Escalations/ }).textContent).toContain("99+");
    expect(screen.queryByRole("link", { name: "Audit" })).toBeNull();
    expect(screen.queryByRole("link", { name: "Dashboard" })).toBeNull();
  });

  it("follows the language", async () => {
    i18n.setLocale("pt-BR");
    render(Nav, { props: { current: "inbox" } });
    expect(screen.getByRole("link", { current: "page" }).textContent).toBe("Caixa de entrada");
    expect(screen.getByRole("navigation").getAttribute("aria-label")).toBe("Navegação principal");
  });
});

describe("HealthIndicator", () => {
  it("shows Connected", () => {
    render(HealthIndicator, { props: { status: "connected", health } });
    expect(screen.getByRole("status").textContent).toContain("Connected");
    expect(screen.getByText("Engine 0.1.0")).toBeTruthy();
  });

  it("shows Disconnected", () => {
    const { container } = render(HealthIndicator, { props: { status: "disconnected" } });
    expect(screen.getByRole("status").textContent).toContain("Disconnected");
    expect(container.querySelector("[data-status=disconnected]")).not.toBeNull();
  });

  it("shows Reconnecting…", () => {
    render(HealthIndicator, { props: { status: "reconnecting", health: null } });
    expect(screen.getByRole("status").textContent).toContain("Reconnecting…");
  });

  it("flags a degraded engine", () => {
    render(HealthIndicator, { props: { status: "connected", health: { ...health, status: "degraded" } } });
    expect(screen.getByText("Engine degraded")).toBeTruthy();
  });
});

describe("ModeBadges", () => {
  it("shows Sandbox and Offline demo when health says so", () => {
    render(ModeBadges, { props: { health } });
    expect(screen.getByText("Sandbox")).toBeTruthy();
    expect(screen.getByText("Offline demo")).toBeTruthy();
  });

  it("shows nothing in live mode", () => {
    const { container } = render(ModeBadges, { props: { health: { ...health, mode: "live", offline_demo: false } } });
    expect(container.textContent?.trim()).toBe("");
  });
});

describe("MessageBubble", () => {
  it("renders customer text literally", () => {
    const text = "<img src=x onerror=alert(1)>";
    const { container } = render(MessageBubble, {
      props: {
        message: {
          id: 1,
          conversation_id: 1,
          direction: "inbound",
          kind: "text",
          text,
          status: "received",
          created_at: "2025-01-01T10:00:00Z",
          sent_by: null,
        },
      },
    });
    expect(screen.getByText(text)).toBeTruthy();
    expect(container.querySelector("img")).toBeNull();
  });
});
