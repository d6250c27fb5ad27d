// The console's rendering figures on a real engine: an inbox of 10,000 conversations and a thread
// of 5,000 messages, written through the sandbox API (the model answers `no_action` at once so
// the load is the console's). Prints first-render times and scroll frame times (p50/p95/p99 of the
// intervals between animation frames while the list scrolls at a steady speed).
//
//   node ui/e2e/bench.mjs [--conversations 10000] [--messages 5000]
import { api, launchBrowser, openConsole, startStack, until } from "./harness.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const CONVERSATIONS = arg("conversations", 10_000);
const MESSAGES = arg("messages", 5_000);
const RUNS = arg("runs", 5);

const pct = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const median = (values) => pct(values, 50);
const fmt = (v) => (v === undefined ? "—" : v.toFixed(1));

async function pool(items, size, fn) {
  let next = 0;
  const workers = Array.from({ length: size }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

async function countConversations(call) {
  let cursor = null;
  let count = 0;
  do {
    const page = await call("GET", `/api/conversations?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    count += page.items.length;
    cursor = page.next_cursor;
  } while (cursor);
  return count;
}

/** Chromium's own count of the main thread's work (seconds), through the DevTools protocol. */
async function mainThreadSeconds(cdp) {
  const { metrics } = await cdp.send("Performance.getMetrics");
  const get = (name) => metrics.find((m) => m.name === name)?.value ?? 0;
  return { task: get("TaskDuration"), script: get("ScriptDuration"), layout: get("LayoutDuration") + get("RecalcStyleDuration") };
}

/**
 * Scroll `selector` from top to bottom at `pxPerFrame`, recording the intervals between frames
 * and the main thread's work per frame (less sensitive than the intervals to a busy machine).
 */
async function scrollFrames(page, selector, options) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const before = await mainThreadSeconds(cdp);
  const result = await scrollOnly(page, selector, options);
  const after = await mainThreadSeconds(cdp);
  const frames = Math.max(1, result.intervals.length);
  result.busyPerFrame = ((after.task - before.task) * 1000) / frames;
  result.scriptPerFrame = ((after.script - before.script) * 1000) / frames;
  result.layoutPerFrame = ((after.layout - before.layout) * 1000) / frames;
  await cdp.detach();
  return result;
}

async function scrollOnly(page, selector, { pxPerFrame = 60, maxFrames = 900, direction = 1 } = {}) {
  return page.evaluate(
    ({ selector, pxPerFrame, maxFrames, direction }) =>
      new Promise((resolve) => {
        const el = document.querySelector(selector);
        const intervals = [];
        let last = null;
        let frames = 0;
        el.scrollTop = direction > 0 ? 0 : el.scrollHeight;
        function step(ts) {
          if (last !== null) intervals.push(ts - last);
          last = ts;
          el.scrollTop += pxPerFrame * direction;
          frames += 1;
          const done = direction > 0 ? el.scrollTop + el.clientHeight >= el.scrollHeight - 1 : el.scrollTop <= 0;
          if (frames >= maxFrames || done) resolve({ intervals, rows: el.querySelectorAll("li, [data-message-id]").length });
          else requestAnimationFrame(step);
        }
        requestAnimationFrame(step);
      }),
    { selector, pxPerFrame, maxFrames, direction },
  );
}

console.log(`machine: ${(await import("node:os")).cpus().length} cores, load average ${(await import("node:os")).loadavg().map((l) => l.toFixed(2)).join(" ")}`);
const stack = await startStack({ llmMode: "bench", llmDelayMs: 0, quietMs: 1500 });
const call = api(stack.base);
const browser = await launchBrowser();
const results = [];
const report = (name, value, unit = "ms") => {
  results.push([name, value, unit]);
  console.log(`${name.padEnd(58)} ${typeof value === "number" ? fmt(value) : value} ${unit}`);
};

try {
  // --- Seed through the real path: signed sandbox webhooks, inbox processing, pipeline runs.
  let t0 = performance.now();
  const customers = Array.from({ length: CONVERSATIONS }, (_, i) => `52155${String(10_000_000 + i).padStart(8, "0")}`);
  await pool(customers, 24, (from, i) =>
    call("POST", "/api/sandbox/messages", { from, name: `Cliente ${i + 1}`, text: `Hola, pregunta número ${i + 1} sobre mi pedido` }),
  );
  const threadFrom = "5219990000001";
  const texts = Array.from({ length: MESSAGES }, (_, i) =>
    i % 7 === 0
      ? `Mensaje ${i + 1}: una línea más larga para que el hilo tenga burbujas de distintas alturas, como en una conversación real con detalles del pedido.`
      : `Mensaje ${i + 1}`,
  );
  await pool(texts, 8, (text) => call("POST", "/api/sandbox/messages", { from: threadFrom, name: "Hilo Largo", text }));
  report("seed: messages written through the sandbox webhook", CONVERSATIONS + MESSAGES, "");
  await until(async () => (await countConversations(call)) >= CONVERSATIONS + 1, {
    what: "every conversation stored",
    timeoutMs: 600_000,
    intervalMs: 2_000,
  });
  const thread = (await call("GET", "/api/conversations?q=Hilo%20Largo")).items[0] ??
    (await call("GET", "/api/conversations?limit=500")).items.find((c) => c.contact.name === "Hilo Largo");
  await until(
    async () => {
      let cursor = null;
      let n = 0;
      do {
        const page = await call("GET", `/api/conversations/${thread.id}/messages?limit=500${cursor ? `&cursor=${cursor}` : ""}`);
        n += page.items.length;
        cursor = page.next_cursor;
      } while (cursor);
      return n >= MESSAGES;
    },
    { what: "the long thread stored", timeoutMs: 600_000, intervalMs: 2_000 },
  );
  report("seed: time until all stored", (performance.now() - t0) / 1000, "s");

  // --- Inbox: first render (navigation → first rows painted), median of several cold loads.
  const firstInbox = [];
  const inboxApi = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    // The page notes when the first row enters the DOM (time since navigation start).
    await page.addInitScript(() => {
      new MutationObserver((_, observer) => {
        if (document.querySelector("a.item")) {
          window.__firstRow = performance.now();
          observer.disconnect();
        }
      }).observe(document, { childList: true, subtree: true });
    });
    await page.goto(`${stack.base}/#token=demo`);
    await page.locator("a.item").first().waitFor({ timeout: 30_000 });
    const [ms, api] = await page.evaluate(() => {
      const entry = performance
        .getEntriesByType("resource")
        .find((e) => e.name.includes("/api/conversations?"));
      return [window.__firstRow, entry ? entry.responseEnd : NaN];
    });
    firstInbox.push(ms);
    inboxApi.push(ms - api);
    await context.close();
  }
  report("inbox: first render, navigation → first rows (median)", median(firstInbox));
  report("inbox: of which after the first page arrived (render)", median(inboxApi));

  const { page, context } = await openConsole(browser, stack.base);
  await page.locator("a.item").first().waitFor();
  t0 = performance.now();
  // Load every page: keep scrolling to the end until all conversations are in the list.
  await until(
    async () => {
      const text = await page.locator(".pane .count").textContent();
      await page.evaluate(() => {
        const s = document.querySelector(".scroller");
        s.scrollTop = s.scrollHeight;
      });
      return /Conversations: \d+$/.test((text ?? "").trim()) && Number(/(\d+)/.exec(text)[1]) >= CONVERSATIONS;
    },
    { what: "all conversations loaded", timeoutMs: 300_000, intervalMs: 100 },
  );
  report(`inbox: load all ${CONVERSATIONS} rows by scrolling (keyset pages of 200)`, performance.now() - t0);
  const domRows = await page.evaluate(() => document.querySelectorAll(".scroller li").length);
  report("inbox: rows in the DOM with all loaded (virtualized)", domRows, "rows");

  const inboxScroll = await scrollFrames(page, ".scroller", { pxPerFrame: 72 * 2, maxFrames: 1200 });
  report("inbox: scroll frame interval p50 (2 rows per frame)", pct(inboxScroll.intervals, 50));
  report("inbox: scroll frame interval p95", pct(inboxScroll.intervals, 95));
  report("inbox: scroll frame interval p99", pct(inboxScroll.intervals, 99));
  report("inbox: frames measured", inboxScroll.intervals.length, "");
  report("inbox: main-thread work per frame (all tasks)", inboxScroll.busyPerFrame);
  report("inbox:   of which script / style+layout", `${fmt(inboxScroll.scriptPerFrame)} / ${fmt(inboxScroll.layoutPerFrame)}`, "ms");

  // --- Thread: first render of the newest page, then every older page, then scroll.
  const firstThread = [];
  for (let i = 0; i < RUNS; i++) {
    const t = await page.evaluate(async (id) => {
      const start = performance.now();
      window.location.hash = "#/inbox";
      await new Promise((r) => setTimeout(r, 50));
      const begin = performance.now();
      window.location.hash = `#/conversations/${id}`;
      for (;;) {
        if (document.querySelector("article.bubble")) return performance.now() - begin;
        if (performance.now() - start > 30_000) return NaN;
        await new Promise((r) => requestAnimationFrame(r));
      }
    }, thread.id);
    firstThread.push(t);
  }
  report("thread: first render, open → first bubbles (median)", median(firstThread));

  t0 = performance.now();
  await until(
    async () => {
      return page.evaluate(() => {
        const s = document.querySelector(".thread");
        if (s.dataset.hasOlder === "false") return true;
        s.scrollTop = 0;
        return false;
      });
    },
    { what: "the whole thread loaded", timeoutMs: 300_000, intervalMs: 100 },
  );
  report(`thread: load all ${MESSAGES} messages scrolling up (pages of 100)`, performance.now() - t0);
  const domBubbles = await page.evaluate(() => document.querySelectorAll("article.bubble").length);
  report("thread: bubbles in the DOM (virtualized)", domBubbles, "bubbles");

  const threadScroll = await scrollFrames(page, ".thread", { pxPerFrame: 120, maxFrames: 1200 });
  report("thread: scroll frame interval p50 (120 px per frame)", pct(threadScroll.intervals, 50));
  report("thread: scroll frame interval p95", pct(threadScroll.intervals, 95));
  report("thread: scroll frame interval p99", pct(threadScroll.intervals, 99));
  report("thread: frames measured", threadScroll.intervals.length, "");
  report("thread: main-thread work per frame (all tasks)", threadScroll.busyPerFrame);
  report("thread:   of which script / style+layout", `${fmt(threadScroll.scriptPerFrame)} / ${fmt(threadScroll.layoutPerFrame)}`, "ms");
  await context.close();
} finally {
  await browser.close();
  await stack.stop();
}
