// Screenshots of every view with real data: a sandbox engine, the fake model, customers written
// through the sandbox API, decisions taken through the operator API. Writes docs/screenshots/.
//
//   node ui/e2e/screenshots.mjs [out-dir]
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { api, launchBrowser, openConsole, startStack, until } from "./harness.mjs";

const OUT = resolve(process.argv[2] ?? resolve(import.meta.dirname, "../../docs/screenshots"));
mkdirSync(OUT, { recursive: true });

const CUSTOMERS = [
  ["5218112345678", "Lucía Hernández", "Hola, ¿hacen envíos a Monterrey?"],
  ["5213312345678", "Diego Ramírez", "¿A qué hora abren el sábado?"],
  ["5215511122233", "Valentina Cruz", "¿Dónde está mi pedido 4821? Lo compré el lunes"],
  ["5215598765432", "Rosa Martínez", "Quiero hablar con una persona, me cobraron dos veces el pedido"],
  ["5212221234567", "Carlos Pérez", "Buenas tardes, ¿tienen envío a Puebla?"],
  ["5219991234567", "Sofía Torres", "Gracias, ya me llegó todo muy bien 😊"],
  ["5214421234567", "Javier Morales", "Necesito factura de mi compra de ayer"],
  ["5216671234567", "Mariana López", "Mi paquete llegó roto, quiero un reembolso"],
  ["5218441234567", "Andrés Silva", "¿Hacen envíos a Mérida? ¿Cuánto tarda?"],
];

const stack = await startStack({ llmDelayMs: 8 });
const call = api(stack.base);
const browser = await launchBrowser();
const shot = async (page, name) => {
  await page.waitForTimeout(400);
  await page.screenshot({ path: `${OUT}/${name}.png` });
  console.log(`screenshot: ${name}.png`);
};

