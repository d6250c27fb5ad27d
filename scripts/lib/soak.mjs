// The load and soak run behind `scripts/soak`: the real `switchboard serve` with a fake
// OpenAI-compatible model that streams its answers slowly (ui/e2e/fake-llm.mjs, the real SSE
// wire format) and a fake Graph API, both on loopback, while N customers write continuously
// through signed webhooks. It measures webhooks accepted and runs completed per second, the
// time from a webhook being sent to the first `token_delta` of the run that answers it on the
// operators' stream (`/api/events`), and the engine's memory every 10 s.
//
// Environment: SWITCHBOARD_BIN (required), SOAK_CONVERSATIONS (200), SOAK_SECONDS (600),
// SOAK_TOKEN_DELAY_MS (40, between streamed chunks), SOAK_THINK_MS (2000, mean pause of a
// customer between the answer and their next message), SOAK_SAMPLE_SECONDS (10),
// SOAK_REPORT (a file the figures are written to as JSON).
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import http from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { startFakeLlm } from "../../ui/e2e/fake-llm.mjs";

const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const BIN = process.env.SWITCHBOARD_BIN;
const CONVERSATIONS = env("SOAK_CONVERSATIONS", 200);
const SECONDS = env("SOAK_SECONDS", 600);
const TOKEN_DELAY_MS = env("SOAK_TOKEN_DELAY_MS", 40);
const THINK_MS = env("SOAK_THINK_MS", 2000);
const SAMPLE_SECONDS = env("SOAK_SAMPLE_SECONDS", 10);
const QUIET_MS = 300;
const ANSWER_TIMEOUT_MS = 60_000;
const PHONE_NUMBER_ID = "487120593306718";
const APP_SECRET = randomBytes(16).toString("hex");
const TOKEN = randomBytes(16).toString("hex");
if (!BIN) throw new Error("SWITCHBOARD_BIN is required");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sign = (body) => `sha256=${createHmac("sha256", APP_SECRET).update(body).digest("hex")}`;
const nowSecs = () => Math.floor(Date.now() / 1000).toString();

// ---------------------------------------------------------------------------------------
// A fake Graph API: answers sends as Meta does and reports `sent` and `delivered` back
// through the signed webhook, so status webhooks arrive too, as they do in production.

const counts = {
  customerWebhooks: 0,
  statusWebhooks: 0,
  webhookRefused: 0,
  webhookErrors: 0,
  graphSends: 0,
  runsFinished: 0,
  runsByOutcome: {},
  answered: 0,
  unanswered: 0,
  lagged: 0,
};
let engineBase = "";

async function postWebhook(body) {
  try {
    const res = await fetch(`${engineBase}/webhooks/whatsapp`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature-256": sign(body) },
      body,
    });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    counts.webhookErrors += 1;
    return false;
  }
}

function statusWebhook(wamid, to, status) {
  return JSON.stringify({
    object: "whatsapp_business_account",
    entry: [
      {
        id: "318204957716342",
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "12025550143", phone_number_id: PHONE_NUMBER_ID },
              statuses: [{ id: wamid, status, timestamp: nowSecs(), recipient_id: to }],
            },
          },
        ],
      },
    ],
  });
}

function startFakeGraph() {
  let next = 0;
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", () => {
      let body = {};
      try {
        body = JSON.parse(raw || "{}");
      } catch {}
      res.setHeader("content-type", "application/json");
      if (req.method !== "POST" || !/\/messages$/.test(req.url ?? "") || body.type !== "text") {
        // Mark-as-read and typing indicators.
        res.end(JSON.stringify({ success: true }));
        return;
      }
      counts.graphSends += 1;
      const wamid = `wamid.soak-out-${next++}`;
      const to = String(body.to ?? "");
      res.end(JSON.stringify({ messaging_product: "whatsapp", contacts: [{ input: to, wa_id: to }], messages: [{ id: wamid }] }));
      (async () => {
        for (const status of ["sent", "delivered"]) {
          await sleep(150);
          if (await postWebhook(statusWebhook(wamid, to, status))) counts.statusWebhooks += 1;
          else counts.webhookRefused += 1;
        }
      })();
    });
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r({ server, url: `http://127.0.0.1:${server.address().port}` })));
}

