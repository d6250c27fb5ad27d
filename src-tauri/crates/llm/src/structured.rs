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
}

pub fn choose_mode(kind: ProviderKind, caps: &Capabilities) -> StructuredMode {
    match kind {
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
        StructuredMode::Prompt => {}
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
