// A tiny typed i18n: three dictionaries, a reactive current locale, `t(key, params)`.
import { en, type Dictionary, type MessageKey } from "./en";
import { es } from "./es";
import { ptBR } from "./pt-BR";

export type { Dictionary, MessageKey };

export const LOCALES = ["en", "es", "pt-BR"] as const;
export type Locale = (typeof LOCALES)[number];

export const DICTIONARIES: Record<Locale, Dictionary> = { en, es, "pt-BR": ptBR };

/** Each language's own name, shown in the language switch. */
export const LOCALE_NAMES: Record<Locale, string> = {
  en: "English",
  es: "Español",
  "pt-BR": "Português (Brasil)",
};

export const LOCALE_STORAGE_KEY = "switchboard.locale";

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (LOCALES as readonly string[]).includes(value);
}

/** Best match for the browser's preferred languages; English when none fits. */
export function detectLocale(languages: readonly string[]): Locale {
  for (const lang of languages) {
    const lower = lang.toLowerCase();
    if (lower.startsWith("pt")) return "pt-BR";
    if (lower.startsWith("es")) return "es";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

function storedLocale(): Locale | null {
  try {
    const value = globalThis.localStorage?.getItem(LOCALE_STORAGE_KEY);
    return isLocale(value) ? value : null;
  } catch {
    return null;
  }
}

function initialLocale(): Locale {
  const stored = storedLocale();
  if (stored) return stored;
  const nav = globalThis.navigator;
  const languages = nav ? (nav.languages?.length ? nav.languages : [nav.language]) : [];
  return detectLocale(languages.filter(Boolean));
}

/** Replace `{name}` placeholders. Unknown placeholders are left as they are. */
export function interpolate(template: string, params?: Record<string, string | number>): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

class I18n {
  locale = $state<Locale>(initialLocale());

  setLocale(locale: Locale): void {
    this.locale = locale;
    try {
      globalThis.localStorage?.setItem(LOCALE_STORAGE_KEY, locale);
    } catch {
      // Not persisted when storage is unavailable.
    }
    if (typeof document !== "undefined") document.documentElement.lang = locale;
  }

  t(key: MessageKey, params?: Record<string, string | number>): string {
    const text = DICTIONARIES[this.locale][key] ?? en[key] ?? key;
    return interpolate(text, params);
  }
}

export const i18n = new I18n();

/** Translate with the current locale (reactive inside components). */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  return i18n.t(key, params);
}
