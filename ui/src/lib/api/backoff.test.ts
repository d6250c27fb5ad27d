import { expect, it } from "vitest";
import { backoffDelay, DEFAULT_BACKOFF } from "./backoff";

it("backs off exponentially up to 10 s", () => {
  const delays = Array.from({ length: 8 }, (_, i) => backoffDelay(i, DEFAULT_BACKOFF));
  expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  expect(backoffDelay(1000)).toBe(10_000);
});
