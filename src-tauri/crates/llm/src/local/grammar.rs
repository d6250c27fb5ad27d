//! From a JSON Schema to the GBNF grammar the local model samples under.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde_json::{Map, Value};

use crate::error::LlmError;

/// Distinct (schema, limits) pairs whose grammar is kept; an app has one or two.
const GRAMMAR_CACHE_ENTRIES: usize = 32;
/// Values a bounded `number` may take under the grammar (see [`grammar_ready_schema`]).
const BOUNDED_NUMBER_STEPS: u32 = 20;
/// Deeper than this a schema is left as is rather than walked without bound.
const MAX_SCHEMA_DEPTH: usize = 64;

/// How the grammar narrows a schema for a model that cannot be trusted to stop by itself.
/// Every answer under the narrowed grammar is still valid against the original schema
/// (strings only get shorter, arrays only get fewer items).
///
/// Why: a small model decoding greedily falls into loops inside a string ("I'm glad to
/// have you here. I'm glad to have you here…") or keeps appending array items, copying
/// the schema's alternatives one after another, until it hits the token limit; the answer
/// is then cut off and does not parse. Tight bounds make the grammar close the string or
/// the array, so the answer always completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrammarLimits {
    /// Caps every string's `maxLength` (in characters).
    pub max_string_chars: Option<u32>,
    /// Caps every array's `maxItems` (never below its `minItems`).
    pub max_array_items: Option<u32>,
}

impl GrammarLimits {
    /// No narrowing: the schema's own bounds (for models of a billion parameters or more).
    pub const NONE: GrammarLimits = GrammarLimits {
        max_string_chars: None,
        max_array_items: None,
    };

    /// For models of a few hundred million parameters, like the default SmolLM2-135M:
    /// strings of at most 200 characters (a WhatsApp-sized reply) and single-item arrays
    /// (one action per answer), so an answer fits in a few hundred tokens.
    pub const SMALL_MODEL: GrammarLimits = GrammarLimits {
        max_string_chars: Some(200),
        max_array_items: Some(1),
    };
}

impl Default for GrammarLimits {
    fn default() -> Self {
        GrammarLimits::SMALL_MODEL
    }
}

/// Built grammars by limits and schema text.
type GrammarCache = Mutex<HashMap<(GrammarLimits, String), Arc<str>>>;

/// The GBNF grammar for `schema` under `limits`, built once per distinct pair
/// (process-wide: grammars do not depend on the model). Building one for the answer
/// schema costs milliseconds; the cache makes every later call free.
pub(crate) fn grammar_for(schema: &Value, limits: GrammarLimits) -> Result<Arc<str>, LlmError> {
    static CACHE: OnceLock<GrammarCache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (limits, schema.to_string());
    if let Some(gbnf) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return Ok(Arc::clone(gbnf));
    }
    // Built without the lock: another worker may build the same grammar concurrently,
    // which wastes milliseconds once, rather than making every worker wait.
    let prepared = grammar_ready_schema(schema, limits).to_string();
    let gbnf =
        llama_cpp_2::json_schema_to_grammar(&prepared).map_err(|e| LlmError::InvalidRequest {
            message: format!("the JSON Schema cannot be turned into a grammar: {e}"),
        })?;
    let gbnf: Arc<str> = compact_whitespace(&gbnf).into();
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= GRAMMAR_CACHE_ENTRIES {
        cache.clear();
    }
    cache.insert(key, Arc::clone(&gbnf));
    Ok(gbnf)
}

