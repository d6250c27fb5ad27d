// Locale-aware formatting of engine timestamps.
import { i18n } from "./index.svelte";

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

// Building an Intl formatter costs far more than using one: keep one per locale (a list row
// mounted while scrolling formats two times).
const relativeFormats = new Map<string, Intl.RelativeTimeFormat>();
const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

function relativeFormat(locale: string): Intl.RelativeTimeFormat {
  let f = relativeFormats.get(locale);
  if (!f) {
    f = new Intl.RelativeTimeFormat(locale, { numeric: "auto", style: "long" });
    relativeFormats.set(locale, f);
  }
  return f;
}

function dateTimeFormat(locale: string): Intl.DateTimeFormat {
  let f = dateTimeFormats.get(locale);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
    dateTimeFormats.set(locale, f);
  }
  return f;
}

export function parseTime(value: string | null | undefined): Date | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** "3 minutes ago", "in 2 hours", "now" — in the current locale. */
export function formatRelative(value: string | null | undefined, now: number = Date.now()): string {
  const date = parseTime(value);
  if (!date) return "";
  const seconds = Math.round((date.getTime() - now) / 1000);
  const rtf = relativeFormat(i18n.locale);
  if (Math.abs(seconds) < 45) return rtf.format(0, "second");
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return rtf.format(Math.round(seconds / size), unit);
    }
  }
  return rtf.format(seconds, "second");
}

/** Absolute date and time in the current locale. */
export function formatDateTime(value: string | null | undefined): string {
  const date = parseTime(value);
  if (!date) return "";
  return dateTimeFormat(i18n.locale).format(date);
}

const timeFormats = new Map<string, Intl.DateTimeFormat>();

/** Hours and minutes in the current locale (message bubbles). */
export function formatTime(value: string | null | undefined): string {
  const date = parseTime(value);
  if (!date) return "";
  let f = timeFormats.get(i18n.locale);
  if (!f) {
    f = new Intl.DateTimeFormat(i18n.locale, { hour: "2-digit", minute: "2-digit" });
    timeFormats.set(i18n.locale, f);
  }
  return f.format(date);
}
