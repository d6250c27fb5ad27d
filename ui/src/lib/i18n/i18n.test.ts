import { describe, expect, it } from "vitest";
import { en } from "./en";
import { DICTIONARIES, detectLocale, i18n, interpolate, LOCALE_STORAGE_KEY, LOCALES, t } from "./index.svelte";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("dictionaries", () => {
  const reference = Object.keys(en).sort();

  it.each(LOCALES)("%s has exactly the English keys", (locale) => {
    expect(Object.keys(DICTIONARIES[locale]).sort()).toEqual(reference);
  });

  it.each(LOCALES)("%s has a non-empty text with the same placeholders for every key", (locale) => {
    const dict = DICTIONARIES[locale];
    for (const key of reference as (keyof typeof en)[]) {
      expect(typeof dict[key], `${locale} ${key}`).toBe("string");
      expect(dict[key].trim(), `${locale} ${key}`).not.toBe("");
      expect(placeholders(dict[key]), `${locale} ${key}`).toEqual(placeholders(en[key]));
    }
  });
});

describe("locale choice", () => {
  it.each([
    [["es-MX"], "es"],
    [["pt-BR"], "pt-BR"],
    [["pt-PT"], "pt-BR"],
    [["en-GB"], "en"],
    [["de-DE", "es-ES"], "es"],
    [["fr-FR"], "en"],
    [[], "en"],
  ] as const)("%j -> %s", (languages, expected) => {
    expect(detectLocale(languages)).toBe(expected);
  });

  it("switches and persists the language", () => {
    i18n.setLocale("es");
    expect(t("nav.inbox")).toBe("Bandeja de entrada");
    expect(localStorage.getItem(LOCALE_STORAGE_KEY)).toBe("es");
    expect(document.documentElement.lang).toBe("es");
    i18n.setLocale("pt-BR");
    expect(t("inbox.unread", { count: 3 })).toBe("3 não lidas");
    i18n.setLocale("en");
    expect(t("inbox.unread", { count: 3 })).toBe("3 unread");
  });

  it("interpolates named placeholders", () => {
    expect(interpolate("{a} and {b} and {c}", { a: 1, b: "two" })).toBe("1 and two and {c}");
  });
});