// ---------------------------------------------------------------------------------------
// Customers: each writes, waits for the run that answers, pauses, writes again.

const waId = (i) => `52155${String(i).padStart(8, "0")}`;
const QUESTIONS = [
  "Hola, ¿hacen envío a Monterrey?",
  "¿Cuánto tarda el envío a Guadalajara?",
  "Buenas tardes, ¿envían a Puebla? Es para un regalo.",
  "¿El envío a Mérida tiene costo?",
];

function customerWebhook(i, n) {
  const wa = waId(i);
  return JSON.stringify({
    object: "whatsapp_business_account",
    entry: [
      {
        id: "318204957716342",
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: { display_phone_number: "12025550143", phone_number_id: PHONE_NUMBER_ID },
              contacts: [{ profile: { name: `Cliente ${i}` }, wa_id: wa }],
              messages: [
                {
                  from: wa,
                  id: `wamid.soak-c${i}-m${n}-${randomBytes(4).toString("hex")}`,
                  timestamp: nowSecs(),
                  type: "text",
                  text: { body: `${QUESTIONS[(i + n) % QUESTIONS.length]} (pedido ${i}-${n})` },
                },
              ],
            },
          },
        ],
      },
    ],
  });
}

/** Per customer: the message waiting for its answer. */
const customers = Array.from({ length: CONVERSATIONS }, (_, i) => ({
  i,
  conversationId: null,
  sentAt: 0,
  runId: null,
  firstTokenAt: 0,
  done: null,
}));
const byWaId = new Map(customers.map((c) => [waId(c.i), c]));
const byConversation = new Map();
const lookups = new Map();
const latencies = [];

async function customerOf(conversationId) {
  const known = byConversation.get(conversationId);
  if (known) return known;
  if (!lookups.has(conversationId)) {
    lookups.set(
      conversationId,
      (async () => {
        const res = await fetch(`${engineBase}/api/conversations/${conversationId}`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        const c = await res.json();
        const customer = byWaId.get(c?.contact?.wa_id);
        if (customer) {
          customer.conversationId = conversationId;
          byConversation.set(conversationId, customer);
        }
        return customer;
      })(),
    );
  }
  return lookups.get(conversationId);
}

async function onEvent(event) {
  switch (event.type) {
    case "lagged":
      counts.lagged += 1;
      return;
    case "run_started": {
      const c = await customerOf(event.conversation_id);
      // The run that answers is the first to start after the message was sent.
      if (c && c.sentAt && !c.runId) c.runId = event.run_id;
      return;
    }
    case "token_delta":
    case "draft": {
      const c = byConversation.get(event.conversation_id);
      if (c && c.runId === event.run_id && !c.firstTokenAt) {
        c.firstTokenAt = performance.now();
        latencies.push(c.firstTokenAt - c.sentAt);
      }
      return;
    }
    case "run_finished": {
      counts.runsFinished += 1;
      counts.runsByOutcome[event.outcome] = (counts.runsByOutcome[event.outcome] ?? 0) + 1;
      const c = byConversation.get(event.conversation_id);
      if (c && c.runId === event.run_id && c.done) c.done();
      return;
    }
  }
}

async function followEvents(signal) {
  const res = await fetch(`${engineBase}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` }, signal });
  const decoder = new TextDecoder();
  let buffer = "";
  let ready;
  const isReady = new Promise((r) => (ready = r));
  (async () => {
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block
            .split("\n")
            .filter((l) => l.startsWith("data:"))
            .map((l) => l.slice(5).trimStart())
            .join("\n");
          if (!data) continue;
          let event;
          try {
            event = JSON.parse(data);
          } catch {
            continue;
          }
          if (event.type === "ready") ready();
          else onEvent(event);
        }
      }
    } catch (err) {
      if (!signal.aborted) console.error(`soak: the event stream broke: ${err}`);
    }
  })();
  await isReady;
}

