import { afterEach, beforeEach } from "vitest";
import { cleanup } from "@testing-library/svelte";
import { i18n } from "../lib/i18n/index.svelte";

// happy-dom has no layout: give the virtualized lists a viewport (900 px) and rows (60 px) so
// they render what a window of that size would show.
class LayoutResizeObserver {
  constructor(private callback: ResizeObserverCallback) {}
  observe(target: Element) {
    queueMicrotask(() => {
      const item = (target as HTMLElement).style?.position === "absolute";
      const height = item ? 60 : 900;
      this.callback(
        [{ target, contentRect: { width: 800, height } } as unknown as ResizeObserverEntry],
        this as unknown as ResizeObserver,
      );
    });
  }
  unobserve() {}
  disconnect() {}
}
Object.defineProperty(window, "ResizeObserver", { value: LayoutResizeObserver, writable: true });
for (const prop of ["clientHeight", "offsetHeight"] as const) {
  Object.defineProperty(HTMLElement.prototype, prop, {
    configurable: true,
    get() {
      return (this as HTMLElement).style?.position === "absolute" ? 60 : 900;
    },
  });
}

Object.defineProperty(HTMLElement.prototype, "offsetParent", {
  configurable: true,
  get() {
    return (this as HTMLElement).parentElement;
  },
});

beforeEach(() => {
  window.localStorage.clear();
  window.sessionStorage.clear();
  i18n.setLocale("en");
});

afterEach(() => {
  cleanup();
});
