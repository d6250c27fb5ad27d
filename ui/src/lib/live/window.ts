// The WhatsApp 24-hour customer-service window, as the console shows it.

export interface WindowState {
  open: boolean;
  /** Milliseconds left while open; 0 when closed or unknown. */
  leftMs: number;
  /** Under an hour left: shown as a warning. */
  closing: boolean;
}

export function windowState(closesAt: string | null | undefined, now: number): WindowState {
  const at = closesAt ? Date.parse(closesAt) : NaN;
  if (Number.isNaN(at) || at <= now) return { open: false, leftMs: 0, closing: false };
  const leftMs = at - now;
  return { open: true, leftMs, closing: leftMs < 3_600_000 };
}

/** "5h 12m", "47m", "<1m": short and language-neutral. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return "<1m";
  const minutes = Math.floor(ms / 60_000);
  const hours = Math.floor(minutes / 60);
  const days = Math.floor(hours / 24);
  if (days > 0) return `${days}d ${hours % 24}h`;
  if (hours > 0) return `${hours}h ${String(minutes % 60).padStart(2, "0")}m`;
  return `${minutes}m`;
}
