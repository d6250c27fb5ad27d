// End-to-end: the built console in Debian's chromium against a real `switchboard serve` with the
// sandbox and a fake OpenAI-compatible model on loopback. Run with `scripts/e2e`.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { api, launchBrowser, openConsole, pageErrors, startStack, until } from "./harness.mjs";

let stack;
let browser;
let call;
/** The engine's routes, to tell an assertion on a missing endpoint from a failure. */
let routes = new Set();
/** Does approving take edited parameters (a request body) in this engine? */
let approveTakesEdits = false;

const has = (method, path) => routes.has(`${method} ${path}`);

before(async () => {
  // Slow streaming (about 8 characters per 70 ms) so the draft is seen growing.
  stack = await startStack({ llmDelayMs: 70 });
  call = api(stack.base);
  const doc = await call("GET", "/api/openapi.json");
  for (const [path, ops] of Object.entries(doc.paths ?? {})) {
    for (const method of Object.keys(ops)) routes.add(`${method.toUpperCase()} ${path}`);
  }
  approveTakesEdits = Boolean(doc.paths?.["/api/actions/{id}/approve"]?.post?.requestBody);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("the operator console", { timeout: 150_000 }, () => {
  it("a customer writes through the sandbox panel, the draft streams in, the operator edits and approves, and the reply shows delivered", async () => {
    const { page, context, errors } = await openConsole(browser, stack.base);
    try {
      await page.getByTestId("mode-strip").waitFor();
      await page.getByRole("button", { name: "Write as a customer" }).click();
      const panel = page.getByTestId("sandbox-panel");
      await panel.getByLabel("Name").fill("Lucía Hernández");
      await panel.getByLabel("Phone (digits)").fill("5218112345678");
      await panel.getByLabel("Message").fill("Hola, ¿hacen envíos a Monterrey?");
      await panel.getByRole("button", { name: "Send as customer" }).click();
      await panel.getByText("Sent.").waitFor();

      // The conversation arrives in the inbox; open it while the model is still writing.
      const row = page.locator("a.item", { hasText: "Lucía Hernández" });
      await row.waitFor({ timeout: 15_000 });
      await row.click();
      await page.getByRole("heading", { name: "Lucía Hernández" }).waitFor();

      // The draft grows in place: several distinct, growing texts are seen before it settles.
      const draft = page.getByTestId("live-draft");
      await draft.waitFor({ timeout: 15_000 });
      const seen = [];
      const started = Date.now();
      while (Date.now() - started < 15_000) {
        const text = (await draft.textContent({ timeout: 1_000 }).catch(() => null)) ?? null;
        if (text === null) break;
        if (seen.at(-1) !== text) seen.push(text);
        await page.waitForTimeout(60);
      }
      const lengths = seen.map((s) => s.length);
      assert.ok(seen.length >= 3, `the draft should be seen streaming, saw ${JSON.stringify(seen)}`);
      assert.ok(lengths.at(-1) > lengths[0], `the draft should grow: ${lengths}`);
      assert.match(seen.join(" "), /Monterrey/);

      // The proposal: a card that shows the reply text itself.
      const card = page.locator("article.queue-card", { hasText: "Reply" }).first();
      await card.waitFor({ timeout: 15_000 });
      await card.getByTestId("reply-text").getByText("enviamos a Monterrey").waitFor();

      // Edit (E), see the diff, approve with the change.
      await card.focus();
      await page.keyboard.press("e");
      const editor = card.getByLabel("Edit the reply");
      await editor.waitFor();
      const original = await editor.inputValue();
      const edited = original.replace("¿Le comparto el enlace para pagar?", "Le mando el enlace de pago en un momento.");
      assert.notEqual(edited, original);
      await editor.fill(edited);
      await card.locator("ins", { hasText: "mando" }).waitFor();
      await card.getByRole("button", { name: "Approve with changes" }).click();
      await card.waitFor({ state: "detached", timeout: 15_000 });

      // The reply goes out through the sandbox's Graph API and comes back delivered (or read).
      const sent = page.locator("article.bubble[data-direction=outbound]").last();
      await sent.waitFor({ timeout: 20_000 });
      await until(
        async () => ["delivered", "read"].includes((await sent.getAttribute("data-status")) ?? ""),
        { what: "a delivered tick", timeoutMs: 20_000 },
      );
      const tickLabel = await sent.locator(".tick .visually-hidden").textContent();
      assert.match(tickLabel ?? "", /Delivered|Read/);

      // With an engine that takes edited parameters, what went out is the edit.
      const text = await sent.locator(".text").textContent();
      if (approveTakesEdits) assert.equal(text, edited);
      assert.deepEqual(pageErrors(errors), []);
    } finally {
      await context.close();
    }
  });

  it("an escalation is taken over from the queue and handed back", async () => {
    await call("POST", "/api/sandbox/messages", {
      from: "5215598765432",
      name: "Rosa Martínez",
      text: "Quiero hablar con una persona, me cobraron dos veces el pedido",
    });
    const escalation = await until(
      async () => (await call("GET", "/api/escalations?state=open")).items.find((e) => /persona/.test(e.reason)),
      { what: "an open escalation", timeoutMs: 30_000 },
    );

    const { page, context, errors } = await openConsole(browser, stack.base, { hash: "#/escalations" });
    try {
      const card = page.locator("article.queue-card", { hasText: escalation.reason });
      await card.waitFor();
      await card.getByText("cobraron dos veces").waitFor();
      await card.getByRole("button", { name: "Take over" }).click();

      // Taking over opens the conversation, now held by a human.
      await page.waitForURL(new RegExp(`#/conversations/${escalation.conversation_id}$`));
      await page.getByRole("heading", { name: "Rosa Martínez" }).waitFor();
      await page.locator(".facts .chip", { hasText: "Human" }).waitFor();

      if (has("POST", "/api/conversations/{id}/messages")) {
        await page.getByLabel("Type a message (Ctrl+Enter sends)").fill("Hola Rosa, ya reviso el cobro duplicado.");
        await page.getByRole("button", { name: "Send", exact: true }).click();
        await page.locator("article.bubble[data-direction=outbound]", { hasText: "ya reviso el cobro" }).waitFor();
      }

      await page.getByRole("button", { name: "Hand back to AI" }).first().click();
      await page.getByLabel("Note for the assistant").fill("Reembolso hecho; confirmar si necesita algo más.");
      await page.getByRole("button", { name: "Hand back to AI" }).last().click();
      await until(
        async () => (await call("GET", `/api/conversations/${escalation.conversation_id}`)).state !== "human",
        { what: "the conversation back with the AI" },
      );
      await page.locator(".facts .chip", { hasText: "Human" }).waitFor({ state: "detached" });
      const after = await call("GET", "/api/escalations?state=resolved");
      assert.ok(after.items.some((e) => e.id === escalation.id), "the escalation is resolved");
      assert.deepEqual(pageErrors(errors), []);
    } finally {
      await context.close();
    }
  });

  it("the audit record opens the run with its four context layers and token counts", async (t) => {
    const { page, context, errors } = await openConsole(browser, stack.base, { hash: "#/audit" });
    try {
      await page.getByRole("heading", { name: "Audit log" }).waitFor();
      await page.locator(".chain .ok").waitFor();

      // Export: a CSV with a header and the hash chain, as the engine streams it.
      if (has("GET", "/api/audit/export")) {
        const [download] = await Promise.all([
          page.waitForEvent("download"),
          page.getByRole("button", { name: "Export CSV" }).click(),
        ]);
        const file = await download.path();
        const csv = (await import("node:fs")).readFileSync(file, "utf8");
        const [header, ...rows] = csv.trim().split("\n");
        assert.match(header, /hash/);
        assert.match(header, /prev_hash/);
        assert.ok(rows.length > 5, `the export has the records (${rows.length})`);
      }
      const runLink = page.getByRole("link", { name: /^Run #\d+$/ }).first();
      await runLink.waitFor();
      await runLink.click();
      await page.getByRole("heading", { name: /^Run #\d+$/ }).waitFor();
      await page.getByRole("heading", { name: "Attempts" }).waitFor();
      await page.locator(".attempt .raw").first().waitFor();

      if (!routes.has("GET /api/runs/{id}")) {
        t.skip("GET /api/runs/{id} is not in this engine: the layers cannot be shown yet");
        return;
      }
      for (const layer of ["system", "domain", "session", "request"]) {
        const card = page.locator(`details.layer[data-layer=${layer}]`);
        await card.waitFor();
        assert.match((await card.locator(".tokens").textContent()) ?? "", /\d+ tokens/);
      }
      assert.deepEqual(pageErrors(errors), []);
    } finally {
      await context.close();
    }
  });

  it("hostile customer text renders as plain text, bidi-isolated, and the inbox row stays one line", async () => {
    // 64 KB: a pattern whose every part is checkable by length, prefix and suffix.
    const long = `START ${"0123456789abcdef".repeat(4096)}`.slice(0, 65_530) + " END";
    const cases = [
      { from: "5215500000101", name: "Hostile Html", text: '<img src=x onerror="window.__pwned=1"> and <b>bold</b>' },
      { from: "5215500000102", name: "Hostile Script", text: "<script>window.__pwned=1</script>" },
      {
        from: "5215500000103",
        name: "Hostile Bidi",
        text: "invoice \u202Efdp.exe\u202C \u2066isolated\u2069 \u2067rtl\u2069 \u2068first\u2069 ok",
      },
      { from: "5215500000104", name: "Hostile Zero Width", text: "pay\u200Bpal\u200D.com\uFEFF login\u2060 now" },
      { from: "5215500000105", name: "Hostile Long", text: long },
    ];
    assert.equal(long.length, 65_534);
    for (const c of cases) await call("POST", "/api/sandbox/messages", c);
    const ids = await until(
      async () => {
        const { items } = await call("GET", "/api/conversations?limit=200");
        const found = cases.map((c) => items.find((cv) => cv.contact?.name === c.name)?.id);
        return found.every(Boolean) ? found : null;
      },
      { what: "the hostile conversations" },
    );

    const { page, context, errors } = await openConsole(browser, stack.base, { viewport: { width: 1280, height: 860 } });
    try {
      // The inbox: each preview is text, one line, isolated.
      await page.locator("a.item", { hasText: "Hostile Long" }).waitFor({ timeout: 15_000 });
      for (const c of cases) {
        const row = page.locator("a.item", { hasText: c.name });
        await row.waitFor();
        const preview = await row.locator(".preview").evaluate((el) => {
          const style = getComputedStyle(el);
          return {
            text: el.textContent,
            elements: el.querySelectorAll("*").length,
            dir: el.getAttribute("dir"),
            bidi: style.unicodeBidi,
            height: el.getBoundingClientRect().height,
            lineHeight: parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5,
            rowHeight: el.closest("a.item").getBoundingClientRect().height,
          };
        });
        assert.equal(preview.elements, 0, `${c.name}: the preview holds no element`);
        assert.ok(c.text.startsWith(preview.text), `${c.name}: the preview is the start of the text as sent`);
        assert.equal(preview.dir, "auto", `${c.name}: the preview sets its own direction`);
        assert.match(preview.bidi, /isolate/, `${c.name}: the preview is bidi-isolated`);
        assert.ok(preview.height <= preview.lineHeight * 1.25, `${c.name}: one line (${preview.height}px for ${preview.lineHeight}px)`);
        assert.equal(preview.rowHeight, 72, `${c.name}: the row keeps its height`);
      }
      assert.equal(await page.locator(".list img, .list script, .list b, a.item img, a.item script, a.item b").count(), 0);
      await page.screenshot({ path: "/tmp/switchboard-e2e-hostile-inbox.png" });

      for (const [i, c] of cases.entries()) {
        await page.evaluate((id) => (window.location.hash = `#/conversations/${id}`), ids[i]);
        await page.getByRole("heading", { name: c.name }).waitFor();
        const bubble = page.locator("article.bubble[data-direction=inbound]").first();
        await bubble.waitFor();
        const shown = await bubble.locator(".text").evaluate((el) => ({
          text: el.textContent,
          elements: el.querySelectorAll("*").length,
          dir: el.getAttribute("dir"),
          bidi: getComputedStyle(el).unicodeBidi,
        }));
        if (c.text.length > 10_000) {
          assert.equal(shown.text.length, c.text.length, "the 64 KB message is whole");
          assert.equal(shown.text.slice(0, 64), c.text.slice(0, 64));
          assert.equal(shown.text.slice(-64), c.text.slice(-64));
          assert.ok(shown.text === c.text, "and exactly as sent");
        } else {
          assert.equal(shown.text, c.text, `${c.name}: the bubble shows exactly what was sent`);
        }
        assert.equal(shown.elements, 0, `${c.name}: no element made from the text`);
        assert.equal(shown.dir, "auto");
        assert.match(shown.bidi, /isolate/);
        const thread = page.getByRole("log");
        assert.equal(await thread.locator("img, script, b, iframe, object").count(), 0, `${c.name}: nothing injected`);
        if (c.name === "Hostile Bidi") {
          // The meta line after the text is still in order: the overrides stay inside the text.
          const meta = await bubble.locator(".meta").evaluate((el) => el.textContent);
          assert.match(meta, /^Customer/);
          await page.screenshot({ path: "/tmp/switchboard-e2e-hostile-bidi.png" });
        }
        if (c.name === "Hostile Html") await page.screenshot({ path: "/tmp/switchboard-e2e-hostile-html.png" });
      }
      assert.equal(await page.evaluate(() => typeof window.__pwned), "undefined", "no customer text ran as script");
      assert.deepEqual(pageErrors(errors), []);
    } finally {
      await context.close();
    }
  });

  it("shows a lost engine and recovers by itself", async () => {
    const { page, context } = await openConsole(browser, stack.base);
    try {
      await page.getByText("Connected").waitFor();
      // Cut the page off from the engine, then give it back.
      await context.setOffline(true);
      await page.getByText("Connection to the engine lost.").waitFor({ timeout: 20_000 });
      await context.setOffline(false);
      await page.getByText("Connection to the engine lost.").waitFor({ state: "detached", timeout: 30_000 });
      await page.getByText("Connected").waitFor();
    } finally {
      await context.close();
    }
  });
});