/// llama.cpp's converter lets the model put up to two newlines and twenty spaces or tabs
/// between any two JSON tokens, and instruct models pretty-print: indentation then costs
/// a token or two per line. One optional space keeps answers compact (about a third fewer
/// tokens for the answer schema), which is output a small CPU model does not have to write.
fn compact_whitespace(gbnf: &str) -> String {
    gbnf.lines()
        .map(|line| {
            if line.starts_with("space ::=") {
                "space ::= \" \"?"
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `schema` adjusted for the grammar:
///
/// - llama.cpp's converter ignores `minimum`/`maximum` on `number` (it honours them only
///   on `integer`), so a small model writes `85` for a confidence from 0 to 1 and the
///   answer fails validation. A number with both bounds becomes an enum of evenly spaced
///   values between them (0, 0.05, … 1), which the grammar can enforce.
/// - `limits` tighten string lengths and array sizes (see [`GrammarLimits`]).
pub(crate) fn grammar_ready_schema(schema: &Value, limits: GrammarLimits) -> Value {
    fn walk(value: &mut Value, limits: GrammarLimits, depth: usize) {
        if depth > MAX_SCHEMA_DEPTH {
            return;
        }
        match value {
            Value::Object(object) => {
                if let Some(replacement) = bounded_number_enum(object) {
                    *object = replacement;
                    return;
                }
                tighten(object, limits);
                for v in object.values_mut() {
                    walk(v, limits, depth + 1);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, limits, depth + 1)),
            _ => {}
        }
    }
    let mut schema = schema.clone();
    walk(&mut schema, limits, 0);
    schema
}

fn has_type(object: &Map<String, Value>, kind: &str) -> bool {
    match object.get("type") {
        Some(Value::String(t)) => t == kind,
        Some(Value::Array(ts)) => ts.iter().any(|t| t.as_str() == Some(kind)),
        _ => false,
    }
}

/// Lowers `bound` to `cap` (keeping it at least `floor`) when it is absent or larger.
fn cap_bound(object: &mut Map<String, Value>, bound: &str, floor: &str, cap: u32) {
    let floor = object.get(floor).and_then(Value::as_u64).unwrap_or(0);
    let cap = u64::from(cap).max(floor);
    let current = object.get(bound).and_then(Value::as_u64);
    if current.is_none_or(|c| c > cap) {
        object.insert(bound.into(), Value::from(cap));
    }
}

fn tighten(object: &mut Map<String, Value>, limits: GrammarLimits) {
    // `const`/`enum` strings are fixed already; only free text is capped.
    let free = !object.contains_key("const") && !object.contains_key("enum");
    if let (Some(cap), true) = (limits.max_string_chars, free && has_type(object, "string")) {
        cap_bound(object, "maxLength", "minLength", cap);
    }
    if let (Some(cap), true) = (limits.max_array_items, has_type(object, "array")) {
        cap_bound(object, "maxItems", "minItems", cap);
    }
}

fn bounded_number_enum(object: &Map<String, Value>) -> Option<Map<String, Value>> {
    if object.get("type").and_then(Value::as_str) != Some("number") {
        return None;
    }
    let min = object.get("minimum").and_then(Value::as_f64)?;
    let max = object.get("maximum").and_then(Value::as_f64)?;
    if !(min.is_finite() && max.is_finite() && min < max) {
        return None;
    }
    let step = (max - min) / f64::from(BOUNDED_NUMBER_STEPS);
    let values: Vec<Value> = (0..=BOUNDED_NUMBER_STEPS)
        .filter_map(|k| {
            // Rounded so 0.15 is written `0.15`, not `0.15000000000000002`.
            let v = ((min + step * f64::from(k)) * 1e6).round() / 1e6;
            serde_json::Number::from_f64(v.clamp(min, max)).map(Value::Number)
        })
        .collect();
    let mut replacement = Map::new();
    if let Some(d) = object.get("description") {
        replacement.insert("description".into(), d.clone());
    }
    replacement.insert("enum".into(), Value::Array(values));
    Some(replacement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bounded_numbers_become_enums() {
        let schema = json!({"type": "object", "properties": {
            "confidence": {"type": "number", "minimum": 0, "maximum": 1, "description": "d"},
            "count": {"type": "integer", "minimum": 0, "maximum": 3},
            "free": {"type": "number"}
        }});
        let ready = grammar_ready_schema(&schema, GrammarLimits::NONE);
        let values = ready["properties"]["confidence"]["enum"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(values.len(), 21);
        assert_eq!(values[3], json!(0.15));
        assert_eq!(values[20], json!(1.0));
        assert_eq!(ready["properties"]["confidence"]["description"], "d");
        assert_eq!(ready["properties"]["count"], schema["properties"]["count"]);
        assert_eq!(ready["properties"]["free"], schema["properties"]["free"]);
    }

    #[test]
    fn limits_only_ever_tighten() {
        let schema = json!({"type": "object", "properties": {
            "text": {"type": "string", "maxLength": 1000},
            "short": {"type": "string", "maxLength": 10},
            "open": {"type": ["string", "null"]},
            "long_min": {"type": "string", "minLength": 300},
            "tag": {"type": "string", "const": "reply"},
            "list": {"type": "array", "minItems": 1, "maxItems": 5, "items": {"type": "string"}},
            "pair": {"type": "array", "minItems": 2, "items": {"type": "string"}}
        }});
        let ready = grammar_ready_schema(&schema, GrammarLimits::SMALL_MODEL);
        let p = &ready["properties"];
        assert_eq!(p["text"]["maxLength"], 200);
        assert_eq!(p["short"]["maxLength"], 10);
        assert_eq!(p["open"]["maxLength"], 200);
        assert_eq!(p["long_min"]["maxLength"], 300);
        assert!(p["tag"].get("maxLength").is_none());
        assert_eq!(p["list"]["maxItems"], 1);
        assert_eq!(p["pair"]["maxItems"], 2);
        assert_eq!(p["list"]["items"]["maxLength"], 200);
        assert_eq!(grammar_ready_schema(&schema, GrammarLimits::NONE), schema);
    }

    #[test]
    fn grammar_is_built_compact_and_cached() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string", "maxLength": 5}},
                            "required": ["a"], "additionalProperties": false});
        let first = grammar_for(&schema, GrammarLimits::NONE).expect("grammar");
        assert!(first.contains("root ::="), "{first}");
        assert!(first.contains("space ::= \" \"?"), "{first}");
        let second = grammar_for(&schema, GrammarLimits::NONE).expect("grammar");
        assert!(Arc::ptr_eq(&first, &second));
        let other = grammar_for(&schema, GrammarLimits::SMALL_MODEL).expect("grammar");
        assert!(!Arc::ptr_eq(&first, &other));
    }
}
