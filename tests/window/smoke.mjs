// Smoke test of the real desktop window, driven over WebDriver (tauri-driver in front of
// WebKitWebDriver). Plain fetch, no client library: the protocol is a handful of calls.
// Env: WEBDRIVER (http://127.0.0.1:4444), APP (binary), DATA_DIR, API (http://127.0.0.1:port),
// TOKEN, SHOT (where to save a screenshot).
import { writeFileSync } from "node:fs";

const { WEBDRIVER, APP, DATA_DIR, API, TOKEN, SHOT } = process.env;
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
const deadline = Date.now() + 90_000;

async function wd(method, path, body) {
  const res = await fetch(`${WEBDRIVER}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json.value)}`);
  return json.value;
}

/** Polls `probe` until it returns a truthy value; the app mounts a moment after the session. */
async function until(what, probe, ms = 30_000) {
  const end = Math.min(Date.now() + ms, deadline);
  let last;
  while (Date.now() < end) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

function check(cond, message) {
  if (!cond) throw new Error(message);
  console.log(`  ok  ${message}`);
}

const session = await wd("POST", "/session", {
  capabilities: { alwaysMatch: { "tauri:options": { application: APP, args: ["--data-dir", DATA_DIR] } } },
});
const sid = session.sessionId;
const s = (p) => `/session/${sid}${p}`;
const js = (script, args = []) => wd("POST", s("/execute/sync"), { script, args });

try {
  const title = await until("the window's document", () => js("return document.title"));
  check(title.endsWith("Switchboard"), `the window shows the console (title ${JSON.stringify(title)})`);

  const nav = await until("the navigation", () =>
    js("const n = document.querySelector('nav'); return n && n.querySelectorAll('a,button').length"),
  );
  check(nav >= 5, `the navigation has ${nav} entries`);

  // The window talks to the engine over IPC; the health indicator says so.
  const status = await until("a healthy engine", async () => {
    const st = await js("const h = document.querySelector('.health'); return h && h.dataset.status");
    return st && st !== "connecting" ? st : null;
  });
  check(status === "connected", `the engine is reachable over IPC (health: ${status})`);

  // A simulated customer writes through the engine's own HTTP listener (the signed webhook
  // path); the window must show the conversation without a reload.
  const text = `Hola, ¿tienen envíos a Cali? ${Date.now()}`;
  const res = await fetch(`${API}/api/sandbox/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ from: "5215550001111", name: "Valentina Ríos", text }),
  });
  check(res.ok, `the sandbox accepted a customer message (HTTP ${res.status})`);
  const shown = await until(
    "the customer's message in the window",
    () => js("return document.body.innerText.includes(arguments[0]) || document.body.innerText.includes('Valentina')", [text]),
    30_000,
  );
  check(shown, "the window shows the new conversation live");

  if (SHOT) {
    writeFileSync(SHOT, Buffer.from(await wd("GET", s("/screenshot")), "base64"));
    console.log(`  screenshot: ${SHOT}`);
  }
} finally {
  await wd("DELETE", s("")).catch(() => {});
}
console.log("window smoke test passed");
