import { afterEach, describe, expect, it, vi } from "vitest";
import { deriveStatus } from "./connection.svelte";
import { EventHub, refreshOn } from "./events";
import { navSection, parseRoute, routeHref } from "./router.svelte";
import { settingsSections } from "../settings";

describe("routes", () => {
  it.each([
    ["", { name: "inbox" }],
    ["#/", { name: "inbox" }],
    ["#/approvals", { name: "approvals" }],
    ["#/settings/", { name: "settings" }],
    ["#/conversations/42", { name: "conversation", id: 42 }],
    ["#/conversations/x", { name: "inbox" }],
    ["#/nope", { name: "inbox" }],
    ["#/audit?token=abc", { name: "audit" }],
  ])("%s", (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
  });

  it("round-trips and maps a conversation to the Inbox entry", () => {
    expect(routeHref({ name: "conversation", id: 7 })).toBe("#/conversations/7");
    expect(parseRoute(routeHref({ name: "tasks" }))).toEqual({ name: "tasks" });
    expect(navSection({ name: "conversation", id: 7 })).toBe("inbox");
  });
});

describe("connection status", () => {
  it.each([
    [null, "connecting", false, "connecting"],
    [true, "open", true, "connected"],
    [null, "open", true, "connected"],
    [true, "reconnecting", true, "reconnecting"],
    [true, "connecting", true, "reconnecting"],
    [false, "open", true, "disconnected"],
    [false, "reconnecting", true, "disconnected"],
    [true, "unauthorized", false, "disconnected"],
  ] as const)("health %s + stream %s (ever open %s) -> %s", (health, stream, everOpen, expected) => {
    expect(deriveStatus(health, stream, everOpen)).toBe(expected);
  });
});

describe("refreshOn", () => {
  afterEach(() => vi.useRealTimers());

  it("debounces matching events and always refreshes on lagged/resync", () => {
    vi.useFakeTimers();
    const hub = new EventHub();
    const refresh = vi.fn();
    const stop = refreshOn(hub, (e) => e.type === "action_proposed", refresh, 300);

    hub.emit({ type: "action_proposed", action_id: 1, conversation_id: 1, state: "pending" });
    hub.emit({ type: "action_proposed", action_id: 2, conversation_id: 1, state: "pending" });
    hub.emit({ type: "message_received", conversation_id: 1, message_id: 1 });
    vi.advanceTimersByTime(299);
    expect(refresh).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(refresh).toHaveBeenCalledTimes(1);

    hub.emit({ type: "lagged", missed: 12 });
    vi.advanceTimersByTime(300);
    hub.emit({ type: "resync" });
    vi.advanceTimersByTime(300);
    expect(refresh).toHaveBeenCalledTimes(3);

    hub.emit({ type: "action_proposed", action_id: 3, conversation_id: 1, state: "pending" });
    stop();
    vi.advanceTimersByTime(1000);
    expect(refresh).toHaveBeenCalledTimes(3);
  });
});

describe("settings sections", () => {
  it("puts scalars in a general section and flattens nested objects", () => {
    expect(
      settingsSections({
        mode: "sandbox",
        retries: 3,
        llm: { provider: "local", model: { name: "tiny", ctx: 2048 }, stop: ["a"] },
        empty: {},
      }),
    ).toEqual([
      {
        key: "",
        entries: [
          { key: "mode", value: "sandbox" },
          { key: "retries", value: "3" },
        ],
      },
      {
        key: "llm",
        entries: [
          { key: "provider", value: "local" },
          { key: "model.name", value: "tiny" },
          { key: "model.ctx", value: "2048" },
          { key: "stop", value: '["a"]' },
        ],
      },
      { key: "empty", entries: [] },
    ]);
  });
});
