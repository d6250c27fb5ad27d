//! Measures the embedded local model on this machine: load time, time to first token,
//! decode speed and peak memory, for plain chat and for grammar-constrained answers.
//!
//! ```text
//! scripts/fetch-model
//! cargo run --release -p switchboard-llm --features local --example bench_local [-- --model PATH] [--runs N]
//! ```
//!
//! "cold" prompts start with a unique line, so nothing of them is in the worker's KV cache;
//! "warm" prompts share the system prompt (and schema sketch) with the previous call, as
//! consecutive conversations of one business do, and only evaluate the new messages.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use switchboard_llm::local::{
    default_model_path, grammar_for_schema, GrammarLimits, LocalConfig, LocalProvider,
};
use switchboard_llm::{
    CancellationToken, ChatRequest, Completion, DeltaSink, Message, Provider, ProviderConfig,
    ProviderKind, StructuredOutput,
};
use switchboard_pipeline::ActionCatalog;

const SYSTEM: &str = "You are the WhatsApp assistant of Café Aurora, a coffee shop. Facts: open Monday to Friday 7:00-19:00 and Saturday 8:00-14:00, closed on Sunday; address Calle Luna 12; a latte costs 3.50 EUR; we deliver within 3 km.";

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
    }
    None
}

/// `VmHWM` (peak resident set) and `VmRSS` from `/proc/self/status`, in MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

struct Sample {
    ttft: Duration,
    decode_tps: f64,
    prompt_tokens: u32,
    output_tokens: u32,
    total: Duration,
}

fn sample(c: &Completion) -> Sample {
    let ttft = c.time_to_first_token.unwrap_or(c.total_time);
    let decode = c.total_time.saturating_sub(ttft).as_secs_f64();
    Sample {
        ttft,
        // Tokens after the first, over the time after the first: the steady decode rate.
        decode_tps: if decode > 0.0 {
            f64::from(c.usage.output_tokens.saturating_sub(1)) / decode
        } else {
            f64::NAN
        },
        prompt_tokens: c.usage.input_tokens,
        output_tokens: c.usage.output_tokens,
        total: c.total_time,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn report(label: &str, samples: &[Sample]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:<28} {:>7.0} {:>9.1} {:>8} {:>8} {:>9.0}",
        label,
        median(samples.iter().map(|s| ms(s.ttft)).collect()),
        median(samples.iter().map(|s| s.decode_tps).collect()),
        median(samples.iter().map(|s| f64::from(s.prompt_tokens)).collect()),
        median(samples.iter().map(|s| f64::from(s.output_tokens)).collect()),
        median(samples.iter().map(|s| ms(s.total)).collect()),
    );
}

async fn run(provider: &LocalProvider, request: ChatRequest) -> Result<Sample, String> {
    provider
        .stream(request, DeltaSink::noop(), CancellationToken::new())
        .await
        .map(|c| sample(&c))
        .map_err(|e| e.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let runs: usize = arg("--runs")
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    let Some(model) = arg("--model")
        .map(PathBuf::from)
        .or_else(default_model_path)
    else {
        eprintln!("no model path: pass --model PATH");
        return ExitCode::FAILURE;
    };
    if !model.is_file() {
        eprintln!(
            "model {} not found: run scripts/fetch-model (or pass --model PATH)",
            model.display()
        );
        return ExitCode::FAILURE;
    }
    let local = LocalConfig::new(&model);
    let mut config = ProviderConfig::new("bench", ProviderKind::Local, "");
    config.timeouts.first_token = Duration::from_secs(600);
    config.timeouts.total = Duration::from_secs(600);
    println!(
        "model {} | {} threads | context {} | cores {}",
        model.display(),
        local.threads,
        local.context_tokens,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let started = Instant::now();
    let provider = match LocalProvider::with_local_config(config, local) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let load = started.elapsed();
    let (_, rss_after_load) = memory_mib();
    println!(
        "load (backend + model + context): {:.0} ms, RSS after load {:.0} MiB",
        load.as_secs_f64() * 1000.0,
        rss_after_load
    );

    let schema = ActionCatalog::default().answer_schema();
    let started = Instant::now();
    let gbnf = match grammar_for_schema(&schema, GrammarLimits::default()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "grammar for the answer schema: {:.1} ms to build ({} bytes of GBNF), cached afterwards",
        started.elapsed().as_secs_f64() * 1000.0,
        gbnf.len()
    );

    let plain = |nonce: Option<usize>| {
        let system = match nonce {
            Some(n) => format!("Run {n}. You are a helpful assistant."),
            None => "You are a helpful assistant.".to_string(),
        };
        ChatRequest::new(vec![Message::user(
            "Write a short paragraph about why people like coffee.",
        )])
        .with_system(system)
        .with_max_tokens(128)
    };
    let structured = |nonce: Option<usize>, question: &str| {
        let system = match nonce {
            Some(n) => format!("Run {n}. {SYSTEM}"),
            None => SYSTEM.to_string(),
        };
        ChatRequest::new(vec![Message::user(question)])
            .with_system(system)
            .with_structured(StructuredOutput::new("answer", schema.clone()))
            .with_max_tokens(400)
    };
    const QUESTIONS: [&str; 4] = [
        "What time do you open on Saturday?",
        "¿Cuánto cuesta un latte?",
        "I want to talk to a person.",
        "Do you deliver to Calle Sol?",
    ];

    // One untimed call so one-off costs (page faults of the mmapped weights, thread pool
    // start) are not charged to the first measured run.
    let _ = run(&provider, plain(Some(usize::MAX))).await;

    let mut rows: Vec<(&str, Vec<Sample>)> = Vec::new();
    for (label, make) in [
        ("plain chat, cold prompt", 0),
        ("plain chat, warm prompt", 1),
        ("grammar (answer), cold", 2),
        ("grammar (answer), warm", 3),
    ] {
        let mut samples = Vec::new();
        for i in 0..runs {
            let request = match make {
                0 => plain(Some(i)),
                1 => plain(None),
                2 => structured(Some(i), QUESTIONS[i % QUESTIONS.len()]),
                _ => structured(None, QUESTIONS[i % QUESTIONS.len()]),
            };
            match run(&provider, request).await {
                Ok(s) => samples.push(s),
                Err(e) => {
                    eprintln!("{label}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        rows.push((label, samples));
    }
    println!(
        "\nmedian of {runs} runs\n{:<28} {:>7} {:>9} {:>8} {:>8} {:>9}",
        "", "TTFT ms", "decode/s", "prompt", "output", "total ms"
    );
    for (label, samples) in &rows {
        report(label, samples);
    }
    let (peak, rss) = memory_mib();
    println!("\npeak RSS (VmHWM) {peak:.0} MiB, RSS now {rss:.0} MiB");
    ExitCode::SUCCESS
}
