import { ApiError } from "./api/errors";
import { t } from "./i18n/index.svelte";

/** A sentence for the operator about what went wrong. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.unreachable) return t("error.network");
    if (err.unauthorized) return t("error.unauthorized");
    return t("error.detail", { message: err.message, code: err.code });
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
