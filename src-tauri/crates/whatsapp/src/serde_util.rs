//! Lenient deserialisation helpers.
//!
//! Meta is inconsistent about scalar encodings (timestamps are strings of digits, `file_size`
//! is sometimes a string and sometimes a number) and sends `null` for absent arrays. These
//! helpers accept every encoding seen in the wild so one odd field does not cost a whole
//! message.

use serde::de::{self, Deserialize, Deserializer};
use serde_json::Value;

/// Interprets a JSON value as Unix seconds: a string of ASCII digits or a JSON integer.
///
/// Anything else (floats, words such as `"yesterday"`, negative numbers in strings with
/// junk) is rejected rather than guessed at, because a wrong timestamp silently reorders a
/// conversation.
pub(crate) fn unix_seconds(value: &Value) -> Option<i64> {
    match value {
        Value::String(s) => parse_integer_str(s),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Parses an optionally signed decimal integer without surrounding whitespace.
fn parse_integer_str(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Serde adapter for an optional Unix-seconds field (string or integer; `null` = absent).
pub(crate) fn opt_unix_seconds<'de, D>(deserializer: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => unix_seconds(&v)
            .map(Some)
            .ok_or_else(|| de::Error::custom("expected Unix seconds as a string or integer")),
    }
}

/// Serde adapter for a non-negative integer that may be encoded as a string (`file_size`,
/// order `quantity`).
pub(crate) fn u64_from_str_or_number<'de, D>(deserializer: D) -> Result<u64, D::Error>
where
    D: Deserializer<'de>,
{
    match Value::deserialize(deserializer)? {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| de::Error::custom("expected a non-negative integer")),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse()
            .map_err(|_| de::Error::custom("integer out of range")),
        _ => Err(de::Error::custom(
            "expected a non-negative integer or a string of digits",
        )),
    }
}

/// Serde adapter for an optional decimal number that may be encoded as a string (prices).
pub(crate) fn opt_f64_from_str_or_number<'de, D>(deserializer: D) -> Result<Option<f64>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| de::Error::custom("expected a decimal number")),
        Some(_) => Err(de::Error::custom("expected a number or numeric string")),
    }
}

/// Serde adapter that treats `null` like an absent array (Meta sends both).
pub(crate) fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// Returns the string at `key`, treating a missing key and `null` the same.
/// `Err(())` means the key holds something that is not a string.
pub(crate) fn opt_str<'a>(
    obj: &'a serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, ()> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unix_seconds_accepts_strings_and_integers_only() {
        assert_eq!(unix_seconds(&json!("1761903600")), Some(1_761_903_600));
        assert_eq!(unix_seconds(&json!(1_761_903_600)), Some(1_761_903_600));
        assert_eq!(unix_seconds(&json!("yesterday")), None);
        assert_eq!(unix_seconds(&json!("")), None);
        assert_eq!(unix_seconds(&json!(" 1")), None);
        assert_eq!(unix_seconds(&json!("+1")), None);
        assert_eq!(unix_seconds(&json!("-")), None);
        assert_eq!(unix_seconds(&json!(1.5)), None);
        assert_eq!(unix_seconds(&json!("99999999999999999999999")), None);
        assert_eq!(unix_seconds(&json!(null)), None);
    }
}