async function customerLoop(c, deadline) {
  let n = 0;
  // Spread the first messages over the first think time, as customers do not all write at once.
  await sleep(Math.random() * THINK_MS);
  while (performance.now() < deadline) {
    const answered = new Promise((r) => (c.done = r));
    c.runId = null;
    c.firstTokenAt = 0;
    c.sentAt = performance.now();
    if (await postWebhook(customerWebhook(c.i, n++))) counts.customerWebhooks += 1;
    else {
      counts.webhookRefused += 1;
      await sleep(1000);
      continue;
    }
    const timedOut = await Promise.race([answered.then(() => false), sleep(ANSWER_TIMEOUT_MS).then(() => true)]);
    c.done = null;
    if (timedOut) counts.unanswered += 1;
    else counts.answered += 1;
    await sleep(THINK_MS * (0.5 + Math.random()));
  }
}

// ---------------------------------------------------------------------------------------
// The engine.

function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, anon: kb("RssAnon") / 1024, file: kb("RssFile") / 1024 };
}

async function startEngine(llmUrl, graphUrl, dataDir) {
  const providers = `[{name="fake", kind="openai_compatible", base_url="${llmUrl}", model="fake-gpt", json_schema=true}]`;
  const child = spawn(BIN, ["serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"], {
    env: {
      ...process.env,
      SWITCHBOARD_API_TOKEN: TOKEN,
      SWITCHBOARD_WHATSAPP__MODE: "live",
      SWITCHBOARD_WHATSAPP__API_BASE_URL: graphUrl,
      SWITCHBOARD_WHATSAPP__PHONE_NUMBER_ID: PHONE_NUMBER_ID,
      SWITCHBOARD_WHATSAPP_APP_SECRET: APP_SECRET,
      SWITCHBOARD_WHATSAPP_ACCESS_TOKEN: "soak-graph-token",
      SWITCHBOARD_WHATSAPP_VERIFY_TOKEN: "soak-verify-token",
      SWITCHBOARD_LLM__PROVIDERS: providers,
      SWITCHBOARD_LLM_FAKE_API_KEY: "sk-fake-local",
      SWITCHBOARD_PIPELINE__QUIET_PERIOD_MS: String(QUIET_MS),
      // Every conversation may stream at once: the point of the run.
      SWITCHBOARD_PIPELINE__MAX_CONCURRENT_RUNS: String(CONVERSATIONS + 16),
      SWITCHBOARD_BUSINESS__NAME: "Tienda Lupita",
      SWITCHBOARD_LOG__LEVEL: "warn",
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
  return { child, base, stderr: () => stderr };
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  const sxy = points.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
  const sxx = points.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  return sxx ? sxy / sxx : 0;
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), "switchboard-soak-"));
  const llm = await startFakeLlm({ delayMs: TOKEN_DELAY_MS, mode: "demo", chunkChars: 4 });
  const graph = await startFakeGraph();
  const engine = await startEngine(llm.url, graph.url, dataDir);
  engineBase = engine.base;
  const stop = new AbortController();
  const load = [loadavg()[0]];
  try {
    // Replies go out on their own, so the outbox, the Graph API and status webhooks all work.
    const put = await fetch(`${engineBase}/api/policies`, {
      method: "PUT",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ rules: [{ action: "reply", verdict: "auto" }] }),
    });
    if (!put.ok) throw new Error(`PUT /api/policies: ${put.status} ${await put.text()}`);
    await followEvents(stop.signal);

    const samples = [];
    const started = performance.now();
    const sample = () => samples.push({ t: (performance.now() - started) / 1000, ...memory(engine.child.pid) });
    sample();
    const sampler = setInterval(() => {
      sample();
      load.push(loadavg()[0]);
      const last = samples.at(-1);
      console.error(
        `soak: ${last.t.toFixed(0)} s, RSS ${last.rss.toFixed(1)} MiB (anon ${last.anon.toFixed(1)}), ` +
          `${counts.customerWebhooks} messages, ${counts.runsFinished} runs, load ${loadavg()[0].toFixed(2)}`,
      );
    }, SAMPLE_SECONDS * 1000);

    const deadline = started + SECONDS * 1000;
    await Promise.all(customers.map((c) => customerLoop(c, deadline)));
    const elapsed = (performance.now() - started) / 1000;
    clearInterval(sampler);
    sample();
    stop.abort();

    const sorted = [...latencies].sort((a, b) => a - b);
    const window = (from, to, key) => {
      const s = samples.filter((x) => x.t >= from && x.t <= to).map((x) => x[key]);
      return s.reduce((a, b) => a + b, 0) / (s.length || 1);
    };
    const end = samples.at(-1).t;
    const second = samples.filter((x) => x.t >= end / 2);
    const report = {
      conversations: CONVERSATIONS,
      seconds: Math.round(elapsed),
      tokenDelayMs: TOKEN_DELAY_MS,
      thinkMs: THINK_MS,
      quietMs: QUIET_MS,
      ...counts,
      webhooksPerSecond: (counts.customerWebhooks + counts.statusWebhooks) / elapsed,
      customerWebhooksPerSecond: counts.customerWebhooks / elapsed,
      runsPerSecond: counts.runsFinished / elapsed,
      firstToken: {
        samples: sorted.length,
        p50: percentile(sorted, 50),
        p90: percentile(sorted, 90),
        p99: percentile(sorted, 99),
        max: sorted.at(-1) ?? NaN,
      },
      llmRequests: llm.stats.requests,
      memory: {
        samples: samples.map((s) => [Math.round(s.t), +s.rss.toFixed(1), +s.anon.toFixed(1), +s.file.toFixed(1)]),
        firstMinuteRss: window(0, 60, "rss"),
        lastMinuteRss: window(end - 60, end, "rss"),
        firstMinuteAnon: window(0, 60, "anon"),
        lastMinuteAnon: window(end - 60, end, "anon"),
        peakRss: Math.max(...samples.map((s) => s.rss)),
        // MiB per minute, over the whole run and over its second half (after warm-up).
        slopeRss: slope(samples.map((s) => [s.t / 60, s.rss])),
        slopeRssSecondHalf: slope(second.map((s) => [s.t / 60, s.rss])),
        slopeAnonSecondHalf: slope(second.map((s) => [s.t / 60, s.anon])),
      },
      loadAverage: { start: load[0], max: Math.max(...load), end: loadavg()[0] },
      cpus: (await import("node:os")).cpus().length,
    };
    if (process.env.SOAK_REPORT) writeFileSync(resolve(process.env.SOAK_REPORT), JSON.stringify(report, null, 2));
    console.log(JSON.stringify(report));
    if (engine.child.exitCode !== null) throw new Error(`the engine died:\n${engine.stderr()}`);
  } finally {
    stop.abort();
    if (engine.child.exitCode === null) {
      engine.child.kill("SIGTERM");
      await new Promise((r) => {
        const t = setTimeout(() => {
          engine.child.kill("SIGKILL");
          r();
        }, 10_000);
        engine.child.on("exit", () => {
          clearTimeout(t);
          r();
        });
      });
    }
    graph.server.close();
    await llm.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (/panicked/.test(engine.stderr())) {
      console.error(engine.stderr());
      process.exitCode = 1;
    }
  }
}

main().catch((err) => {
  console.error(`soak: ${err.stack ?? err}`);
  process.exit(1);
});
