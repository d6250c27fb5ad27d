//! Scores the embedded local model on the fixed evaluation set `tests/eval/local-model.json`:
//! how many answers are schema-valid (checked by switchboard-pipeline's `AnswerValidator`)
//! and how many pick an acceptable first action.
//!
//! ```text
//! scripts/fetch-model
//! cargo run --release -p switchboard-llm --features local --example eval_local [-- --model PATH] [--set PATH]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use serde::Deserialize;
use serde_json::Value;
use switchboard_llm::local::{default_model_path, LocalConfig, LocalProvider};
use switchboard_llm::{
    CancellationToken, ChatRequest, DeltaSink, Message, Provider, ProviderConfig, ProviderKind,
    StructuredOutput,
};
use switchboard_pipeline::validate::{AnswerValidator, ValidationContext};
use switchboard_pipeline::ActionCatalog;

#[derive(Deserialize)]
struct EvalSet {
    system: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    id: String,
    language: String,
    messages: Vec<EvalMessage>,
    expected: Vec<String>,
}

#[derive(Deserialize)]
struct EvalMessage {
    role: String,
    content: String,
}

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
    }
    None
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let set_path = arg("--set").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../tests/eval/local-model.json")
    });
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
    let set: EvalSet = match std::fs::read_to_string(&set_path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(set) => set,
        Err(e) => {
            eprintln!("cannot read {}: {e}", set_path.display());
            return ExitCode::FAILURE;
        }
    };

    let mut config = ProviderConfig::new("local", ProviderKind::Local, "");
    config.timeouts.first_token = std::time::Duration::from_secs(600);
    config.timeouts.total = std::time::Duration::from_secs(600);
    let provider = match LocalProvider::with_local_config(config, LocalConfig::new(&model)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let catalog = ActionCatalog::default();
    let schema = catalog.answer_schema();
    let validator = match AnswerValidator::new(catalog) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("validator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let now = chrono::Utc::now();
    let context = ValidationContext {
        now,
        window_closes_at: Some(now + chrono::Duration::hours(20)),
        templates: Vec::new(),
        assignees: Vec::new(),
    };

    println!(
        "model: {} ({})\nset:   {} ({} cases)\n",
        provider.model_name(),
        model.display(),
        set_path.display(),
        set.cases.len()
    );
    println!(
        "{:<14} {:<3} {:<32} {:<20} {:<6} {:>7} {:>5}",
        "case", "lng", "expected", "got", "valid", "ms", "toks"
    );
    let (mut valid, mut correct) = (0usize, 0usize);
    let mut per_language: std::collections::BTreeMap<String, (usize, usize, usize)> =
        Default::default();
    let mut failures = Vec::new();
    for case in &set.cases {
        let messages = case
            .messages
            .iter()
            .map(|m| match m.role.as_str() {
                "assistant" => Message::assistant(&m.content),
                _ => Message::user(&m.content),
            })
            .collect();
        let request = ChatRequest::new(messages)
            .with_system(&set.system)
            .with_structured(StructuredOutput::new("answer", schema.clone()))
            .with_max_tokens(400);
        let started = Instant::now();
        let result = provider
            .stream(request, DeltaSink::noop(), CancellationToken::new())
            .await;
        let ms = started.elapsed().as_millis();
        let (got, ok, tokens) = match &result {
            Ok(c) => {
                let json = c.structured_json().unwrap_or(&c.text);
                let first = serde_json::from_str::<Value>(json)
                    .ok()
                    .and_then(|v| {
                        v.pointer("/actions/0/type")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| "-".into());
                let check = validator.check(json, &context);
                if let Err(errors) = &check {
                    failures.push(format!("{}: {errors:?}\n    {json}", case.id));
                }
                (first, check.is_ok(), c.usage.output_tokens)
            }
            Err(e) => {
                failures.push(format!("{}: {e}", case.id));
                ("error".into(), false, 0)
            }
        };
        let hit = case.expected.contains(&got);
        valid += usize::from(ok);
        correct += usize::from(hit);
        let entry = per_language.entry(case.language.clone()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(ok);
        entry.2 += usize::from(hit);
        println!(
            "{:<14} {:<3} {:<32} {:<20} {:<6} {:>7} {:>5}{}",
            case.id,
            case.language,
            case.expected.join("|"),
            got,
            if ok { "yes" } else { "NO" },
            ms,
            tokens,
            if hit { "" } else { "  ✗" }
        );
    }
    let n = set.cases.len();
    println!(
        "\nschema-valid: {valid}/{n} ({:.0}%)   action accuracy: {correct}/{n} ({:.0}%)",
        100.0 * valid as f64 / n.max(1) as f64,
        100.0 * correct as f64 / n.max(1) as f64
    );
    for (language, (count, ok, hit)) in &per_language {
        println!("  {language}: valid {ok}/{count}, accurate {hit}/{count}");
    }
    if !failures.is_empty() {
        println!("\ninvalid answers:");
        for f in &failures {
            println!("  {f}");
        }
    }
    ExitCode::SUCCESS
}
