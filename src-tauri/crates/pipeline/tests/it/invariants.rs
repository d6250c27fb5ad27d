//! Invariants of the action validator under hostile model output.
//!
//! Shared by the property tests (`hostile.rs`) and the coverage-guided fuzz target
//! (`fuzz/fuzz_targets/action_validator.rs` includes this file with `#[path]`), so the
//! bounded run in the test suite and the long fuzzing run check the same properties. The
//! function panics when an invariant breaks; it uses only the crate's public API,
//! `serde_json`, `chrono` and `jsonschema`.

use chrono::{Duration, TimeZone, Utc};
use serde_json::{json, Value};
use switchboard_pipeline::actions::{ActionCatalog, CustomActionDef, MAX_ACTIONS};
use switchboard_pipeline::validate::{AnswerValidator, ValidationContext};

/// The business the answers are checked against: the window is open, one template, two
/// operators, and one custom action so the configured-action path is exercised too.
pub fn context() -> ValidationContext {
    let now = Utc
        .with_ymd_and_hms(2026, 11, 24, 15, 0, 0)
        .single()
        .expect("a valid date");
    ValidationContext {
        now,
        window_closes_at: Some(now + Duration::hours(20)),
        templates: vec![("order_update".into(), "es_MX".into())],
        assignees: vec!["Ana".into(), "luis@tienda.mx".into()],
    }
}

struct Checker {
    validator: AnswerValidator,
    /// The whole answer schema the model is given, compiled.
    schema: jsonschema::Validator,
}

fn checker() -> &'static Checker {
    static CHECKER: std::sync::OnceLock<Checker> = std::sync::OnceLock::new();
    CHECKER.get_or_init(|| {
        let catalog = ActionCatalog::new(vec![CustomActionDef {
            name: "create_lead".into(),
            description: "Register a sales lead in the CRM.".into(),
            schema: json!({"type":"object","properties":{"product":{"type":"string","maxLength":100},"budget_mxn":{"type":"integer","minimum":0}},"required":["product","budget_mxn"]}),
            url: "http://127.0.0.1:1/leads".into(),
        }])
        .expect("a valid catalog");
        let validator = AnswerValidator::new(catalog).expect("the schema compiles");
        let schema = jsonschema::validator_for(validator.schema()).expect("the schema compiles");
        Checker { validator, schema }
    })
}

/// `data` is raw model output (invalid UTF-8 is replaced, as the stream decoder does).
///
/// - a refusal always says what is wrong, at a JSON pointer, in words;
/// - an accepted answer has 1 to [`MAX_ACTIONS`] actions, a confidence in [0, 1] and no
///   empty reply, satisfies the very schema the model was given, and its wire form is
///   accepted again as the same answer (what is stored can be re-read);
/// - the verdict is deterministic.
///
/// Returns whether the answer was accepted.
pub fn action_validator(data: &[u8]) -> bool {
    let raw = String::from_utf8_lossy(data);
    let Checker { validator, schema } = checker();
    let context = context();
    let verdict = validator.check(&raw, &context);
    assert_eq!(
        verdict,
        validator.check(&raw, &context),
        "the verdict must be deterministic"
    );
    let answer = match verdict {
        Err(errors) => {
            assert!(!errors.is_empty(), "a refusal must give a reason");
            for e in &errors {
                assert!(
                    e.path.is_empty() || e.path.starts_with('/'),
                    "not a JSON pointer: {e:?}"
                );
                assert!(
                    !e.message.trim().is_empty(),
                    "an error without words: {e:?}"
                );
            }
            return false;
        }
        Ok(answer) => answer,
    };
    assert!(
        (1..=MAX_ACTIONS).contains(&answer.actions.len()),
        "{answer:?}"
    );
    assert!(
        (0.0..=1.0).contains(&answer.confidence),
        "confidence {}",
        answer.confidence
    );
    for action in &answer.actions {
        if let switchboard_pipeline::actions::Action::Reply(reply) = action {
            assert!(!reply.text.trim().is_empty(), "an empty reply was accepted");
        }
    }
    let wire = json!({
        "actions": answer.actions.iter().map(|a| a.to_wire()).collect::<Vec<Value>>(),
        "reasoning": answer.reasoning,
        "confidence": answer.confidence,
    });
    let problems: Vec<String> = schema.iter_errors(&wire).map(|e| e.to_string()).collect();
    assert!(
        problems.is_empty(),
        "an accepted answer violates the answer schema: {problems:?} in {wire}"
    );
    assert_eq!(
        validator.check(&wire.to_string(), &context).as_ref(),
        Ok(&answer),
        "the wire form of an accepted answer must be accepted as the same answer"
    );
    true
}
