import type { Settings } from "./api/types";

export interface SettingsSection {
  /** "" for the top-level scalars (shown as "General"). */
  key: string;
  entries: { key: string; value: string }[];
}

function show(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Flatten free-form settings into sections: every top-level object is a section (nested
 * objects become dotted keys), top-level scalars go in a first, unnamed section.
 */
export function settingsSections(settings: Settings): SettingsSection[] {
  const general: SettingsSection = { key: "", entries: [] };
  const sections: SettingsSection[] = [];

  const flatten = (prefix: string, value: Record<string, unknown>, into: SettingsSection["entries"]) => {
    for (const [key, inner] of Object.entries(value)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (isPlainObject(inner) && Object.keys(inner).length > 0) flatten(name, inner, into);
      else into.push({ key: name, value: show(inner) });
    }
  };

  for (const [key, value] of Object.entries(settings)) {
    if (isPlainObject(value)) {
      const section: SettingsSection = { key, entries: [] };
      flatten("", value, section.entries);
      sections.push(section);
    } else {
      general.entries.push({ key, value: show(value) });
    }
  }
  return general.entries.length > 0 ? [general, ...sections] : sections;
}
