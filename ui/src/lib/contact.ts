import type { Contact } from "./api/types";
import { t } from "./i18n/index.svelte";

/** How a contact is named on screen: name, else phone, else WhatsApp id, else user id. */
export function contactLabel(contact: Contact): string {
  return contact.name || contact.phone || contact.wa_id || contact.user_id || t("inbox.unknown_contact");
}