try {
  for (const [from, name, text] of CUSTOMERS) {
    await call("POST", "/api/sandbox/messages", { from, name, text });
    await new Promise((r) => setTimeout(r, 150));
  }
  // Every customer's run has finished: one proposal or escalation each.
  await until(
    async () => {
      const pending = await call("GET", "/api/actions?state=pending&limit=100");
      const escalations = await call("GET", "/api/escalations?state=open");
      return pending.items.length + escalations.items.length >= CUSTOMERS.length;
    },
    { what: "every run to finish", timeoutMs: 60_000 },
  );

  const conversations = (await call("GET", "/api/conversations?limit=100")).items;
  const byName = (n) => conversations.find((c) => c.contact.name === n);
  const pendingOf = async (n) =>
    (await call("GET", `/api/actions?state=pending&conversation_id=${byName(n).id}`)).items.filter(
      (a) => a.conversation_id === byName(n).id && a.kind === "reply",
    );

  // Decisions an operator would have taken by now.
  for (const n of ["Diego Ramírez", "Carlos Pérez"]) {
    for (const a of await pendingOf(n)) await call("POST", `/api/actions/${a.id}/approve`);
  }
  for (const a of await pendingOf("Sofía Torres")) {
    await call("POST", `/api/actions/${a.id}/reject`, { reason: "No hace falta responder: la clienta solo agradece." });
  }
  const rosa = (await call("GET", "/api/escalations?state=open")).items.find((e) => e.conversation_id === byName("Rosa Martínez").id);
  if (rosa) await call("POST", `/api/escalations/${rosa.id}/takeover`);
  await call("POST", `/api/conversations/${byName("Rosa Martínez").id}/messages`, {
    text: "Hola Rosa, soy Ana del equipo. Ya vi el cobro duplicado del pedido #4821 y lo estoy revisando con el banco.",
  }).catch((err) => console.warn(`composer: ${err.message}`));
  // Let the sandbox report delivery of what was approved.
  await new Promise((r) => setTimeout(r, 2500));

  const { page, context } = await openConsole(browser, stack.base);
  await page.getByText("Connected").waitFor();

  // A customer's photo, drawn in the page and sent through the sandbox like a real file.
  const photo = await page.evaluate(() => {
    const c = document.createElement("canvas");
    c.width = 480;
    c.height = 320;
    const g = c.getContext("2d");
    g.fillStyle = "#e8e2d6";
    g.fillRect(0, 0, 480, 320);
    g.fillStyle = "#b98a52";
    g.beginPath();
    g.moveTo(110, 120); g.lineTo(250, 80); g.lineTo(380, 120); g.lineTo(380, 260); g.lineTo(110, 260);
    g.closePath();
    g.fill();
    g.fillStyle = "#a0733f";
    g.fillRect(110, 120, 270, 30);
    g.strokeStyle = "#5b3b16";
    g.lineWidth = 5;
    g.beginPath();
    g.moveTo(200, 150); g.lineTo(230, 200); g.lineTo(210, 235); g.lineTo(245, 260);
    g.stroke();
    g.fillStyle = "#ffffff";
    g.fillRect(290, 170, 70, 40);
    g.fillStyle = "#333";
    g.font = "14px sans-serif";
    g.fillText("#4821", 300, 196);
    return c.toDataURL("image/png").replace(/^data:[^,]*,/, "");
  });
  await call("POST", "/api/sandbox/messages", {
    from: "5216671234567",
    name: "Mariana López",
    text: "Así llegó la caja 😞",
    media: { mime_type: "image/png", data_base64: photo, filename: "caja.png" },
  }).catch((err) => console.warn(`sandbox media: ${err.message}`));

  await page.locator("a.item").first().waitFor();
  await shot(page, "inbox");

  // A conversation with its proposal and side panel.
  await page.locator("a.item", { hasText: "Lucía Hernández" }).click();
  await page.locator("article.queue-card").first().waitFor();
  await shot(page, "conversation");

  // Edit before approving: the diff shows what changes.
  const card = page.locator("article.queue-card", { hasText: "Reply" }).first();
  await card.getByRole("button", { name: /^Edit/ }).click();
  const editor = card.getByLabel("Edit the reply");
  const original = await editor.inputValue();
  await editor.fill(original.replace("¿Le comparto el enlace para pagar?", "Le mando ahora el enlace de pago."));
  await shot(page, "approve-with-edit");
  await card.getByRole("button", { name: "Cancel" }).click();

  // The draft as it streams: a slow answer to a new message.
  await page.getByRole("button", { name: "Write as a customer" }).click();
  const panel = page.getByTestId("sandbox-panel");
  await panel.getByLabel("Name").fill("Lucía Hernández");
  await panel.getByLabel("Phone (digits)").fill("5218112345678");
  await panel.getByLabel("Message").fill("Perfecto. ¿Y mi pedido anterior, el 4790, ya salió?");
  await shot(page, "sandbox-panel");
  await panel.getByRole("button", { name: "Close the sandbox panel" }).click();

  // Taken over: the operator writes from the composer.
  await page.locator("a.item", { hasText: "Rosa Martínez" }).click();
  await page.getByRole("heading", { name: "Rosa Martínez" }).waitFor();
  await page.waitForTimeout(600);
  await shot(page, "takeover");

  // Media from the customer, fetched with the operator's token.
  await page.locator("a.item", { hasText: "Mariana López" }).click();
  await page.getByRole("heading", { name: "Mariana López" }).waitFor();
  await page.locator("figure.media img").waitFor({ timeout: 10_000 }).catch(() => console.warn("no image shown"));
  await shot(page, "media");

  await page.goto(`${stack.base}/#/approvals`);
  await page.locator("article.queue-card").first().waitFor();
  await shot(page, "approvals");

  await page.goto(`${stack.base}/#/escalations`);
  await page.locator("article.queue-card").first().waitFor();
  await shot(page, "escalations");

  await page.goto(`${stack.base}/#/audit`);
  await page.locator("table.data tbody tr").first().waitFor();
  await page.locator(".chain .ok").waitFor();
  await shot(page, "audit");

  // A run whose reply an operator approved: decision and delivery have something to show.
  await page.locator("tr", { hasText: "action.approved" }).first().getByRole("link", { name: /^Run #\d+$/ }).click();
  await page.getByRole("heading", { name: "Attempts" }).waitFor();
  await shot(page, "run");

  await page.goto(`${stack.base}/#/tasks`);
  await page.waitForTimeout(500);
  await shot(page, "tasks");

  await page.goto(`${stack.base}/#/dashboard`);
  await page.waitForTimeout(800);
  await shot(page, "dashboard");

  await page.goto(`${stack.base}/#/settings`);
  await page.waitForTimeout(800);
  await shot(page, "settings");

  // The console follows the system language: Spanish.
  const es = await openConsole(browser, stack.base, { locale: "es-MX" });
  await es.page.locator("a.item").first().waitFor();
  await shot(es.page, "inbox-es");
  await es.context.close();

  // The streaming draft, captured mid-answer with a slow model.
  await context.close();
  await stack.stop();
  const slow = await startStack({ llmDelayMs: 120 });
  const slowCall = api(slow.base);
  const view = await openConsole(browser, slow.base);
  await slowCall("POST", "/api/sandbox/messages", { from: "5218112345678", name: "Lucía Hernández", text: "Hola, ¿hacen envíos a Monterrey?" });
  const row = view.page.locator("a.item", { hasText: "Lucía Hernández" });
  await row.waitFor({ timeout: 15_000 });
  await row.click();
  const draft = view.page.getByTestId("live-draft");
  await draft.waitFor({ timeout: 15_000 });
  await until(async () => ((await draft.textContent()) ?? "").includes("Monterrey"), { what: "a draft mid-way" });
  await shot(view.page, "live-draft");

  await slow.stop();
} finally {
  await browser.close();
  await stack.stop().catch(() => {});
}
