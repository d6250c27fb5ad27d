use chrono::{Duration, TimeZone, Utc};
use serde_json::{json, Value};
use switchboard_pipeline::actions::{Action, ActionCatalog, CustomActionDef, BUILTIN_KINDS};
use switchboard_pipeline::validate::{AnswerValidator, ValidationContext};

fn context() -> ValidationContext {
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
    ValidationContext {
        now,
        window_closes_at: Some(now + Duration::hours(20)),
        templates: vec![("order_update".into(), "es_MX".into())],
        assignees: vec!["Ana".into(), "luis@tienda.mx".into()],
    }
}

fn validator() -> AnswerValidator {
    AnswerValidator::new(ActionCatalog::default()).unwrap()
}

#[test]
fn the_answer_schema_lists_every_builtin_action_with_type_first_and_bounded_strings() {
    let schema = ActionCatalog::default().answer_schema();
    let variants = schema
        .pointer("/properties/actions/items/anyOf")
        .unwrap()
        .as_array()
        .unwrap();
    let kinds: Vec<&str> = variants
        .iter()
        .map(|v| {
            v.pointer("/properties/type/const")
                .unwrap()
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        kinds, BUILTIN_KINDS,
        "every built-in action is in the schema, in catalog order"
    );
    for variant in variants {
        let first = variant["properties"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap();
        assert_eq!(
            first, "type",
            "`type` must come first so the reply text streams after it is known"
        );
        assert_eq!(
            variant["additionalProperties"], false,
            "strict mode: objects are closed"
        );
    }
    fn strings_bounded(v: &Value, path: &str) {
        match v {
            Value::Object(o) => {
                let is_string = o.get("type") == Some(&json!("string"))
                    || o.get("type")
                        .and_then(Value::as_array)
                        .is_some_and(|t| t.contains(&json!("string")));
                if is_string && !o.contains_key("const") && !o.contains_key("enum") {
                    assert!(
                        o.contains_key("maxLength"),
                        "string at {path} must have maxLength: {v}"
                    );
                }
                for (k, child) in o {
                    strings_bounded(child, &format!("{path}/{k}"));
                }
            }
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, c)| strings_bounded(c, &format!("{path}/{i}"))),
            _ => {}
        }
    }
    strings_bounded(&schema, "");
    jsonschema::validator_for(&schema).expect("the generated schema is itself valid JSON Schema");
}

#[test]
fn a_valid_answer_becomes_typed_actions() {
    let raw = r#"{"actions":[{"type":"reply","text":"¡Hola! Abrimos de 9 a 18 h."},
        {"type":"set_session_variable","key":"topic","value":"horario"},
        {"type":"create_task","title":"Llamar a Lucía","assignee":"ana","due_at":"2026-11-25T10:00:00-06:00","priority":"high"}],
        "reasoning":"Customer asked for opening hours.","confidence":0.92}"#;
    let answer = validator().check(raw, &context()).expect("valid answer");
    assert_eq!(answer.actions.len(), 3);
    assert!(matches!(&answer.actions[0], Action::Reply(r) if r.text.starts_with("¡Hola!")));
    assert_eq!(answer.actions[2].kind(), "create_task");
    assert_eq!(answer.confidence, 0.92);
    assert_eq!(
        answer.actions[0].to_wire()["type"],
        "reply",
        "wire form round-trips the tag"
    );
}

#[test]
fn code_fences_around_the_json_are_tolerated() {
    let raw = "```json\n{\"actions\":[{\"type\":\"no_action\",\"reason\":null}],\"reasoning\":\"thanks only\",\"confidence\":0.8}\n```";
    assert!(validator().check(raw, &context()).is_ok());
}

#[test]
fn schema_errors_point_at_the_field() {
    let raw = r#"{"actions":[{"type":"create_task","title":"","assignee":null,"due_at":null,"priority":"asap"}],"reasoning":"x","confidence":1.5}"#;
    let errors = validator().check(raw, &context()).unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert!(
        paths.contains(&"/confidence"),
        "confidence out of range is reported: {errors:?}"
    );
    assert!(
        paths.contains(&"/actions/0/priority"),
        "an invalid enum value is reported at its field: {errors:?}"
    );
    assert!(
        paths.contains(&"/actions/0/title"),
        "an empty title is reported: {errors:?}"
    );
}

