//! Loading the shared fixtures and comparing parsed events with the manifest's facts.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use switchboard_whatsapp::webhook::payload::{
    DropReason, DroppedItem, InboundMessage, InteractiveReply, MessageContent, StatusUpdate,
    WebhookEvent,
};

/// Fixture root: `$SWITCHBOARD_FIXTURES`, else `shared/fixtures/whatsapp` beside the repo.
pub fn root() -> PathBuf {
    match std::env::var_os("SWITCHBOARD_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../../shared/fixtures/whatsapp"
        )),
    }
}

pub fn manifest() -> &'static Value {
    static MANIFEST: OnceLock<Value> = OnceLock::new();
    MANIFEST.get_or_init(|| {
        let path = root().join("MANIFEST.json");
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_slice(&bytes).expect("MANIFEST.json is JSON")
    })
}

pub fn entries() -> &'static [Value] {
    manifest()["entries"]
        .as_array()
        .expect("manifest has entries[]")
}

pub fn entries_of(kind: &str) -> Vec<&'static Value> {
    let found: Vec<_> = entries().iter().filter(|e| e["kind"] == kind).collect();
    assert!(!found.is_empty(), "manifest has no `{kind}` entries");
    found
}

pub fn file_of(entry: &Value) -> &str {
    entry["file"].as_str().expect("entry.file is a string")
}

pub fn read(file: &str) -> Vec<u8> {
    let path = root().join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn read_json(file: &str) -> Value {
    serde_json::from_slice(&read(file)).unwrap_or_else(|e| panic!("{file} is not JSON: {e}"))
}

pub fn secret() -> &'static [u8] {
    manifest()["app_secret"]
        .as_str()
        .expect("manifest.app_secret")
        .as_bytes()
}

pub fn verify_token() -> &'static str {
    manifest()["verify_token"]
        .as_str()
        .expect("manifest.verify_token")
}

/// Splits a JSON array file into its elements, each in the manifest's compact form:
/// whitespace outside strings removed, string contents (and their escapes) untouched, keys
/// in file order. This equals Python's `json.dumps(separators=(',', ':'))` for ASCII files.
pub fn compact_array_elements(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut items = Vec::new();
    let mut current = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            current.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b' ' | b'\n' | b'\r' | b'\t' => {}
            b'[' | b'{' if depth == 0 => depth = 1,
            b',' if depth == 1 => items.push(std::mem::take(&mut current)),
            b']' | b'}' if depth == 1 => {
                depth = 0;
                items.push(std::mem::take(&mut current));
            }
            _ => {
                match b {
                    b'"' => in_string = true,
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => depth -= 1,
                    _ => {}
                }
                current.push(b);
            }
        }
    }
    items.retain(|i| !i.is_empty());
    items
}

fn opt(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| json!(s))
}

/// A fact of a message event, or `None` if the manifest names a fact this test does not know
/// (which fails the test: every fact in the manifest must be checked).
fn message_fact(m: &InboundMessage, key: &str) -> Option<Value> {
    Some(match key {
        "kind" => json!("message"),
        "waba_id" => json!(m.route.waba_id),
        "phone_number_id" => json!(m.route.phone_number_id),
        "display_phone_number" => opt(m.route.display_phone_number.as_deref()),
        "from" => opt(m.sender.wa_id()),
        "from_user_id" => opt(m.sender.user_id()),
        "contact_name" => opt(m.contact_name.as_deref()),
        "id" => json!(m.wamid),
        "timestamp" => json!(m.timestamp),
        "type" => json!(m.type_name()),
        "text" => opt(m.text()),
        "context" => match &m.context {
            None => Value::Null,
            Some(c) => {
                let mut o = Map::new();
                if let Some(id) = &c.id {
                    o.insert("reply_to".into(), json!(id));
                }
                if c.forwarded {
                    o.insert("forwarded".into(), json!(true));
                }
                if c.frequently_forwarded {
                    o.insert("frequently_forwarded".into(), json!(true));
                }
                Value::Object(o)
            }
        },
        _ => return None,
    })
}

