// What every browser scenario needs: the fake model, a real `switchboard serve` on loopback with
// the sandbox and the built console, and Debian's chromium driven by playwright-core.
import { spawn } from "node:child_process";
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { startFakeLlm } from "./fake-llm.mjs";

export const UI_DIST = resolve(import.meta.dirname, "../dist");
export const BIN = process.env.SWITCHBOARD_BIN ?? "/tmp/target-bench/debug/switchboard";
export const TOKEN = "demo";

export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** A free loopback port (the engine builds its webhook URL from the address it is given). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Start the fake model and the engine; resolves once the engine listens. */
export async function startStack({ llmDelayMs = 45, llmMode = "demo", quietMs = 300, env = {} } = {}) {
  const llm = await startFakeLlm({ delayMs: llmDelayMs, mode: llmMode });
  const dataDir = mkdtempSync(join(tmpdir(), "switchboard-e2e-"));
  const providers = `[{name="fake", kind="openai_compatible", base_url="${llm.url}", model="fake-gpt", json_schema=true, price_in_per_mtok=0.15, price_out_per_mtok=0.6}]`;
  const port = await freePort();
  const child = spawn(BIN, ["serve", "--data-dir", dataDir, "--listen", `127.0.0.1:${port}`], {
    env: {
      ...process.env,
      SWITCHBOARD_API_TOKEN: TOKEN,
      SWITCHBOARD_SERVER__UI_DIR: UI_DIST,
      SWITCHBOARD_LLM__PROVIDERS: providers,
      SWITCHBOARD_LLM_FAKE_API_KEY: "sk-fake-local",
      SWITCHBOARD_PIPELINE__QUIET_PERIOD_MS: String(quietMs),
      SWITCHBOARD_WHATSAPP__SANDBOX_FAILURE_RATE: "0",
      SWITCHBOARD_BUSINESS__NAME: "Tienda Lupita",
      SWITCHBOARD_LOG__LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr = (stderr + d).slice(-20_000)));
  const base = await new Promise((resolveBase, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`engine did not start in 30 s:\n${stderr}`)), 30_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/[\d.:]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveBase(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`engine exited with ${code}:\n${stderr}`));
    });
  });
  async function stop() {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill("SIGKILL");
          r();
        }, 5_000);
        child.on("exit", () => {
          clearTimeout(t);
          r();
        });
      });
    }
    await llm.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { base, llm, dataDir, stop, stderr: () => stderr };
}

/** The operator API, as the tests' own client (to set up and check state). */
export function api(base) {
  return async function call(method, path, body) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text.slice(0, 300)}`);
    return data;
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: CHROMIUM_FLAGS,
    headless: true,
  });
}

/** A page on the console, signed in with the token, in English unless told otherwise. */
export async function openConsole(browser, base, { hash = "", locale = "en-US", viewport = { width: 1440, height: 900 } } = {}) {
  const context = await browser.newContext({ locale, viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  await page.goto(`${base}/#token=${TOKEN}`);
  if (hash) await page.evaluate((h) => (window.location.hash = h), hash);
  return { page, context, errors };
}

/** Poll `fn` until it returns a truthy value (bounded). */
export async function until(fn, { timeoutMs = 20_000, intervalMs = 200, what = "condition" } = {}) {
  const start = Date.now();
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The page's errors that matter: chromium also logs every failed request, and the console asks
 * for endpoints an older engine may not have (answered 404/405 and shown as "not available").
 */
export function pageErrors(errors) {
  return errors.filter((e) => !/Failed to load resource: the server responded with a status of (404|405)/.test(e));
}
