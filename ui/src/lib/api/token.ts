// Bearer token for the browser (HTTP) client. Inside Tauri no token is needed.

export const TOKEN_STORAGE_KEY = "switchboard.token";

const TOKEN_PARAM = /(^|[?&#])token=([^&#]*)/;

/**
 * Split a location hash into the token it carries (if any) and the hash without it.
 * Accepts `#token=abc`, `#/approvals?token=abc`, `#/inbox&token=abc&x=1` and the like.
 */
export function extractTokenFromHash(hash: string): { token: string | null; hash: string } {
  const raw = hash.startsWith("#") ? hash.slice(1) : hash;
  const match = TOKEN_PARAM.exec(raw);
  if (!match) return { token: null, hash };
  let token: string | null;
  try {
    token = decodeURIComponent(match[2]);
  } catch {
    token = match[2];
  }
  const start = match.index + match[1].length;
  let rest = raw.slice(0, start) + raw.slice(match.index + match[0].length);
  // Tidy the separators left behind: "/inbox?&x=1" -> "/inbox?x=1", "/inbox?" -> "/inbox".
  rest = rest.replace(/([?&])&+/g, "$1").replace(/[?&]+$/, "").replace(/^&+/, "");
  return { token: token.trim() || null, hash: rest ? `#${rest}` : "" };
}

export interface TokenEnv {
  location: Pick<Location, "hash" | "pathname" | "search">;
  history: Pick<History, "replaceState" | "state">;
  storage: Pick<Storage, "getItem" | "setItem" | "removeItem">;
}

function browserEnv(): TokenEnv {
  return { location: window.location, history: window.history, storage: window.sessionStorage };
}

/**
 * Read a `#token=` fragment once at startup: store it in sessionStorage and take it out of the
 * address bar (keeping the route). Returns the token to use: the fragment's, else the stored one.
 */
export function initToken(env: TokenEnv = browserEnv()): string | null {
  const { token, hash } = extractTokenFromHash(env.location.hash);
  if (token) {
    safeSet(env.storage, token);
    env.history.replaceState(env.history.state, "", `${env.location.pathname}${env.location.search}${hash}`);
    return token;
  }
  return loadToken(env.storage);
}

export function loadToken(storage: TokenEnv["storage"] = window.sessionStorage): string | null {
  try {
    const value = storage.getItem(TOKEN_STORAGE_KEY);
    return value && value.trim() ? value : null;
  } catch {
    return null;
  }
}

export function saveToken(token: string, storage: TokenEnv["storage"] = window.sessionStorage): void {
  safeSet(storage, token.trim());
}

export function clearToken(storage: TokenEnv["storage"] = window.sessionStorage): void {
  try {
    storage.removeItem(TOKEN_STORAGE_KEY);
  } catch {
    // Storage may be unavailable (private mode); the token then lives only in memory.
  }
}

function safeSet(storage: TokenEnv["storage"], token: string): void {
  try {
    storage.setItem(TOKEN_STORAGE_KEY, token);
  } catch {
    // See clearToken.
  }
}
