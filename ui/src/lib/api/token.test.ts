import { describe, expect, it, vi } from "vitest";
import { extractTokenFromHash, initToken, TOKEN_STORAGE_KEY, type TokenEnv } from "./token";

function memoryStorage(initial: Record<string, string> = {}): TokenEnv["storage"] {
  const map = new Map(Object.entries(initial));
  return {
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, v),
    removeItem: (k) => void map.delete(k),
  };
}

function env(hash: string, storage = memoryStorage()) {
  const replaceState = vi.fn();
  const e: TokenEnv = {
    location: { hash, pathname: "/", search: "" },
    history: { replaceState, state: null },
    storage,
  };
  return { env: e, replaceState, storage };
}

describe("token from the URL fragment", () => {
  it.each([
    ["#token=abc123", "abc123", ""],
    ["#/approvals?token=abc123", "abc123", "#/approvals"],
    ["#/inbox&token=a%2Bb&x=1", "a+b", "#/inbox&x=1"],
    ["#/inbox?x=1&token=zz", "zz", "#/inbox?x=1"],
    ["#/tasks", null, "#/tasks"],
    ["", null, ""],
  ])("%s", (hash, token, rest) => {
    expect(extractTokenFromHash(hash)).toEqual({ token, hash: rest });
  });

  it("stores the token, removes it from the URL and keeps the route", () => {
    const { env: e, replaceState, storage } = env("#/escalations?token=s3cret");
    expect(initToken(e)).toBe("s3cret");
    expect(storage.getItem(TOKEN_STORAGE_KEY)).toBe("s3cret");
    expect(replaceState).toHaveBeenCalledWith(null, "", "/#/escalations");
  });

  it("reads #token= in the real window", () => {
    window.history.replaceState(null, "", "/index.html#token=from-url");
    expect(initToken()).toBe("from-url");
    expect(window.sessionStorage.getItem(TOKEN_STORAGE_KEY)).toBe("from-url");
    expect(window.location.hash).toBe("");
    expect(window.location.pathname).toBe("/index.html");
  });

  it("falls back to sessionStorage, and to nothing", () => {
    const stored = env("#/inbox", memoryStorage({ [TOKEN_STORAGE_KEY]: "kept" }));
    expect(initToken(stored.env)).toBe("kept");
    expect(stored.replaceState).not.toHaveBeenCalled();
    expect(initToken(env("#/inbox").env)).toBeNull();
  });
});
