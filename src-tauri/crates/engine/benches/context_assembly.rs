//! Context assembly on a large conversation: the whole gather (SQLite reads through the
//! engine's read pool: the uncovered request, recent history, layers, FTS5/BM25 knowledge
//! and examples, session state) plus the assembly of the four layers within their budgets,
//! exactly as a run does it (`Engine::context_for`).
//!
//! Data: one conversation of 10,000 messages (the last two inbound ones not yet answered)
//! among 200 others, and a knowledge base of 1,000 documents of about 150 words drawn from a
//! shared vocabulary, so a request matches hundreds of documents and BM25 has to rank them.
//! Latency is reported as p50/p99 over many calls (criterion reports means, not tails).

use criterion::Criterion;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_core::ids::ConversationId;
use switchboard_core::secrets::MemorySecrets;
use switchboard_core::{Config, SystemClock};
use switchboard_engine::{Engine, EngineOptions};
use switchboard_store::rusqlite::params;

const MESSAGES: i64 = 10_000;
const DOCUMENTS: i64 = 1_000;
const OTHER_CONVERSATIONS: i64 = 200;

const VOCABULARY: &[&str] = &[
    "pedido",
    "envío",
    "entrega",
    "factura",
    "pago",
    "tarjeta",
    "transferencia",
    "reembolso",
    "devolución",
    "garantía",
    "talla",
    "color",
    "modelo",
    "precio",
    "descuento",
    "cupón",
    "sucursal",
    "horario",
    "sábado",
    "domingo",
    "paquetería",
    "guía",
    "rastreo",
    "dirección",
    "código",
    "postal",
    "cliente",
    "producto",
    "silla",
    "mesa",
    "lámpara",
    "sofá",
    "cama",
    "colchón",
    "almohada",
    "cortina",
    "alfombra",
    "espejo",
    "estante",
    "escritorio",
    "oficina",
    "cocina",
    "baño",
    "jardín",
    "terraza",
    "madera",
    "metal",
    "vidrio",
    "tela",
    "piel",
    "instalación",
    "armado",
    "tornillos",
    "manual",
    "medidas",
    "peso",
    "volumen",
    "flete",
    "urgente",
    "mañana",
    "semana",
    "mes",
    "meses",
    "intereses",
    "contado",
    "crédito",
    "débito",
    "efectivo",
    "tienda",
    "almacén",
    "inventario",
    "existencias",
    "apartado",
    "reservación",
    "cotización",
    "mayoreo",
    "menudeo",
    "empresa",
    "evento",
    "boda",
    "renta",
    "catálogo",
];

/// Words of the rest of the language, beyond the shop's own vocabulary.
const OTHER_WORDS: usize = 5_000;

/// A deterministic pseudo-random word sequence. `dense`: every word from the 80 shop words,
/// so every document contains nearly every word of every request (a worst case for
/// full-text ranking). Otherwise a Zipf-like mix: half the words from the shop vocabulary,
/// half from 5,000 others where a few are frequent and most are rare, as in real text.
struct Words {
    state: u64,
    dense: bool,
}

impl Words {
    fn new(seed: u64, dense: bool) -> Words {
        Words { state: seed, dense }
    }

    fn roll(&mut self) -> u64 {
        self.state = self
            .state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.state >> 33
    }

    fn next(&mut self) -> String {
        let r = self.roll();
        if self.dense || r.is_multiple_of(2) {
            return VOCABULARY[(self.roll() as usize) % VOCABULARY.len()].to_string();
        }
        // u^3 makes low ranks frequent and high ranks rare.
        let u = (self.roll() % 1_000_000) as f64 / 1_000_000.0;
        format!("palabra{}", (u * u * u * OTHER_WORDS as f64) as usize)
    }

    fn sentence(&mut self, n: usize) -> String {
        (0..n).map(|_| self.next()).collect::<Vec<_>>().join(" ")
    }
}

