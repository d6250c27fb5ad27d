// Smoke test of the real desktop window, driven over WebDriver (tauri-driver in front of
// WebKitWebDriver). Plain fetch, no client library: the protocol is a handful of calls.
// Env: WEBDRIVER (http://127.0.0.1:4444), APP (binary), DATA_DIR, API (http://127.0.0.1:port),
// TOKEN, SHOT (where to save a screenshot), MODEL (set when the data directory has the
// offline model: then the whole demo loop runs; otherwise it is skipped, loudly),
// LOOP_SECS (bound of the demo loop: the model's run, the approval and the delivery).
import { writeFileSync } from "node:fs";

const { WEBDRIVER, APP, DATA_DIR, API, TOKEN, SHOT, MODEL } = process.env;
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";
const LOOP_MS = Number(process.env.LOOP_SECS || 300) * 1000;
const deadline = Date.now() + 90_000 + LOOP_MS;

/** A failure that waiting longer cannot fix. */
class Fatal extends Error {}

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
      if (e instanceof Fatal) throw e;
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

/** The engine's own HTTP API, for what the window does not show (and for diagnostics). */
async function api(method, path, body) {
  const res = await fetch(`${API}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
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
/** A real click and real typing, through WebDriver's element commands. */
const find = async (css) => (await wd("POST", s("/element"), { using: "css selector", value: css }))[ELEMENT];
const click = (id) => wd("POST", s(`/element/${id}/click`), {});
const type = async (id, text) => {
  await wd("POST", s(`/element/${id}/clear`), {});
  await wd("POST", s(`/element/${id}/value`), { text });
};
async function screenshot(path) {
  writeFileSync(path, Buffer.from(await wd("GET", s("/screenshot")), "base64"));
  console.log(`  screenshot: ${path}`);
}

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

  if (MODEL) {
    // The whole loop; its customer writes from the window's sandbox panel. (One customer only:
    // the model answers one run at a time, and a second run would only queue before it.)
    await demoLoop();
  } else {
    console.log(
      "\n*** SKIPPED the offline demo loop: the default model is not installed; run scripts/fetch-model ***\n",
    );
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
  }

  if (SHOT) await screenshot(SHOT);
} catch (e) {
  // What the window and the engine looked like when it failed, to debug from.
  if (SHOT) await screenshot(SHOT.replace(/\.png$/, "-failed.png")).catch(() => {});
  for (const path of ["/api/health", "/api/providers", "/api/conversations", "/api/actions"]) {
    console.log(`--- ${path}: ${JSON.stringify(await api("GET", path).catch((err) => err.message)).slice(0, 2000)}`);
  }
  throw e;
} finally {
  await wd("DELETE", s("")).catch(() => {});
}
console.log("window smoke test passed");

/**
 * The offline demo, as a new user sees it: no provider configured, so the local model and the
 * sandbox. A simulated customer writes from the window's sandbox panel, the local model's draft
 * streams into the conversation, its reply waits as a proposal, the operator clicks Approve, and
 * the sandbox reports the message delivered, which the window shows.
 */
async function demoLoop() {
  const health = await api("GET", "/api/health");
  check(health.offline_demo === true && health.llm === "local", `offline demo with the local model (${JSON.stringify(health)})`);

  // The draft can stream and finish between two polls on a fast machine: record every text the
  // draft element shows, from now on.
  await js(`
    window.__drafts = [];
    new MutationObserver(() => {
      for (const d of document.querySelectorAll('[data-testid="live-draft"] .draft-text')) {
        const text = d.textContent.trim();
        if (text && window.__drafts[window.__drafts.length - 1] !== text) window.__drafts.push(text);
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  `);

  await click(await find("button.sandbox-open"));
  const panel = "[data-testid=sandbox-panel]";
  await until("the sandbox panel", () => js(`return !!document.querySelector(arguments[0])`, [panel]));
  const name = `Demo ${Date.now() % 100000}`;
  await type(await find(`${panel} input[type=text]`), name);
  await type(await find(`${panel} input[type=tel]`), "5215550002222");
  // A plain question the 135M model answers with a reply (it replies to nearly everything).
  await type(await find(`${panel} textarea`), "Hi! What time do you open tomorrow?");
  await click(await find(`${panel} button[type=submit]`));
  await until("the sandbox to accept the message", () =>
    js(`const p = document.querySelector(arguments[0]); return p && !!p.querySelector('[role=status]')`, [panel]),
  );
  check(true, "a simulated customer wrote from the window's sandbox panel");
  // Out of the way of the proposal card, as an operator would.
  await click(await find(`${panel} button.close`));

  // Open the conversation from the inbox, by clicking it.
  const item = await until("the conversation in the inbox", async () => {
    const el = await js(
      `return [...document.querySelectorAll('a[href^="#/conversations/"]')].find((a) => a.innerText.includes(arguments[0])) || null`,
      [name],
    );
    return el ? el[ELEMENT] : null;
  });
  check(true, "the window shows the new conversation live");
  await click(item);
  await until("the conversation view", () => js("return location.hash.startsWith('#/conversations/')"));
  const conversationId = Number(await js("return location.hash.split('/')[2]"));
  const started = Date.now();
  let lastLook = 0;

  // The run, the draft and the proposal: as long as the model takes on this machine, bounded.
  const approve = await until(
    "an enabled Approve button on the model's proposal",
    async () => {
      const el = await js(
        `return [...document.querySelectorAll('.proposals button')].find((b) => b.textContent.trim().startsWith('Approve') && !b.textContent.includes('changes') && !b.disabled) || null`,
      );
      if (el) return el[ELEMENT];
      if (Date.now() - lastLook < 3_000) return null;
      lastLook = Date.now();
      // A run that ended without a reply to approve will not produce one: say what happened.
      const actions = await api("GET", `/api/actions?conversation_id=${conversationId}`).catch(() => null);
      const runs = (actions?.items ?? []).filter((a) => a.conversation_id === conversationId);
      const escalations = await api("GET", "/api/escalations").catch(() => null);
      const escalated = (escalations?.items ?? []).find((e) => e.conversation_id === conversationId);
      if (escalated) throw new Fatal(`the run escalated instead of proposing a reply: ${JSON.stringify(escalated).slice(0, 600)}`);
      if (runs.length && !runs.some((a) => a.state === "pending")) {
        throw new Fatal(`the run proposed nothing to approve: ${JSON.stringify(runs).slice(0, 600)}`);
      }
      return null;
    },
    LOOP_MS,
  );
  const drafts = await js("return window.__drafts");
  check(drafts.length > 0, `the local model's draft streamed into the window (${drafts.length} states, last ${JSON.stringify(drafts.at(-1))})`);
  const proposal = await js(`return document.querySelector('.proposals').innerText`);
  check(true, `the proposal is shown after ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(proposal.slice(0, 200))}`);
  if (SHOT) await screenshot(SHOT.replace(/\.png$/, "-proposal.png"));

  await click(approve);
  const status = await until(
    "the approved reply delivered",
    () =>
      js(`const b = [...document.querySelectorAll('.bubble[data-direction=outbound]')].pop();
          return b && ['delivered', 'read'].includes(b.dataset.status) ? b.dataset.status : null`),
    60_000,
  );
  check(true, `the operator approved in the window and the sandbox delivered it (status ${status})`);
  if (SHOT) await screenshot(SHOT.replace(/\.png$/, "-delivered.png"));

  // Settings → Language models offers the models folder's files for the local provider.
  await js("location.hash = '#/settings'");
  const offered = await until("the local model editor in Settings", () =>
    js(`const s = document.querySelector('#settings-providers select');
        return s && s.options.length ? [...s.options].map((o) => o.textContent.trim()) : null`),
  );
  check(
    offered.some((o) => o.startsWith("SmolLM2-135M-Instruct.Q4_1.gguf") && o.includes("default")),
    `Settings offers the models folder's files for the local provider (${JSON.stringify(offered)})`,
  );
  // The final screenshot (SHOT) shows it.
  await js("document.getElementById('settings-providers').scrollIntoView()");
}
