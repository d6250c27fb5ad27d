export interface BackoffOptions {
  /** First retry delay. */
  initialMs: number;
  /** Ceiling of the delay. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 10_000 };

/** Exponential delay for the `attempt`-th retry (0-based), capped at `maxMs`. */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const exp = options.initialMs * 2 ** Math.min(attempt, 30);
  return Math.min(options.maxMs, exp);
}
