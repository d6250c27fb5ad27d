use serde_json::json;
use switchboard_llm::tokens::{
    cost, estimate_request_tokens, estimate_tokens, remaining_output_budget,
};
use switchboard_llm::{
    Capabilities, ChatRequest, Message, ProviderKind, StructuredMode, StructuredOutput, Usage,
};

const SAMPLES: [&str; 10] = [
    "Hello, how can I help you today? We have several options for delivery.",
    "Hola, ¿cómo estás? Quisiera saber si tienen disponible el pedido número 45321 para mañana por la tarde.",
    "¿Tienes café? 🎉 Sí, claro: tenemos espresso, cappuccino y café de olla. ¿Cuál prefieres?",
    r#"{"actions":[{"type":"reply","text":"Hola, gracias por escribirnos. Tu pedido llegará mañana."}],"reasoning":"The customer asked about delivery time; order is scheduled."}"#,
    "The quick brown fox jumps over the lazy dog. Internationalization and configuration are long words; operators monitor conversations.",
    "You are a helpful assistant for a bakery. Answer in the customer's language.\nKeep replies short.\n\nRules:\n- Never promise refunds.\n- Escalate complaints to a human.",
    "Olá! Obrigado pelo contato. Nosso horário de funcionamento é de segunda a sexta, das 9h às 18h.",
    "注文はいつ届きますか？明日の午後に届く予定です。",
    "Order #A-1029 total: $1,249.99 (incl. 16% VAT) — paid via card ending 4242 on 2024-05-17 14:32.",
    "ok 👍👍 gracias!!! 😀",
];

/// The heuristic stays close to a real BPE tokenizer (OpenAI's cl100k, embedded in
/// tiktoken-rs, so this runs offline).
#[test]
fn heuristic_tracks_cl100k() {
    let bpe = tiktoken_rs::cl100k_base().unwrap();
    let (mut real_total, mut est_total) = (0usize, 0usize);
    for s in SAMPLES {
        let real = bpe.encode_with_special_tokens(s).len();
        let est = estimate_tokens(s) as usize;
        let ratio = est as f64 / real as f64;
        assert!(
            (0.7..=1.35).contains(&ratio),
            "{s:?}: estimate {est}, cl100k {real}"
        );
        real_total += real;
        est_total += est;
    }
    let ratio = est_total as f64 / real_total as f64;
    assert!((0.9..=1.15).contains(&ratio), "aggregate ratio {ratio}");
}

#[test]
fn request_estimate_includes_schema_where_it_travels() {
    let schema = json!({"type":"object","properties":{"actions":{"type":"array","items":{"type":"object"}}}});
    let plain =
        ChatRequest::new(vec![Message::user("¿Tienes café?")]).with_system("Eres un barista.");
    let structured = plain
        .clone()
        .with_structured(StructuredOutput::new("plan", schema));
    let base = estimate_request_tokens(&plain, None);
    assert!(base > estimate_tokens("¿Tienes café?") + estimate_tokens("Eres un barista."));
    for mode in [
        StructuredMode::JsonSchema,
        StructuredMode::ToolCall,
        StructuredMode::JsonMode,
        StructuredMode::Prompt,
    ] {
        assert!(
            estimate_request_tokens(&structured, Some(mode)) > base + 10,
            "{mode:?}"
        );
    }
}

#[test]
fn budget_against_context_length() {
    let mut caps = Capabilities::defaults_for(ProviderKind::OpenAiCompatible);
    let request = ChatRequest::new(vec![Message::user("palabra ".repeat(2000))]);
    let used = estimate_request_tokens(&request, None);
    caps.context_length = used + 100;
    assert_eq!(remaining_output_budget(&request, None, &caps), Some(100));
    caps.context_length = used;
    assert_eq!(remaining_output_budget(&request, None, &caps), None);
    caps.context_length = 10;
    assert_eq!(remaining_output_budget(&request, None, &caps), None);
}

#[test]
fn cost_needs_both_prices() {
    let usage = Usage {
        input_tokens: 2_000_000,
        output_tokens: 500_000,
        estimated: false,
    };
    let mut caps = Capabilities::defaults_for(ProviderKind::Anthropic);
    assert_eq!(cost(&usage, &caps), None);
    caps.price_in_per_mtok = Some(3.0);
    assert_eq!(cost(&usage, &caps), None);
    caps.price_out_per_mtok = Some(15.0);
    assert_eq!(cost(&usage, &caps), Some(6.0 + 7.5));
    caps.price_in_per_mtok = Some(0.0);
    caps.price_out_per_mtok = Some(0.0);
    assert_eq!(cost(&usage, &caps), Some(0.0));
}