/// A `details` fact of a message event (type-specific).
fn message_detail(m: &InboundMessage, key: &str) -> Option<Value> {
    let c = &m.content;
    let media = match c {
        MessageContent::Media(media) => Some(media),
        _ => None,
    };
    Some(match key {
        "media_id" => opt(media.map(|m| m.id.as_str())),
        "mime_type" => opt(media.and_then(|m| m.mime_type.as_deref())),
        "filename" => opt(media.and_then(|m| m.filename.as_deref())),
        "voice" => media
            .and_then(|m| m.voice)
            .map_or(Value::Null, |v| json!(v)),
        "animated" => media
            .and_then(|m| m.animated)
            .map_or(Value::Null, |v| json!(v)),
        "latitude" | "longitude" => match c {
            MessageContent::Location(l) if key == "latitude" => json!(l.latitude),
            MessageContent::Location(l) => json!(l.longitude),
            _ => Value::Null,
        },
        "card_count" | "first_formatted_name" => match c {
            MessageContent::Contacts { cards } if key == "card_count" => json!(cards.len()),
            MessageContent::Contacts { cards } => opt(cards
                .first()
                .and_then(|card| card.name.as_ref())
                .and_then(|n| n.formatted_name.as_deref())),
            _ => Value::Null,
        },
        "interactive_type" => match c {
            MessageContent::Interactive(r) => opt(r.subtype()),
            _ => Value::Null,
        },
        "reply_id" => match c {
            MessageContent::Interactive(
                InteractiveReply::ButtonReply { id, .. } | InteractiveReply::ListReply { id, .. },
            ) => json!(id),
            _ => Value::Null,
        },
        "payload" => match c {
            MessageContent::Button { payload, .. } => opt(payload.as_deref()),
            _ => Value::Null,
        },
        "reacted_message_id" | "emoji" => match c {
            MessageContent::Reaction { message_id, .. } if key == "reacted_message_id" => {
                json!(message_id)
            }
            MessageContent::Reaction { emoji, .. } => opt(emoji.as_deref()),
            _ => Value::Null,
        },
        "catalog_id" | "item_count" => match c {
            MessageContent::Order(o) if key == "catalog_id" => opt(o.catalog_id.as_deref()),
            MessageContent::Order(o) => json!(o.product_items.len()),
            _ => Value::Null,
        },
        "system_type" | "new_wa_id" => match c {
            MessageContent::System(s) if key == "system_type" => json!(s.kind.as_str()),
            MessageContent::System(s) => opt(s.new_wa_id.as_deref()),
            _ => Value::Null,
        },
        "error_codes" => json!(m.errors.iter().map(|e| e.code).collect::<Vec<_>>()),
        "unrecognised_type" => json!(matches!(c, MessageContent::Unsupported { .. })),
        _ => return None,
    })
}

/// Optional status facts: when the manifest omits one, the parser must not invent it.
const STATUS_OPTIONAL_FACTS: &[&str] = &[
    "recipient_user_id",
    "conversation_id",
    "conversation_origin",
    "conversation_expires",
    "pricing_category",
    "pricing_model",
    "billable",
    "pricing_type",
    "biz_opaque_callback_data",
];

fn status_fact(s: &StatusUpdate, key: &str) -> Option<Value> {
    let conv = s.conversation.as_ref();
    let pricing = s.pricing.as_ref();
    Some(match key {
        "kind" => json!("status"),
        "waba_id" => json!(s.route.waba_id),
        "phone_number_id" => json!(s.route.phone_number_id),
        "display_phone_number" => opt(s.route.display_phone_number.as_deref()),
        "id" => json!(s.wamid),
        "status" => json!(s.status.as_str()),
        "recipient_id" => opt(s.recipient.wa_id()),
        "recipient_user_id" => opt(s.recipient.user_id()),
        "timestamp" => json!(s.timestamp),
        "conversation_id" => opt(conv.and_then(|c| c.id.as_deref())),
        "conversation_origin" => opt(conv.and_then(|c| c.origin_type.as_deref())),
        "conversation_expires" => conv
            .and_then(|c| c.expiration_timestamp)
            .map_or(Value::Null, |t| json!(t)),
        "pricing_category" => opt(pricing.and_then(|p| p.category.as_deref())),
        "pricing_model" => opt(pricing.and_then(|p| p.pricing_model.as_deref())),
        "billable" => pricing
            .and_then(|p| p.billable)
            .map_or(Value::Null, |b| json!(b)),
        "pricing_type" => opt(pricing.and_then(|p| p.pricing_type.as_deref())),
        "biz_opaque_callback_data" => opt(s.biz_opaque_callback_data.as_deref()),
        "error_codes" => json!(s.errors.iter().map(|e| e.code).collect::<Vec<_>>()),
        _ => return None,
    })
}

