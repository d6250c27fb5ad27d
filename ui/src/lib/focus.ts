/** Svelte action: focus the element once it is mounted (a keyboard user lands in the new field). */
export function focusOnMount(node: HTMLElement): void {
  queueMicrotask(() => node.focus());
}
