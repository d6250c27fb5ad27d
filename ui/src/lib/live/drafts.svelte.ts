// The AI's drafts as they stream in: per run, the reply text so far, from ordered deltas.
import type { EngineEvent } from "../api/types";

export interface Draft {
  runId: number;
  conversationId: number;
  text: string;
  /** The last delta applied; deltas at or below it are repeats and ignored. */
  seq: number;
  done: boolean;
}

/**
 * Collects `token_delta` (and late-join `draft` snapshot) events of one conversation. Deltas
 * arriving twice are ignored by `seq`; a snapshot replaces the text when it is newer.
 */
export class DraftBook {
  drafts = $state<Draft[]>([]);
  readonly conversationId: number;

  constructor(conversationId: number) {
    this.conversationId = conversationId;
  }

  /** Apply an event; returns true when it changed a draft. */
  apply(event: EngineEvent): boolean {
    if (!("conversation_id" in event) || event.conversation_id !== this.conversationId) return false;
    switch (event.type) {
      case "run_started":
        this.#upsert(event.run_id);
        return true;
      case "token_delta": {
        const draft = this.#upsert(event.run_id);
        if (event.seq <= draft.seq) return false;
        draft.text += event.text;
        draft.seq = event.seq;
        return true;
      }
      case "draft": {
        const draft = this.#upsert(event.run_id);
        const seq = event.seq ?? Number.MAX_SAFE_INTEGER;
        if (event.seq !== undefined && seq <= draft.seq) return false;
        if (event.text.length < draft.text.length && event.seq === undefined) return false;
        draft.text = event.text;
        draft.seq = event.seq ?? draft.seq;
        return true;
      }
      case "run_finished":
        this.drafts = this.drafts.filter((d) => d.runId !== event.run_id);
        return true;
      default:
        return false;
    }
  }

  clear(): void {
    this.drafts = [];
  }

  #upsert(runId: number): Draft {
    const found = this.drafts.find((d) => d.runId === runId);
    if (found) return found;
    this.drafts.push({ runId, conversationId: this.conversationId, text: "", seq: 0, done: false });
    // Read back the proxied entry so later mutations are reactive.
    return this.drafts[this.drafts.length - 1];
  }
}

/**
 * Every conversation's drafts, collected from the start of the session, so a conversation
 * opened while its answer streams shows the whole text, not only what came after.
 */
export class DraftRegistry {
  #books = new Map<number, DraftBook>();

  book(conversationId: number): DraftBook {
    let book = this.#books.get(conversationId);
    if (!book) {
      book = new DraftBook(conversationId);
      this.#books.set(conversationId, book);
    }
    return book;
  }

  apply(event: EngineEvent): void {
    if (!("conversation_id" in event) || typeof event.conversation_id !== "number") return;
    if (event.type !== "run_started" && event.type !== "token_delta" && event.type !== "draft" && event.type !== "run_finished") return;
    // A view holds its conversation's book: books are kept (one small object per conversation).
    this.book(event.conversation_id).apply(event);
  }

  clear(): void {
    for (const book of this.#books.values()) book.clear();
  }
}
