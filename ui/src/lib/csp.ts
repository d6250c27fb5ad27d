// The console's Content-Security-Policy in a browser. Inside Tauri the window's CSP comes from
// tauri.conf.json (Tauri adds the hashes of its own scripts), so this one is only for `serve`.

/** The policy: nothing but this origin and the engine's; customer media only as blob/data URLs. */
export function browserCsp(apiBase: string, pageOrigin: string): string {
  let engine = "";
  try {
    const origin = new URL(apiBase).origin;
    if (origin !== pageOrigin) engine = ` ${origin}`;
  } catch {
    // Not a URL: the engine is this origin.
  }
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    `connect-src 'self'${engine}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/** Put the policy in force for the rest of the page's life (a CSP meta applies once inserted). */
export function applyBrowserCsp(apiBase: string, doc: Document = document): void {
  const meta = doc.createElement("meta");
  meta.httpEquiv = "Content-Security-Policy";
  meta.content = browserCsp(apiBase, doc.location?.origin ?? "");
  doc.head.prepend(meta);
}
