import { getContext, setContext } from "svelte";
import type { Api } from "./api/endpoints";
import type { EventHub } from "./stores/events";

/** What every view needs: the typed API and the event hub. */
export interface AppContext {
  api: Api;
  hub: EventHub;
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
