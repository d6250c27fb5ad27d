// Single-key shortcuts for the action cards: they must never fire while the operator types.

/** True when a key press belongs to a text field (or has a modifier) and must be left alone. */
export function isTypingTarget(event: KeyboardEvent): boolean {
  if (event.ctrlKey || event.metaKey || event.altKey) return true;
  const target = event.target as HTMLElement | null;
  if (!target || typeof target.closest !== "function") return false;
  return target.closest("input, textarea, select, [contenteditable='true']") !== null;
}

export type CardCommand = "approve" | "edit" | "reject" | "next" | "previous";

const KEYS: Record<string, CardCommand> = {
  a: "approve",
  e: "edit",
  r: "reject",
  j: "next",
  k: "previous",
};

/** The command a plain key press asks for, if any. */
export function cardCommand(event: KeyboardEvent): CardCommand | null {
  if (isTypingTarget(event)) return null;
  return KEYS[event.key.toLowerCase()] ?? null;
}
