// Contact names for conversation ids shown in queues, fetched once each.
import { SvelteMap } from "svelte/reactivity";
import type { Api } from "../api/endpoints";
import { contactLabel } from "../contact";

export class ConversationNames {
  #names = new SvelteMap<number, string>();
  #asked = new Set<number>();

  constructor(private api: Api) {}

  get(id: number): string | null {
    return this.#names.get(id) ?? null;
  }

  /** Fetch the names not known yet (a failure leaves "Conversation #id" shown). */
  want(ids: Iterable<number>): void {
    for (const id of ids) {
      if (this.#asked.has(id)) continue;
      this.#asked.add(id);
      this.api.conversation(id).then(
        (c) => this.#names.set(id, contactLabel(c.contact)),
        () => {},
      );
    }
  }
}
