import { getContext, setContext } from "svelte";
import type { Api } from "./api/endpoints";
import type { Health, Role } from "./api/types";
import type { DraftRegistry } from "./live/drafts.svelte";
import type { EventHub } from "./stores/events";

/** What every view needs: the typed API and the event hub; the session's facts when there is one. */
export interface AppContext {
  api: Api;
  hub: EventHub;
  /** May the operator do what needs `role`? Absent: yes (the engine token is the owner). */
  can?: (role: Role) => boolean;
  /** The last health answer (sandbox or live, offline demo). */
  health?: () => Health | null;
  /** The AI's drafts streaming now, collected since the session started. */
  drafts?: DraftRegistry;
}

const KEY = Symbol("switchboard.app");

export function setAppContext(ctx: AppContext): AppContext {
  return setContext(KEY, ctx);
}

export function getAppContext(): AppContext {
  const ctx = getContext<AppContext | undefined>(KEY);
  if (!ctx) throw new Error("Switchboard app context is missing");
  return ctx;
}

/** For `mount`/`render`: a context map that provides `ctx`. */
export function appContextMap(ctx: AppContext): Map<unknown, unknown> {
  return new Map<unknown, unknown>([[KEY, ctx]]);
}
