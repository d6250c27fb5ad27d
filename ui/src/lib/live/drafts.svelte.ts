// The AI's drafts as they stream in: per run, the reply text so far, from ordered deltas.
import type { EngineEvent } from "../api/types";

const encoder = new TextEncoder();

function utf8Length(text: string): number {
  return encoder.encode(text).length;
}

export interface Draft {
  runId: number;
  conversationId: number;
  text: string;
  /** The last delta applied (older engines: deltas at or below it are repeats). */
  seq: number;
  done: boolean;
}

/**
 * Collects the draft events of one conversation: `draft` (the text so far, for a late joiner),
 * `token_delta` (placed by byte offset), `draft_reset` (a retry starts over), `run_finished`.
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
        if (typeof event.offset === "number") {
          // Byte offsets: 0 starts the draft over, the current end appends, less is a repeat.
          const length = utf8Length(draft.text);
          if (event.offset === 0) draft.text = event.text;
          else if (event.offset < length) return false;
          else draft.text += event.text;
        } else {
          // Older engines: one sequence of deltas per run.
          if (event.seq <= draft.seq) return false;
          draft.text += event.text;
        }
        draft.seq = event.seq;
        return true;
      }
      case "draft": {
        // The whole text so far, for a subscriber that joined mid-stream; deltas follow it.
        const draft = this.#upsert(event.run_id);
        draft.text = event.text;
        return true;
      }
      case "draft_reset": {
        const draft = this.#upsert(event.run_id);
        draft.text = "";
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
    if (!["run_started", "token_delta", "draft", "draft_reset", "run_finished"].includes(event.type)) return;
    // A view holds its conversation's book: books are kept (one small object per conversation).
    this.book(event.conversation_id).apply(event);
  }

  clear(): void {
    for (const book of this.#books.values()) book.clear();
  }
}
