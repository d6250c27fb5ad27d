// Hash routing: #/inbox, #/approvals, ..., #/conversations/{id}, #/runs/{id}. Default: Inbox.

export const NAV_ROUTES = ["inbox", "approvals", "escalations", "tasks", "audit", "dashboard", "settings"] as const;
export type NavRoute = (typeof NAV_ROUTES)[number];

export type Route =
  | { name: NavRoute }
  | { name: "conversation"; id: number }
  /** `conversation`: where the run belongs, when known (lets the view fall back to the audit trail). */
  | { name: "run"; id: number; conversation: number | null };

function queryParam(hash: string, name: string): string | null {
  const q = hash.indexOf("?");
  if (q < 0) return null;
  return new URLSearchParams(hash.slice(q + 1)).get(name);
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "").split(/[?&]/)[0].replace(/^\/+/, "").replace(/\/+$/, "");
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 2 && parts[0] === "conversations" && /^\d+$/.test(parts[1])) {
    return { name: "conversation", id: Number(parts[1]) };
  }
  if (parts.length === 2 && parts[0] === "runs" && /^\d+$/.test(parts[1])) {
    const c = queryParam(hash, "conversation");
    return { name: "run", id: Number(parts[1]), conversation: c && /^\d+$/.test(c) ? Number(c) : null };
  }
  if (parts.length === 1 && (NAV_ROUTES as readonly string[]).includes(parts[0])) {
    return { name: parts[0] as NavRoute };
  }
  return { name: "inbox" };
}

export function routeHref(route: Route): string {
  switch (route.name) {
    case "conversation":
      return `#/conversations/${route.id}`;
    case "run":
      return `#/runs/${route.id}${route.conversation !== null ? `?conversation=${route.conversation}` : ""}`;
    default:
      return `#/${route.name}`;
  }
}

export const conversationHref = (id: number) => routeHref({ name: "conversation", id });
export const runHref = (id: number, conversation: number | null = null) =>
  routeHref({ name: "run", id, conversation });

/** The sidebar entry a route belongs to. */
export function navSection(route: Route): NavRoute {
  if (route.name === "conversation") return "inbox";
  if (route.name === "run") return "audit";
  return route.name;
}

export function navigate(route: Route): void {
  window.location.hash = routeHref(route);
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
