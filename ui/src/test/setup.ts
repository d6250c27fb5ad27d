import { afterEach, beforeEach } from "vitest";
import { cleanup } from "@testing-library/svelte";
import { i18n } from "../lib/i18n/index.svelte";

beforeEach(() => {
  window.localStorage.clear();
  window.sessionStorage.clear();
  i18n.setLocale("en");
});

afterEach(() => {
  cleanup();
});
