// A list loaded page by page, with loading/error state, safe against out-of-order answers.
import type { Page } from "../api/types";

export class PagedList<T> {
  items = $state<T[]>([]);
  nextCursor = $state<string | null>(null);
  loading = $state(false);
  loadingMore = $state(false);
  loaded = $state(false);
  error = $state<unknown>(null);
  #seq = 0;
  #fetchPage: (cursor: string | null) => Promise<Page<T>>;

  constructor(fetchPage: (cursor: string | null) => Promise<Page<T>>) {
    this.#fetchPage = fetchPage;
  }

  /** (Re)load the first page, replacing the items. */
  async load(): Promise<void> {
    const seq = ++this.#seq;
    this.loading = true;
    try {
      const page = await this.#fetchPage(null);
      if (seq !== this.#seq) return;
      this.items = page.items;
      this.nextCursor = page.next_cursor;
      this.error = null;
      this.loaded = true;
    } catch (err) {
      if (seq === this.#seq) this.error = err;
    } finally {
      if (seq === this.#seq) this.loading = false;
    }
  }

  /**
   * Refetch the first page and merge it over what is loaded, for lists ordered by recent
   * activity: what changed moves to the top, the pages already loaded below stay (and so
   * does the scroll position and the cursor to the next page).
   */
  async refreshHead(idOf: (item: T) => unknown): Promise<void> {
    if (!this.loaded || this.nextCursor === null) return this.load();
    const seq = this.#seq;
    try {
      const page = await this.#fetchPage(null);
      if (seq !== this.#seq) return;
      const fresh = new Set(page.items.map(idOf));
      this.items = [...page.items, ...this.items.filter((item) => !fresh.has(idOf(item)))];
      this.error = null;
    } catch (err) {
      if (seq === this.#seq) this.error = err;
    }
  }

  async loadMore(): Promise<void> {
    const cursor = this.nextCursor;
    if (!cursor || this.loadingMore) return;
    const seq = this.#seq;
    this.loadingMore = true;
    try {
      const page = await this.#fetchPage(cursor);
      if (seq !== this.#seq) return;
      this.items = [...this.items, ...page.items];
      this.nextCursor = page.next_cursor;
    } catch (err) {
      if (seq === this.#seq) this.error = err;
    } finally {
      this.loadingMore = false;
    }
  }
}

/** A single value loaded on demand. */
export class Loadable<T> {
  value = $state<T | undefined>(undefined);
  loading = $state(false);
  error = $state<unknown>(null);
  #seq = 0;
  #fetch: () => Promise<T>;

  constructor(fetch: () => Promise<T>) {
    this.#fetch = fetch;
  }

  async load(): Promise<void> {
    const seq = ++this.#seq;
    this.loading = true;
    try {
      const value = await this.#fetch();
      if (seq !== this.#seq) return;
      this.value = value;
      this.error = null;
    } catch (err) {
      if (seq === this.#seq) this.error = err;
    } finally {
      if (seq === this.#seq) this.loading = false;
    }
  }
}
