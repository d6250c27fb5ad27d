// A fake OpenAI-compatible model server on loopback, speaking the real chat-completions SSE
// wire format (`data: {chunk}` lines, a final chunk with usage, then `data: [DONE]`). It answers
// in Switchboard's action JSON and streams slowly, so the console's live draft is visible.
//
//   node fake-llm.mjs [--port N] [--delay-ms 45] [--mode demo|bench]
//
// Prints `fake-llm: listening on http://127.0.0.1:PORT/v1` once it accepts connections.
import http from "node:http";

/** The answer for a request: by what the customer wrote last (the request layer ends the prompt). */
export function answerFor(body, mode = "demo") {
  if (mode === "bench") {
    return { actions: [{ type: "no_action", reason: "Benchmark load." }], reasoning: "Benchmark.", confidence: 0.9 };
  }
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  const last = String(messages.filter((m) => m.role === "user").at(-1)?.content ?? "");
  // The request layer lists the new customer messages under this heading, before "## Contact".
  const start = last.lastIndexOf("## New message(s) from the customer");
  const end = start >= 0 ? last.indexOf("## Contact", start) : -1;
  const tail = (start >= 0 ? last.slice(start, end > start ? end : undefined) : last.slice(-700)).toLowerCase();
  // Spanish keywords only: the prompt around the customer's words is English.
  if (/persona|humano|dos veces|reembolso/.test(tail)) {
    return {
      actions: [
        {
          type: "escalate_to_human",
          reason: "Cobro duplicado: la clienta pide hablar con una persona",
          summary: "La clienta dice que le cobraron dos veces el pedido #4821 y quiere que una persona lo revise.",
        },
      ],
      reasoning: "Billing disputes and explicit requests for a person go to a human.",
      confidence: 0.93,
    };
  }
  if (/envío|envio|envían/.test(tail)) {
    const city = ["Monterrey", "Guadalajara", "Puebla", "Mérida"].find((c) => tail.includes(c.toLowerCase())) ?? "todo México";
    return {
      actions: [
        {
          type: "reply",
          text: `¡Hola! Sí, enviamos a ${city} por paquetería: llega en 2 a 3 días hábiles y el envío cuesta $99 MXN. ¿Le comparto el enlace para pagar?`,
        },
        { type: "set_session_variable", key: "ciudad", value: city },
      ],
      reasoning: `Shipping question; the knowledge base gives 2–3 business days and $99 MXN to ${city}.`,
      confidence: 0.86,
    };
  }
  if (/horario|abren|a qué hora/.test(tail)) {
    return {
      actions: [{ type: "reply", text: "Abrimos de lunes a sábado de 9:00 a 19:00 h. ¡Con gusto le atendemos!" }],
      reasoning: "Opening hours question.",
      confidence: 0.95,
    };
  }
  return {
    actions: [
      { type: "reply", text: "¡Gracias por escribirnos! Reviso su pedido y en un momento le confirmo el estado." },
      { type: "create_task", title: "Confirmar estado del pedido", assignee: null, due_at: null, priority: "normal" },
    ],
    reasoning: "General question about an order; promise a follow-up and track it.",
    confidence: 0.74,
  };
}

function chunk(content, model) {
  return `data: ${JSON.stringify({
    id: "chatcmpl-fake",
    object: "chat.completion.chunk",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  })}\n\n`;
}

export function startFakeLlm({ port = 0, delayMs = 45, mode = "demo", chunkChars = 6 } = {}) {
  const stats = { requests: 0 };
  const server = http.createServer((req, res) => {
    if (req.method === "GET" && req.url?.endsWith("/models")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data: [{ id: "fake-gpt", object: "model" }] }));
      return;
    }
    if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "not found", type: "invalid_request_error" } }));
      return;
    }
    let raw = "";
    req.on("data", (d) => (raw += d));
    req.on("end", async () => {
      stats.requests += 1;
      let body = {};
      try {
        body = JSON.parse(raw);
      } catch {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "invalid JSON", type: "invalid_request_error" } }));
        return;
      }
      const model = body.model ?? "fake-gpt";
      const text = JSON.stringify(answerFor(body, mode));
      const promptTokens = Math.ceil(raw.length / 4);
      const completionTokens = Math.ceil(text.length / 4);
      if (body.stream === false) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            id: "chatcmpl-fake",
            object: "chat.completion",
            model,
            choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
            usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
          }),
        );
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      let closed = false;
      res.on("close", () => (closed = true));
      for (let i = 0; i < text.length && !closed; i += chunkChars) {
        res.write(chunk(text.slice(i, i + chunkChars), model));
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      }
      if (closed) return;
      res.write(
        `data: ${JSON.stringify({
          id: "chatcmpl-fake",
          object: "chat.completion.chunk",
          created: Math.floor(Date.now() / 1000),
          model,
          choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
          usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
        })}\n\n`,
      );
      res.end("data: [DONE]\n\n");
    });
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      const { port: actual } = server.address();
      resolve({ url: `http://127.0.0.1:${actual}/v1`, stats, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const fake = await startFakeLlm({
    port: Number(arg("port", 0)),
    delayMs: Number(arg("delay-ms", 45)),
    mode: arg("mode", "demo"),
  });
  console.log(`fake-llm: listening on ${fake.url}`);
}
