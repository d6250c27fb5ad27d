// What a message shows besides its text, read defensively from its `content` JSON.
import type { Message } from "./api/types";

export type MessageBody =
  | { type: "text" }
  | { type: "media"; media: "image" | "video" | "audio" | "document" | "sticker"; caption: string | null; filename: string | null; mime: string | null }
  | { type: "location"; latitude: number; longitude: number; name: string | null; address: string | null }
  | { type: "contacts"; names: string[] }
  | { type: "choice"; title: string }
  | { type: "reaction"; emoji: string | null; target: string | null }
  | { type: "template"; name: string; params: string[] }
  | { type: "order"; items: number }
  | { type: "other"; kind: string };

const MEDIA = new Set(["image", "video", "audio", "document", "sticker"]);

function obj(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function str(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value : null;
}

export function messageBody(message: Message): MessageBody {
  const content = obj(message.content);
  const kind = message.kind;
  if (MEDIA.has(kind)) {
    return {
      type: "media",
      media: kind as "image",
      caption: str(content.caption),
      filename: str(content.filename),
      mime: str(content.mime_type),
    };
  }
  switch (kind) {
    case "text":
      return { type: "text" };
    case "location": {
      const latitude = Number(content.latitude);
      const longitude = Number(content.longitude);
      if (Number.isFinite(latitude) && Number.isFinite(longitude)) {
        return { type: "location", latitude, longitude, name: str(content.name), address: str(content.address) };
      }
      return { type: "other", kind };
    }
    case "contacts": {
      const cards = Array.isArray(content.cards) ? content.cards : [];
      const names = cards
        .map((card) => str(obj(obj(card).name).formatted_name))
        .filter((n): n is string => n !== null);
      return { type: "contacts", names };
    }
    case "interactive":
    case "button": {
      const title = str(content.title) ?? str(content.text) ?? str(obj(content.reply).title) ?? message.text;
      return title ? { type: "choice", title } : { type: "other", kind };
    }
    case "reaction":
      return { type: "reaction", emoji: str(content.emoji), target: str(content.message_id) };
    case "template": {
      const name = str(content.name) ?? str(obj(content.template).name) ?? "";
      const raw = content.params ?? content.parameters ?? obj(content.template).params;
      const params = Array.isArray(raw) ? raw.map((p) => String(p)) : [];
      return { type: "template", name, params };
    }
    case "order": {
      const items = Array.isArray(content.items) ? content.items.length : 0;
      return { type: "order", items };
    }
    default:
      return message.text ? { type: "text" } : { type: "other", kind };
  }
}
