// Hash routing: #/inbox, #/approvals, ..., #/conversations/{id}. Default: Inbox.

export const NAV_ROUTES = ["inbox", "approvals", "escalations", "audit", "tasks", "settings"] as const;
export type NavRoute = (typeof NAV_ROUTES)[number];

export type Route = { name: NavRoute } | { name: "conversation"; id: number };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "").split(/[?&]/)[0].replace(/^\/+/, "").replace(/\/+$/, "");
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 2 && parts[0] === "conversations" && /^\d+$/.test(parts[1])) {
    return { name: "conversation", id: Number(parts[1]) };
  }
  if (parts.length === 1 && (NAV_ROUTES as readonly string[]).includes(parts[0])) {
    return { name: parts[0] as NavRoute };
  }
  return { name: "inbox" };
}

export function routeHref(route: Route): string {
  return route.name === "conversation" ? `#/conversations/${route.id}` : `#/${route.name}`;
}

export const conversationHref = (id: number) => routeHref({ name: "conversation", id });

/** The sidebar entry a route belongs to. */
export function navSection(route: Route): NavRoute {
  return route.name === "conversation" ? "inbox" : route.name;
}

export class Router {
  route = $state<Route>({ name: "inbox" });
  #onHashChange = () => {
    this.route = parseRoute(window.location.hash);
  };

  constructor() {
    this.route = parseRoute(window.location.hash);
    window.addEventListener("hashchange", this.#onHashChange);
  }

  destroy(): void {
    window.removeEventListener("hashchange", this.#onHashChange);
  }
}