#[test]
fn meaning_checks_catch_what_a_schema_cannot() {
    let mut closed = context();
    closed.window_closes_at = Some(closed.now - Duration::hours(1));
    let reply = r#"{"actions":[{"type":"reply","text":"Hola"}],"reasoning":"r","confidence":0.9}"#;
    let errors = validator().check(reply, &closed).unwrap_err();
    assert!(
        errors[0].message.contains("order_update"),
        "a closed window suggests the configured templates: {errors:?}"
    );

    let template = r#"{"actions":[{"type":"send_template","name":"promo","language":"es_MX","parameters":[]}],"reasoning":"r","confidence":0.9}"#;
    let errors = validator().check(template, &context()).unwrap_err();
    assert_eq!(
        errors[0].path, "/actions/0/name",
        "an unknown template is refused: {errors:?}"
    );

    let past = r#"{"actions":[{"type":"schedule_followup","at":"2020-01-01T00:00:00Z","note":"n"}],"reasoning":"r","confidence":0.9}"#;
    let errors = validator().check(past, &context()).unwrap_err();
    assert!(errors[0].message.contains("past"), "{errors:?}");

    let stranger = r#"{"actions":[{"type":"create_task","title":"t","assignee":"Pedro","due_at":null,"priority":"low"}],"reasoning":"r","confidence":0.9}"#;
    let errors = validator().check(stranger, &context()).unwrap_err();
    assert_eq!(errors[0].path, "/actions/0/assignee", "{errors:?}");
}

#[test]
fn unknown_actions_and_non_json_are_clear_errors() {
    let errors = validator()
        .check(r#"{"actions":[{"type":"issue_refund","amount":100}],"reasoning":"r","confidence":0.9}"#, &context())
        .unwrap_err();
    assert!(
        errors[0].message.contains("unknown action type"),
        "{errors:?}"
    );
    let errors = validator()
        .check("Sure! I will reply to the customer.", &context())
        .unwrap_err();
    assert!(errors[0].message.contains("not valid JSON"), "{errors:?}");
    let errors = validator()
        .check(
            r#"{"actions":[],"reasoning":"r","confidence":0.9}"#,
            &context(),
        )
        .unwrap_err();
    assert_eq!(errors[0].path, "/actions");
}

#[test]
fn custom_actions_from_configuration_are_validated_against_their_schema() {
    let catalog = ActionCatalog::new(vec![CustomActionDef {
        name: "create_lead".into(),
        description: "Register a sales lead in the CRM.".into(),
        schema: json!({"type":"object","properties":{"product":{"type":"string","maxLength":100},"budget_mxn":{"type":"integer","minimum":0}},"required":["product","budget_mxn"]}),
        url: "http://127.0.0.1:1/leads".into(),
    }])
    .unwrap();
    let validator = AnswerValidator::new(catalog).unwrap();
    let ok = validator
        .check(r#"{"actions":[{"type":"create_lead","product":"escritorio","budget_mxn":5000}],"reasoning":"r","confidence":0.7}"#, &context())
        .unwrap();
    assert!(
        matches!(&ok.actions[0], Action::Custom { name, params } if name == "create_lead" && params["budget_mxn"] == 5000)
    );
    let bad = validator
        .check(r#"{"actions":[{"type":"create_lead","product":"escritorio","budget_mxn":-3}],"reasoning":"r","confidence":0.7}"#, &context())
        .unwrap_err();
    assert_eq!(bad[0].path, "/actions/0/budget_mxn", "{bad:?}");

    let clash = ActionCatalog::new(vec![CustomActionDef {
        name: "reply".into(),
        description: "d".into(),
        schema: json!({"type":"object"}),
        url: "http://127.0.0.1:1".into(),
    }]);
    assert!(
        clash.is_err(),
        "a custom action cannot shadow a built-in one"
    );
}

proptest::proptest! {
    #[test]
    fn the_validator_never_panics_on_arbitrary_output(raw in ".{0,400}") {
        let _ = validator().check(&raw, &context());
    }

    #[test]
    fn the_validator_never_panics_on_arbitrary_json(value in proptest_json()) {
        let _ = validator().check(&value.to_string(), &context());
    }
}

fn proptest_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z_]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("reply"),
            Just("create_task"),
            Just("send_template"),
            Just("no_action")
        ]
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("type".to_string()),
                    Just("actions".to_string()),
                    Just("text".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
