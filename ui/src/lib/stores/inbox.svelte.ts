// The inbox: filters, search and the keyset-paged list of conversations, kept while the
// operator moves between the inbox and a conversation.
import { getContext, setContext } from "svelte";
import type { Api } from "../api/endpoints";
import type { Conversation, ConversationState } from "../api/types";
import { refreshOn, type EventHub } from "./events";
import { PagedList } from "./paged.svelte";

export const INBOX_PAGE = 200;

export class InboxModel {
  stateFilter = $state<ConversationState | "">("");
  searchInput = $state("");
  query = $state("");
  readonly list: PagedList<Conversation>;
  #stop: (() => void) | null = null;
  #users = 0;
  #searchTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private api: Api,
    private hub: EventHub,
  ) {
    this.list = new PagedList<Conversation>((cursor) =>
      this.api.conversations({
        state: this.stateFilter || null,
        q: this.query.trim() || null,
        cursor,
        limit: INBOX_PAGE,
      }),
    );
  }

  get filtered(): boolean {
    return this.stateFilter !== "" || this.query.trim() !== "";
  }

  setState(state: ConversationState | ""): void {
    this.stateFilter = state;
    void this.list.load();
  }

  /** Search as you type, without a request per key. */
  setSearch(value: string): void {
    this.searchInput = value;
    if (this.#searchTimer !== null) clearTimeout(this.#searchTimer);
    this.#searchTimer = setTimeout(() => {
      this.#searchTimer = null;
      if (this.query === value) return;
      this.query = value;
      void this.list.load();
    }, 250);
  }

  /** A view showing the list starts using it; the last one to stop stops the live refresh. */
  attach(): () => void {
    this.#users += 1;
    if (this.#users === 1) {
      if (!this.list.loaded) void this.list.load();
      else void this.refresh();
      this.#stop = refreshOn(
        this.hub,
        (event) =>
          event.type === "message_received" ||
          event.type === "message_status" ||
          event.type === "conversation_updated" ||
          event.type.startsWith("action_") ||
          event.type.startsWith("escalation_"),
        () => void this.refresh(),
        400,
      );
    }
    return () => {
      this.#users -= 1;
      if (this.#users === 0) {
        this.#stop?.();
        this.#stop = null;
      }
    };
  }

  /** Refetch what changed: the newest activity comes first, so the first page holds it. */
  async refresh(): Promise<void> {
    // A filter may drop a conversation that changed state: reload the filtered list whole.
    if (this.filtered) await this.list.load();
    else await this.list.refreshHead((c) => c.id);
  }
}

const KEY = Symbol("switchboard.inbox");

export function provideInbox(api: Api, hub: EventHub): InboxModel {
  return setContext(KEY, new InboxModel(api, hub));
}

export function useInbox(api: Api, hub: EventHub): InboxModel {
  return getContext<InboxModel | undefined>(KEY) ?? new InboxModel(api, hub);
}
