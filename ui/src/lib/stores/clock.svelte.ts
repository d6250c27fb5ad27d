// One shared ticking clock for relative times and the 24-hour window (one timer, not one per row).

class Clock {
  value = $state(Date.now());
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(periodMs: number) {
    if (typeof window !== "undefined") {
      this.#timer = setInterval(() => (this.value = Date.now()), periodMs);
    }
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
  }
}

export const now = new Clock(15_000);