/// Asserts that `actual` has every fact listed in `expected` (one `events[]` element).
pub fn assert_event(ctx: &str, expected: &Value, actual: &WebhookEvent) {
    let expected = expected.as_object().expect("expected event is an object");
    match actual {
        WebhookEvent::Message(m) => {
            assert_eq!(expected.get("kind"), Some(&json!("message")), "{ctx}: kind");
            for (key, want) in expected {
                if key == "details" {
                    let details = want.as_object().expect("details is an object");
                    for (dkey, dwant) in details {
                        let got = message_detail(m, dkey)
                            .unwrap_or_else(|| panic!("{ctx}: unmodelled detail `{dkey}`"));
                        assert_eq!(&got, dwant, "{ctx}: details.{dkey}");
                    }
                    continue;
                }
                let got = message_fact(m, key)
                    .unwrap_or_else(|| panic!("{ctx}: unmodelled message fact `{key}`"));
                assert_eq!(&got, want, "{ctx}: {key}");
            }
            for key in ["context", "from_user_id"] {
                if !expected.contains_key(key) {
                    assert_eq!(
                        message_fact(m, key),
                        Some(Value::Null),
                        "{ctx}: unexpected {key}"
                    );
                }
            }
        }
        WebhookEvent::Status(s) => {
            assert_eq!(expected.get("kind"), Some(&json!("status")), "{ctx}: kind");
            for (key, want) in expected {
                let got = status_fact(s, key)
                    .unwrap_or_else(|| panic!("{ctx}: unmodelled status fact `{key}`"));
                assert_eq!(&got, want, "{ctx}: {key}");
            }
            for key in STATUS_OPTIONAL_FACTS {
                if !expected.contains_key(*key) {
                    assert_eq!(
                        status_fact(s, key),
                        Some(Value::Null),
                        "{ctx}: unexpected {key}"
                    );
                }
            }
        }
        WebhookEvent::Error(e) => {
            assert_eq!(expected.get("kind"), Some(&json!("error")), "{ctx}: kind");
            for (key, want) in expected {
                let got = match key.as_str() {
                    "kind" => json!("error"),
                    "waba_id" => json!(e.route.waba_id),
                    "phone_number_id" => json!(e.route.phone_number_id),
                    "code" | "error_code" => json!(e.error.code),
                    "title" => opt(e.error.title.as_deref()),
                    other => panic!("{ctx}: unmodelled error fact `{other}`"),
                };
                assert_eq!(&got, want, "{ctx}: {key}");
            }
        }
    }
}

pub fn assert_events(ctx: &str, expected: &Value, actual: &[WebhookEvent]) {
    let expected = expected.as_array().expect("events is an array");
    assert_eq!(
        actual.len(),
        expected.len(),
        "{ctx}: event count; got {actual:#?}"
    );
    for (i, (want, got)) in expected.iter().zip(actual).enumerate() {
        assert_event(&format!("{ctx} event[{i}]"), want, got);
    }
}

/// Matches the manifest's reason strings ("missing id", "missing type", "wrong field types").
fn reason_matches(expected: &str, actual: DropReason) -> bool {
    match actual {
        DropReason::Missing(field) => expected == format!("missing {}", field.label()),
        DropReason::WrongType(_) => expected == "wrong field types",
        DropReason::NotAnObject => expected == "not an object",
    }
}

pub fn assert_dropped(ctx: &str, expected: Option<&Value>, actual: &[DroppedItem]) {
    let empty = Vec::new();
    let expected = expected.map_or(&empty, |v| v.as_array().expect("dropped is an array"));
    assert_eq!(
        actual.len(),
        expected.len(),
        "{ctx}: dropped count; got {actual:#?}"
    );
    for (want, got) in expected.iter().zip(actual) {
        for (key, value) in want.as_object().expect("dropped item is an object") {
            match key.as_str() {
                "index" => assert_eq!(json!(got.location.index), *value, "{ctx}: dropped index"),
                "id" => assert_eq!(opt(got.id.as_deref()), *value, "{ctx}: dropped id"),
                "reason" => {
                    let reason = value.as_str().expect("reason is a string");
                    assert!(
                        reason_matches(reason, got.reason),
                        "{ctx}: dropped reason {:?} vs `{reason}`",
                        got.reason
                    );
                }
                other => panic!("{ctx}: unmodelled dropped fact `{other}`"),
            }
        }
    }
}
