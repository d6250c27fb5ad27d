import { afterEach, describe, expect, it } from "vitest";
import { FakeClient, waitFor } from "../../test/fakes";
import { ApiError } from "../api/errors";
import type { Health } from "../api/types";
import type { HubEvent } from "./events";
import { Session } from "./session.svelte";

const health: Health = { status: "ok", version: "1", mode: "live", llm: "x", offline_demo: false, database: "ok" };

describe("Session", () => {
  let session: Session | null = null;
  afterEach(() => session?.stop());

  it("asks for a token in browser mode when there is none", () => {
    session = new Session({ client: new FakeClient(), initialToken: null });
    session.start();
    expect(session.needsToken).toBe(true);
  });

  it("combines health and stream into one status, and resyncs after a reconnect", async () => {
    let up = true;
    const client = new FakeClient({
      "GET /api/health": () => {
        if (!up) throw new ApiError(0, "network_error", "down");
        return health;
      },
    });
    session = new Session({ client, initialToken: "t", pollMs: 10 });
    const seen: HubEvent[] = [];
    session.hub.listen((e) => seen.push(e));
    session.start();

    expect(session.connection.status).toBe("connecting");
    client.onState?.("open");
    await waitFor(() => session!.connection.healthOk === true);
    expect(session.connection.status).toBe("connected");

    client.onState?.("reconnecting");
    expect(session.connection.status).toBe("reconnecting");

    up = false;
    await waitFor(() => session!.connection.status === "disconnected");

    up = true;
    client.onState?.("open");
    await waitFor(() => session!.connection.status === "connected");
    expect(seen).toContainEqual({ type: "resync" });

    client.onEvent?.({ type: "lagged", missed: 2 });
    expect(seen).toContainEqual({ type: "lagged", missed: 2 });
  });

  it("stops and asks for a new token when the engine answers 401", async () => {
    const client = new FakeClient({
      "GET /api/health": () => {
        throw new ApiError(401, "unauthorized", "bad token");
      },
    });
    session = new Session({ client, initialToken: "old" });
    session.start();
    await waitFor(() => session!.needsToken);
    expect(session.tokenRejected).toBe(true);
    expect(client.unsubscribed).toBe(true);
  });
});

describe("roles", () => {
  it("ranks agent < supervisor < owner, and trusts the engine token as the owner", async () => {
    const { roleAtLeast } = await import("./session.svelte");
    expect(roleAtLeast("agent", "agent")).toBe(true);
    expect(roleAtLeast("agent", "supervisor")).toBe(false);
    expect(roleAtLeast("supervisor", "agent")).toBe(true);
    expect(roleAtLeast("owner", "supervisor")).toBe(true);

    const agent = new FakeClient({
      "GET /api/health": () => health,
      "GET /api/me": () => ({ operator_id: 3, name: "Ana", role: "agent", label: "operator:3:Ana" }),
    });
    const s = new Session({ client: agent, initialToken: "t" });
    expect(s.can("owner")).toBe(true);
    s.start();
    await waitFor(() => s.me !== null);
    expect(s.can("agent")).toBe(true);
    expect(s.can("supervisor")).toBe(false);
    s.stop();
  });
});
