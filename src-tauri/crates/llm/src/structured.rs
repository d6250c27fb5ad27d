//! Asking for JSON that matches a schema, in the strongest way the model supports.
//!
//! Preference: native JSON-schema output (the provider enforces the schema), then a forced
//! tool call (the schema shapes the arguments), then JSON mode (valid JSON, schema only in
//! the prompt), then the schema in the prompt alone. Whatever the mode, the caller still
//! validates the result: only the first is a guarantee.

use serde_json::{json, Map, Value};

use crate::provider::{Capabilities, ProviderKind};

/// The schema the caller wants the answer to follow.
#[derive(Debug, Clone, PartialEq)]
pub struct StructuredOutput {
    /// Used as the schema / tool name; sanitized to `[A-Za-z0-9_-]{1,64}` on the wire.
    pub name: String,
    pub description: Option<String>,
    pub schema: Value,
}

impl StructuredOutput {
    pub fn new(name: impl Into<String>, schema: Value) -> Self {
        StructuredOutput {
            name: name.into(),
            description: None,
            schema,
        }
    }

    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The name as providers accept it.
    pub fn wire_name(&self) -> String {
        let name: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        if name.is_empty() {
            "output".to_string()
        } else {
            name
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StructuredMode {
    /// OpenAI `response_format: {type: "json_schema", strict: true}`; the JSON is the text.
    JsonSchema,
    /// A forced call of a tool whose parameters are the schema; the JSON is the arguments.
    ToolCall,
    /// OpenAI `response_format: {type: "json_object"}` plus the schema in the system prompt.
    JsonMode,
    /// Only the system prompt asks for JSON; the model may wrap it in prose or a fence.
    Prompt,
    /// The local provider samples under a grammar built from the schema, so the text is
    /// always a prefix of a schema-shaped document (complete unless cut by the token
    /// limit). A short sketch of the schema also goes into the system prompt, because a
    /// small model writes better values when it knows what the fields mean.
    Grammar,
}

pub fn choose_mode(kind: ProviderKind, caps: &Capabilities) -> StructuredMode {
    match kind {
        ProviderKind::Local => StructuredMode::Grammar,
        ProviderKind::OpenAiCompatible if caps.json_schema => StructuredMode::JsonSchema,
        _ if caps.tools => StructuredMode::ToolCall,
        // Anthropic has no JSON mode; `json_mode`/`json_schema` flags on it are ignored.
        ProviderKind::OpenAiCompatible if caps.json_mode => StructuredMode::JsonMode,
        _ => StructuredMode::Prompt,
    }
}

/// The instruction appended to the system prompt in [`StructuredMode::JsonMode`] and
/// [`StructuredMode::Prompt`].
pub fn schema_instruction(output: &StructuredOutput) -> String {
    let schema = serde_json::to_string_pretty(&output.schema).unwrap_or_default();
    let mut text = String::from(
        "Respond with a single JSON object and nothing else: no prose, no Markdown code fence. \
         The JSON object must conform to this JSON Schema:\n",
    );
    text.push_str(&schema);
    if let Some(description) = &output.description {
        text.push_str("\n\nThe object is: ");
        text.push_str(description);
    }
    text
}

/// The instruction appended to the system prompt in [`StructuredMode::Grammar`]: a compact
/// sketch of the schema rather than the schema itself. The grammar already enforces the
/// shape; the sketch tells the model what each field and alternative means, in a few
/// hundred tokens instead of thousands (prompt tokens are what a small CPU model is slow
/// at, and its context is short).
///
/// The sketch is one line per shape, not indented JSON: a small model shown a multi-line
/// JSON listing of every alternative copies the listing into its answer, alternative by
/// alternative, instead of choosing one.
pub fn brief_schema_instruction(output: &StructuredOutput) -> String {
    let mut groups = Vec::new();
    let shape = inline_sketch(&output.schema, "value", 0, &mut groups);
    let mut text = format!("Answer with one JSON object of this shape:\n{shape}\n");
    if let Some(properties) = output.schema.get("properties").and_then(Value::as_object) {
        for (key, property) in properties {
            if let Some(d) = property.get("description").and_then(Value::as_str) {
                text.push_str(&format!("- {}: {d}\n", Value::String(key.clone())));
            }
        }
    }
    for (name, variants) in &groups {
        text.push_str(&format!("Each {name} is one of:\n"));
        for (shape, description) in variants {
            text.push_str("- ");
            text.push_str(shape);
            if let Some(d) = description {
                text.push_str(": ");
                text.push_str(d);
            }
            text.push('\n');
        }
    }
    if let Some(description) = &output.description {
        text.push_str("The object is: ");
        text.push_str(description);
        text.push('\n');
    }
    text.trim_end().to_string()
}

/// Deeper than this, a sketch says only "...": real answer schemas are shallow, and a
/// hostile or recursive schema must not blow the stack or the prompt.
const SKETCH_MAX_DEPTH: usize = 8;

/// Alternatives (`anyOf`/`oneOf`) found while sketching, listed after the shape under
/// the name their placeholder uses: `(name, [(variant shape, its description)])`.
type SketchGroups = Vec<(String, Vec<(String, Option<String>)>)>;

/// A one-line, TypeScript-like rendering of `schema`. `name` names the value (from its
/// property), so alternatives get a readable placeholder such as `action`.
fn inline_sketch(schema: &Value, name: &str, depth: usize, groups: &mut SketchGroups) -> String {
    if depth > SKETCH_MAX_DEPTH {
        return "...".into();
    }
    let Some(object) = schema.as_object() else {
        return "any".into();
    };
    if let Some(value) = object.get("const") {
        return value.to_string();
    }
    if let Some(values) = object.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values.iter().map(Value::to_string).collect();
        return values.join(" | ");
    }
    if let Some(variants) = object
        .get("anyOf")
        .or_else(|| object.get("oneOf"))
        .and_then(Value::as_array)
    {
        if let [only] = variants.as_slice() {
            return inline_sketch(only, name, depth + 1, groups);
        }
        let rendered = variants
            .iter()
            .map(|v| {
                let description = v
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                (inline_sketch(v, name, depth + 1, groups), description)
            })
            .collect();
        let mut group_name = name.to_string();
        while groups.iter().any(|(n, _)| *n == group_name) {
            group_name.push('\'');
        }
        groups.push((group_name.clone(), rendered));
        return group_name;
    }
    let types: Vec<&str> = match object.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ if object.contains_key("properties") => vec!["object"],
        _ => vec![],
    };
    let main = types.iter().find(|t| **t != "null").copied();
    let mut text = match main {
        Some("object") => {
            let fields: Vec<String> = object
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(key, property)| {
                    format!(
                        "{}: {}",
                        Value::String(key.clone()),
                        inline_sketch(property, key, depth + 1, groups)
                    )
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Some("array") => {
            let item_name = name.strip_suffix('s').unwrap_or(name);
            let items = match object.get("items") {
                Some(items) => inline_sketch(items, item_name, depth + 1, groups),
                None => "any".into(),
            };
            let min = object.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            match object.get("maxItems").and_then(Value::as_u64) {
                Some(max) => format!("[{items}, ...] ({min} to {max} items)"),
                None => format!("[{items}, ...]"),
            }
        }
        Some(kind @ ("number" | "integer")) => {
            let min = object.get("minimum").and_then(Value::as_f64);
            let max = object.get("maximum").and_then(Value::as_f64);
            match (min, max) {
                (Some(min), Some(max)) => format!("{kind} from {min} to {max}"),
                _ => kind.to_string(),
            }
        }
        Some(other) => other.to_string(),
        None => "any".into(),
    };
    if types.contains(&"null") {
        text.push_str(" or null");
    }
    text
}

/// The system prompt to send: the caller's, plus the schema when the mode relies on it.
pub fn system_prompt(
    system: Option<&str>,
    output: Option<&StructuredOutput>,
    mode: Option<StructuredMode>,
) -> Option<String> {
    let instruction = match (output, mode) {
        (Some(output), Some(StructuredMode::JsonMode | StructuredMode::Prompt)) => {
            Some(schema_instruction(output))
        }
        (Some(output), Some(StructuredMode::Grammar)) => Some(brief_schema_instruction(output)),
        _ => None,
    };
    match (system, instruction) {
        (Some(s), Some(i)) => Some(format!("{s}\n\n{i}")),
        (Some(s), None) => Some(s.to_string()),
        (None, Some(i)) => Some(i),
        (None, None) => None,
    }
}

/// Adds the structured-output fields of an OpenAI Chat Completions body.
pub fn apply_openai(
    body: &mut Map<String, Value>,
    output: &StructuredOutput,
    mode: StructuredMode,
) {
    let name = output.wire_name();
    match mode {
        StructuredMode::JsonSchema => {
            let mut spec = json!({ "name": name, "schema": output.schema, "strict": true });
            if let Some(d) = &output.description {
                spec["description"] = json!(d);
            }
            body.insert(
                "response_format".into(),
                json!({ "type": "json_schema", "json_schema": spec }),
            );
        }
        StructuredMode::ToolCall => {
            let mut function = json!({ "name": name, "parameters": output.schema });
            if let Some(d) = &output.description {
                function["description"] = json!(d);
            }
            body.insert(
                "tools".into(),
                json!([{ "type": "function", "function": function }]),
            );
            body.insert(
                "tool_choice".into(),
                json!({ "type": "function", "function": { "name": name } }),
            );
        }
        StructuredMode::JsonMode => {
            body.insert("response_format".into(), json!({ "type": "json_object" }));
        }
        // Grammar never reaches the wire: it is local-only, the sketch is in the prompt.
        StructuredMode::Prompt | StructuredMode::Grammar => {}
    }
}

/// Adds the structured-output fields of an Anthropic Messages body. Only
/// [`StructuredMode::ToolCall`] changes the body; the other modes live in the system prompt.
pub fn apply_anthropic(
    body: &mut Map<String, Value>,
    output: &StructuredOutput,
    mode: StructuredMode,
) {
    if mode != StructuredMode::ToolCall {
        return;
    }
    let name = output.wire_name();
    let mut tool = json!({ "name": name, "input_schema": output.schema });
    if let Some(d) = &output.description {
        tool["description"] = json!(d);
    }
    body.insert("tools".into(), json!([tool]));
    body.insert(
        "tool_choice".into(),
        json!({ "type": "tool", "name": name }),
    );
}

/// The outermost JSON object or array in `text`, skipping a Markdown fence or prose a
/// model put around it. Returns the text itself when it already starts with `{`/`[`.
pub fn extract_json(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    let start = trimmed.find(['{', '['])?;
    let open = trimmed.as_bytes()[start];
    let close = if open == b'{' { '}' } else { ']' };
    let end = trimmed.rfind(close)?;
    (end > start).then(|| &trimmed[start..=end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_preference() {
        let mut caps = Capabilities::defaults_for(ProviderKind::OpenAiCompatible);
        assert_eq!(
            choose_mode(ProviderKind::OpenAiCompatible, &caps),
            StructuredMode::Prompt
        );
        caps.json_mode = true;
        assert_eq!(
            choose_mode(ProviderKind::OpenAiCompatible, &caps),
            StructuredMode::JsonMode
        );
        caps.tools = true;
        assert_eq!(
            choose_mode(ProviderKind::OpenAiCompatible, &caps),
            StructuredMode::ToolCall
        );
        caps.json_schema = true;
        assert_eq!(
            choose_mode(ProviderKind::OpenAiCompatible, &caps),
            StructuredMode::JsonSchema
        );
        assert_eq!(
            choose_mode(ProviderKind::Anthropic, &caps),
            StructuredMode::ToolCall
        );
        caps.tools = false;
        assert_eq!(
            choose_mode(ProviderKind::Anthropic, &caps),
            StructuredMode::Prompt
        );
    }

    #[test]
    fn local_models_use_a_grammar() {
        let caps = Capabilities::defaults_for(ProviderKind::Local);
        assert_eq!(
            choose_mode(ProviderKind::Local, &caps),
            StructuredMode::Grammar
        );
    }

    #[test]
    fn brief_sketch_names_fields_and_alternatives() {
        // Keys in alphabetical order, so the test holds with or without serde_json's
        // `preserve_order`.
        let schema = json!({
            "type": "object",
            "properties": {
                "actions": {"type": "array", "minItems": 1, "maxItems": 5, "items": {"anyOf": [
                    {"type": "object", "description": "Send a message.",
                     "properties": {"text": {"type": "string", "description": "The message."},
                                    "type": {"type": "string", "const": "reply"}}},
                    {"type": "object", "description": "Nothing to do.",
                     "properties": {"reason": {"type": ["string", "null"]},
                                    "type": {"type": "string", "const": "no_action"}}}
                ]}},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1,
                               "description": "How sure."}
            }
        });
        let text = brief_schema_instruction(&StructuredOutput::new("answer", schema));
        assert_eq!(
            text,
            "Answer with one JSON object of this shape:\n\
             {\"actions\": [action, ...] (1 to 5 items), \"confidence\": number from 0 to 1}\n\
             - \"confidence\": How sure.\n\
             Each action is one of:\n\
             - {\"text\": string, \"type\": \"reply\"}: Send a message.\n\
             - {\"reason\": string or null, \"type\": \"no_action\"}: Nothing to do."
        );
        let prompt = system_prompt(
            Some("Be kind."),
            Some(&StructuredOutput::new("answer", json!({"type": "object"}))),
            Some(StructuredMode::Grammar),
        )
        .unwrap_or_default();
        assert!(prompt.starts_with("Be kind.\n\nAnswer with one JSON object"));
    }

    #[test]
    fn sketch_of_a_deep_schema_is_bounded() {
        let mut schema = json!({"type": "string"});
        for _ in 0..100 {
            schema = json!({"type": "array", "items": schema});
        }
        let text = brief_schema_instruction(&StructuredOutput::new("deep", schema));
        assert!(text.len() < 200, "{text}");
    }

    #[test]
    fn names_are_sanitized() {
        assert_eq!(
            StructuredOutput::new("reply plan!", json!({})).wire_name(),
            "reply_plan_"
        );
        assert_eq!(StructuredOutput::new("", json!({})).wire_name(), "output");
        assert_eq!(
            StructuredOutput::new("x".repeat(100), json!({}))
                .wire_name()
                .len(),
            64
        );
    }

    #[test]
    fn extracts_json_from_fences_and_prose() {
        assert_eq!(extract_json("```json\n{\"a\":1}\n```"), Some("{\"a\":1}"));
        assert_eq!(
            extract_json("Sure! {\"a\":{\"b\":2}} hope it helps"),
            Some("{\"a\":{\"b\":2}}")
        );
        assert_eq!(extract_json("no json"), None);
        assert_eq!(extract_json("} {"), None);
        assert_eq!(extract_json(""), None);
    }
}