async fn seed(engine: &Engine, dense: bool) -> ConversationId {
    engine
        .store()
        .write(move |c| {
            let now: i64 = 1_795_000_000_000;
            let mut words = Words::new(7, dense);
            for i in 0..=OTHER_CONVERSATIONS {
                c.execute(
                    "INSERT INTO contacts (phone_number_id, wa_id, name, created_at, updated_at) VALUES ('p', ?1, ?2, ?3, ?3)",
                    params![format!("52155{i:08}"), format!("Cliente {i}"), now],
                )?;
                let contact = c.last_insert_rowid();
                c.execute(
                    "INSERT INTO conversations (contact_id, phone_number_id, last_customer_message_at, created_at, updated_at)
                     VALUES (?1, 'p', ?2, ?2, ?2)",
                    params![contact, now + MESSAGES * 60_000],
                )?;
                let conversation = c.last_insert_rowid();
                let count = if i == 0 { MESSAGES } else { 20 };
                for m in 0..count {
                    let inbound = m % 2 == 0 || m >= count - 2;
                    c.execute(
                        "INSERT INTO messages (conversation_id, direction, kind, text, status, created_at)
                         VALUES (?1, ?2, 'text', ?3, ?4, ?5)",
                        params![
                            conversation,
                            if inbound { "inbound" } else { "outbound" },
                            words.sentence(12),
                            if inbound { "received" } else { "read" },
                            now + m * 60_000
                        ],
                    )?;
                }
                // Everything but the last two messages has been answered.
                c.execute(
                    "UPDATE conversations SET ai_covered_message_id =
                        (SELECT id FROM messages WHERE conversation_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET 2)
                     WHERE id = ?1",
                    [conversation],
                )?;
            }
            for d in 0..DOCUMENTS {
                c.execute(
                    "INSERT INTO knowledge_documents (title, body, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                    params![format!("Documento {d}: {}", words.sentence(4)), words.sentence(150), now],
                )?;
            }
            for e in 0..300 {
                c.execute(
                    "INSERT INTO examples (label, request_text, proposed, created_at) VALUES ('approved', ?1, ?2, ?3)",
                    params![words.sentence(10), serde_json::json!({"type": "reply", "text": words.sentence(15)}).to_string(), now + e],
                )?;
            }
            c.execute(
                "INSERT INTO context_layers (layer, version, content, author, created_at) VALUES ('domain', 1, ?1, 'owner', ?2)",
                params![words.sentence(200), now],
            )?;
            for key in ["order_number", "lead_stage", "city"] {
                c.execute(
                    "INSERT INTO session_variables (conversation_id, key, value, set_by, updated_at) VALUES (1, ?1, '\"x\"', 'pipeline', ?2)",
                    params![key, now],
                )?;
            }
            Ok(ConversationId(1))
        })
        .await
        .unwrap()
}

/// User+system CPU time of this process, from /proc (Linux); `None` elsewhere.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(EngineOptions {
        config: Config::default(),
        data_dir: dir.path().to_path_buf(),
        secrets: Arc::new(MemorySecrets::default()),
        clock: Arc::new(SystemClock),
    })
    .unwrap();
    // BENCH_CORPUS=dense: every document contains nearly every request word.
    let dense = std::env::var("BENCH_CORPUS").is_ok_and(|v| v == "dense");
    let seeded = Instant::now();
    let conversation = rt.block_on(seed(&engine, dense));
    println!(
        "seeded {MESSAGES} messages and {DOCUMENTS} documents ({} corpus) in {:?}",
        if dense { "dense" } else { "Zipf-like" },
        seeded.elapsed()
    );

    let snapshot = rt
        .block_on(engine.context_for(conversation))
        .unwrap()
        .expect("two messages wait for an answer");
    println!(
        "context: {} knowledge passages kept, layer tokens {:?}, truncated {:?}",
        snapshot.layers.domain.matches("\n### ").count(),
        snapshot.layer_tokens,
        snapshot.truncated.len()
    );

    let (warmup, samples) = if quick { (10, 50) } else { (200, 5_000) };
    for _ in 0..warmup {
        rt.block_on(engine.context_for(conversation)).unwrap();
    }
    let mut all = Vec::with_capacity(samples);
    let cpu0 = process_cpu_time();
    for _ in 0..samples {
        let t0 = Instant::now();
        let snapshot = rt.block_on(engine.context_for(conversation)).unwrap();
        all.push(t0.elapsed());
        criterion::black_box(snapshot);
    }
    // CPU time is what the path costs; wall time on a shared machine adds the waits for a
    // core, which decide the tail.
    if let (Some(a), Some(b)) = (cpu0, process_cpu_time()) {
        println!(
            "gather + assemble: CPU per call {:?} (all threads, {samples} calls)",
            (b - a) / samples as u32
        );
    }
    all.sort_unstable();
    println!(
        "gather + assemble, {} samples: p50 {:?}, p99 {:?}, max {:?}",
        all.len(),
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        all[all.len() - 1]
    );

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("context_for_10k_messages_1k_documents", |b| {
        b.iter(|| rt.block_on(engine.context_for(conversation)).unwrap())
    });
    c.final_summary();
}
