//! Following one string field of a JSON document while the document is still being
//! streamed, so operators watch the customer-facing reply being written instead of braces
//! and keys.
//!
//! The reader is a byte-level state machine: chunks may split the input anywhere (inside
//! keys, escapes, `\uXXXX` surrogate pairs or multi-byte UTF-8 characters) and each
//! [`PartialJsonReader::feed`] returns only the newly decoded suffix of the target value.
//!
//! Robustness rules, since the input is model output:
//! - anything before the first `{` or `[` (prose, a Markdown fence) is skipped, and so is
//!   everything after the root value closes;
//! - a syntax error stops the reader (what was emitted stays emitted), it never panics;
//! - invalid UTF-8 and lone surrogates decode to U+FFFD.
//!
//! Memory is bounded regardless of input: the reader keeps the container stack (at most
//! [`MAX_DEPTH`] frames), the key or discriminator being read (at most [`MAX_KEY_BYTES`]),
//! and the target value (at most [`MAX_VALUE_BYTES`], further text is dropped and
//! [`PartialJsonReader::is_truncated`] reports it). Nothing else grows with the input.

use std::fmt;

/// Deeper nesting than this stops the reader.
pub const MAX_DEPTH: usize = 128;
/// Keys and discriminator values longer than this never match.
pub const MAX_KEY_BYTES: usize = 1024;
/// Cap on the target value kept (and emitted).
pub const MAX_VALUE_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    /// Any element of an array.
    Index,
}

/// Which string to follow: the value of `field` in objects found at a path, optionally
/// only in objects whose `discriminator` key has a given string value. The first matching
/// object in document order wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTarget {
    object_path: Vec<Segment>,
    field: String,
    discriminator: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid field path {path:?}: {reason}")]
pub struct TargetError {
    path: String,
    reason: &'static str,
}

impl FieldTarget {
    /// Parses a dotted path whose last segment is the field: `text` (root object),
    /// `reply.text`, `actions[].text` (objects inside the `actions` array), `[].text`
    /// (root array). Keys containing `.` or `[` cannot be expressed this way.
    pub fn parse(path: &str) -> Result<Self, TargetError> {
        let err = |reason| TargetError {
            path: path.to_string(),
            reason,
        };
        let parts: Vec<&str> = path.split('.').collect();
        let (field, containers) = parts.split_last().ok_or_else(|| err("empty path"))?;
        if field.is_empty() || field.contains('[') || field.contains(']') {
            return Err(err("the last segment must be a plain key"));
        }
        let mut object_path = Vec::new();
        for part in containers {
            let mut name = *part;
            let mut indexes = 0;
            while let Some(rest) = name.strip_suffix("[]") {
                name = rest;
                indexes += 1;
            }
            if name.contains('[') || name.contains(']') {
                return Err(err("only `[]` (any element) is supported"));
            }
            if !name.is_empty() {
                object_path.push(Segment::Key(name.to_string()));
            } else if indexes == 0 {
                return Err(err("empty segment"));
            } else if !object_path.is_empty() {
                // `a.[]` would be an array directly inside a key with no name.
                return Err(err("`[]` must follow a key or start the path"));
            }
            object_path.extend(std::iter::repeat_n(Segment::Index, indexes));
        }
        Ok(FieldTarget {
            object_path,
            field: field.to_string(),
            discriminator: None,
        })
    }

    /// Only objects whose `key` holds exactly the string `value` qualify.
    pub fn when(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.discriminator = Some((key.into(), value.into()));
        self
    }

    /// Switchboard's customer-facing reply: `text` of the first `actions[]` object whose
    /// `type` is `reply`.
    pub fn reply_text() -> Self {
        FieldTarget {
            object_path: vec![Segment::Key("actions".into()), Segment::Index],
            field: "text".into(),
            discriminator: Some(("type".into(), "reply".into())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Object: after `{` — a key or `}`.
    KeyOrEnd,
    /// Object: after `,` — a key (or `}`, tolerating a trailing comma).
    Key,
    Colon,
    /// Object: after `:`; array: after `,`.
    Value,
    /// Array: after `[`.
    ValueOrEnd,
    CommaOrEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disc {
    Unknown,
    Match,
    NoMatch,
}

/// State of an object that sits at the target path.
#[derive(Debug)]
struct Candidate {
    disc: Disc,
    /// The field's value, decoded while the discriminator was still unknown.
    pending: Option<String>,
    seen_field: bool,
}

#[derive(Debug)]
struct Frame {
    is_object: bool,
    expect: Expect,
    /// How many leading target path segments this container's position matches, or
    /// `None` once it diverged.
    level: Option<usize>,
    /// The last key read (objects only); `None` if it was too long to match anything.
    key: Option<String>,
    candidate: Option<Candidate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Key,
    Discriminator,
    /// The target value of an object whose discriminator already matched: emitted live.
    Live,
    /// The target value before the discriminator is known: buffered.
    Pending,
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Backslash,
    Unicode { digits: u8, value: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// Between tokens.
    Structural,
    Str {
        role: Role,
        escape: Escape,
    },
    /// Inside a number or literal; only its end matters.
    Scalar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    BeforeRoot,
    InRoot,
    /// The target value is complete (or the root closed): nothing more to read.
    Done,
    Failed,
}

/// See the module docs.
pub struct PartialJsonReader {
    target: FieldTarget,
    phase: Phase,
    lex: Lex,
    stack: Vec<Frame>,
    /// Decoded text of the current key / discriminator / pending value.
    scratch: String,
    scratch_overflow: bool,
    /// Raw bytes of the current string not yet decoded (an incomplete UTF-8 sequence).
    raw: Vec<u8>,
    high_surrogate: Option<u16>,
    value: String,
    found: bool,
    complete: bool,
    truncated: bool,
    error: Option<&'static str>,
}

impl fmt::Debug for PartialJsonReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartialJsonReader")
            .field("phase", &self.phase)
            .field("depth", &self.stack.len())
            .field("value_len", &self.value.len())
            .field("complete", &self.complete)
            .finish()
    }
}

impl PartialJsonReader {
    pub fn new(target: FieldTarget) -> Self {
        PartialJsonReader {
            target,
            phase: Phase::BeforeRoot,
            lex: Lex::Structural,
            stack: Vec::new(),
            scratch: String::new(),
            scratch_overflow: false,
            raw: Vec::new(),
            high_surrogate: None,
            value: String::new(),
            found: false,
            complete: false,
            truncated: false,
            error: None,
        }
    }

    /// Reads a complete (or truncated) document at once; `Some` only if the target value
    /// was found and closed.
    pub fn extract(target: FieldTarget, document: &str) -> Option<String> {
        let mut reader = PartialJsonReader::new(target);
        reader.feed(document);
        reader.complete.then(|| reader.into_value())
    }

    /// Feeds the next chunk and returns the text appended to the target value by it
    /// (empty if none).
    pub fn feed(&mut self, chunk: impl AsRef<[u8]>) -> String {
        let before = self.value.len();
        for &byte in chunk.as_ref() {
            if matches!(self.phase, Phase::Done | Phase::Failed) {
                break;
            }
            self.step(byte);
        }
        // Publish whatever complete characters the chunk ended with, so the operator
        // never waits for the next chunk to see text that already arrived.
        if matches!(
            self.lex,
            Lex::Str {
                role: Role::Live,
                ..
            }
        ) {
            self.decode_raw(false);
        }
        self.value.get(before..).unwrap_or_default().to_string()
    }

    /// The target value decoded so far.
    pub fn value(&self) -> &str {
        &self.value
    }

    pub fn into_value(self) -> String {
        self.value
    }

    /// Whether a qualifying object's field was found (its value may still be streaming).
    pub fn is_found(&self) -> bool {
        self.found
    }

    /// Whether the target value's closing quote was read.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Whether the value exceeded [`MAX_VALUE_BYTES`] and was cut.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Why the reader stopped early, if the document was not valid JSON.
    pub fn error(&self) -> Option<&'static str> {
        self.error
    }

    fn fail(&mut self, reason: &'static str) {
        self.phase = Phase::Failed;
        self.error = Some(reason);
    }

    fn step(&mut self, byte: u8) {
        match self.lex {
            Lex::Str { role, escape } => self.string_byte(role, escape, byte),
            Lex::Scalar => {
                if byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.') {
                    return;
                }
                self.lex = Lex::Structural;
                self.value_done();
                self.structural(byte);
            }
            Lex::Structural => self.structural(byte),
        }
    }

    fn structural(&mut self, byte: u8) {
        if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            return;
        }
        if self.phase == Phase::BeforeRoot {
            if matches!(byte, b'{' | b'[') {
                self.phase = Phase::InRoot;
                self.push(byte == b'{', Some(0));
            }
            return;
        }
        let Some(top) = self.stack.last() else {
            return;
        };
        let (is_object, expect) = (top.is_object, top.expect);
        match (byte, expect) {
            (b'"', Expect::KeyOrEnd | Expect::Key) if is_object => {
                self.start_string(Role::Key);
            }
            (b'}', Expect::KeyOrEnd | Expect::Key | Expect::CommaOrEnd) if is_object => {
                self.pop();
            }
            (b']', Expect::ValueOrEnd | Expect::Value | Expect::CommaOrEnd) if !is_object => {
                self.pop();
            }
            (b':', Expect::Colon) => self.set_expect(Expect::Value),
            (b',', Expect::CommaOrEnd) => {
                self.set_expect(if is_object {
                    Expect::Key
                } else {
                    Expect::Value
                });
            }
            (_, Expect::Value | Expect::ValueOrEnd) => self.start_value(byte),
            _ => self.fail("unexpected character"),
        }
    }

    fn set_expect(&mut self, expect: Expect) {
        if let Some(top) = self.stack.last_mut() {
            top.expect = expect;
        }
    }

    /// The level a value at the current position of the top container would have.
    fn child_level(&self) -> Option<usize> {
        let top = self.stack.last()?;
        let level = top.level?;
        let segment = self.target.object_path.get(level)?;
        let matches = match segment {
            Segment::Index => !top.is_object,
            Segment::Key(k) => top.is_object && top.key.as_deref() == Some(k.as_str()),
        };
        matches.then_some(level + 1)
    }

    /// What the value now starting means to the candidate object it is in, if any.
    fn field_role(&self) -> Option<Role> {
        let top = self.stack.last()?;
        let candidate = top.candidate.as_ref()?;
        let key = top.key.as_deref()?;
        if key == self.target.field && !candidate.seen_field {
            return Some(match candidate.disc {
                Disc::Match => Role::Live,
                Disc::Unknown => Role::Pending,
                Disc::NoMatch => Role::Skip,
            });
        }
        match &self.target.discriminator {
            Some((k, _)) if k == key && candidate.disc == Disc::Unknown => {
                Some(Role::Discriminator)
            }
            _ => None,
        }
    }

    fn start_value(&mut self, byte: u8) {
        let role = self.field_role();
        match byte {
            b'{' | b'[' => {
                self.mark_non_string(role);
                let level = self.child_level();
                self.push(byte == b'{', level);
            }
            b'"' => self.start_string(role.unwrap_or(Role::Skip)),
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                self.mark_non_string(role);
                self.lex = Lex::Scalar;
            }
            _ => self.fail("unexpected character"),
        }
    }

    /// A non-string where the field or discriminator was expected.
    fn mark_non_string(&mut self, role: Option<Role>) {
        let Some(candidate) = self.stack.last_mut().and_then(|f| f.candidate.as_mut()) else {
            return;
        };
        match role {
            Some(Role::Discriminator) => candidate.disc = Disc::NoMatch,
            Some(Role::Live | Role::Pending) => candidate.seen_field = true,
            _ => {}
        }
    }

    fn push(&mut self, is_object: bool, level: Option<usize>) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail("nesting too deep");
            return;
        }
        let is_candidate = is_object && !self.found && level == Some(self.target.object_path.len());
        self.stack.push(Frame {
            is_object,
            expect: if is_object {
                Expect::KeyOrEnd
            } else {
                Expect::ValueOrEnd
            },
            level,
            key: None,
            candidate: is_candidate.then(|| Candidate {
                disc: if self.target.discriminator.is_some() {
                    Disc::Unknown
                } else {
                    Disc::Match
                },
                pending: None,
                seen_field: false,
            }),
        });
    }

    fn pop(&mut self) {
        // A candidate closing with its discriminator unresolved did not qualify; its
        // pending value is dropped with it.
        self.stack.pop();
        if self.stack.is_empty() {
            self.phase = Phase::Done;
        } else {
            self.value_done();
        }
    }

    /// A value finished in the top container.
    fn value_done(&mut self) {
        self.set_expect(Expect::CommaOrEnd);
    }

    fn start_string(&mut self, role: Role) {
        self.scratch.clear();
        self.scratch_overflow = false;
        self.raw.clear();
        self.high_surrogate = None;
        if role == Role::Live {
            self.found = true;
        }
        if matches!(role, Role::Live | Role::Pending) {
            if let Some(c) = self.stack.last_mut().and_then(|f| f.candidate.as_mut()) {
                c.seen_field = true;
            }
        }
        self.lex = Lex::Str {
            role,
            escape: Escape::None,
        };
    }

    fn string_byte(&mut self, role: Role, escape: Escape, byte: u8) {
        if role == Role::Skip {
            // Only the closing quote matters; `\` protects the next byte from being one.
            self.lex = match (escape, byte) {
                (Escape::None, b'"') => {
                    self.lex = Lex::Structural;
                    self.end_string(role);
                    return;
                }
                (Escape::None, b'\\') => Lex::Str {
                    role,
                    escape: Escape::Backslash,
                },
                _ => Lex::Str {
                    role,
                    escape: Escape::None,
                },
            };
            return;
        }
        match escape {
            Escape::None => match byte {
                b'"' => {
                    self.decode_raw(true);
                    self.flush_surrogate();
                    self.lex = Lex::Structural;
                    self.end_string(role);
                }
                b'\\' => {
                    self.decode_raw(true);
                    self.lex = Lex::Str {
                        role,
                        escape: Escape::Backslash,
                    };
                }
                _ => {
                    if self.high_surrogate.is_some() {
                        self.flush_surrogate();
                    }
                    self.raw.push(byte);
                    // Decode in small batches so `raw` stays tiny whatever the string length.
                    if self.raw.len() >= 64 {
                        self.decode_raw(false);
                    }
                }
            },
            Escape::Backslash => {
                let decoded = match byte {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        self.lex = Lex::Str {
                            role,
                            escape: Escape::Unicode {
                                digits: 0,
                                value: 0,
                            },
                        };
                        return;
                    }
                    _ => char::REPLACEMENT_CHARACTER,
                };
                self.flush_surrogate();
                self.push_char(role, decoded);
                self.lex = Lex::Str {
                    role,
                    escape: Escape::None,
                };
            }
            Escape::Unicode { digits, value } => {
                let Some(d) = (byte as char).to_digit(16) else {
                    // `\u12"`: not an escape after all; resume as if it ended here.
                    self.flush_surrogate();
                    self.push_char(role, char::REPLACEMENT_CHARACTER);
                    self.lex = Lex::Str {
                        role,
                        escape: Escape::None,
                    };
                    self.string_byte(role, Escape::None, byte);
                    return;
                };
                let value = (value << 4) | d as u16;
                if digits < 3 {
                    self.lex = Lex::Str {
                        role,
                        escape: Escape::Unicode {
                            digits: digits + 1,
                            value,
                        },
                    };
                    return;
                }
                self.lex = Lex::Str {
                    role,
                    escape: Escape::None,
                };
                self.code_unit(role, value);
            }
        }
    }

    fn code_unit(&mut self, role: Role, unit: u16) {
        match unit {
            0xD800..=0xDBFF => {
                self.flush_surrogate();
                self.high_surrogate = Some(unit);
            }
            0xDC00..=0xDFFF => match self.high_surrogate.take() {
                Some(high) => {
                    let c =
                        0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                    self.push_char(
                        role,
                        char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER),
                    );
                }
                None => self.push_char(role, char::REPLACEMENT_CHARACTER),
            },
            _ => {
                self.flush_surrogate();
                self.push_char(
                    role,
                    char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER),
                );
            }
        }
    }

    /// A high surrogate not followed by a low one is an unpaired surrogate.
    fn flush_surrogate(&mut self) {
        if self.high_surrogate.take().is_some() {
            if let Lex::Str { role, .. } = self.lex {
                self.push_char(role, char::REPLACEMENT_CHARACTER);
            }
        }
    }

    /// Decodes buffered raw bytes; with `final_` an incomplete trailing sequence becomes
    /// U+FFFD, otherwise it waits for the next byte.
    fn decode_raw(&mut self, final_: bool) {
        let Lex::Str { role, .. } = self.lex else {
            return;
        };
        if self.raw.is_empty() {
            return;
        }
        let raw = std::mem::take(&mut self.raw);
        let mut rest = &raw[..];
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    self.push_str(role, s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // `valid_up_to` guarantees this prefix is UTF-8, so this never fails.
                    self.push_str(role, std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            self.push_char(role, char::REPLACEMENT_CHARACTER);
                            rest = after.get(n..).unwrap_or_default();
                        }
                        None if final_ => {
                            self.push_char(role, char::REPLACEMENT_CHARACTER);
                            rest = &[];
                            break;
                        }
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        let keep = rest.len();
        let mut raw = raw;
        raw.drain(..raw.len() - keep);
        self.raw = raw;
    }

    fn push_char(&mut self, role: Role, c: char) {
        let mut buf = [0u8; 4];
        self.push_str(role, c.encode_utf8(&mut buf));
    }

    fn push_str(&mut self, role: Role, s: &str) {
        if s.is_empty() {
            return;
        }
        let (dest, cap) = match role {
            Role::Live => (&mut self.value, MAX_VALUE_BYTES),
            Role::Pending => (&mut self.scratch, MAX_VALUE_BYTES),
            Role::Key | Role::Discriminator => (&mut self.scratch, MAX_KEY_BYTES),
            Role::Skip => return,
        };
        let room = cap.saturating_sub(dest.len());
        if s.len() <= room {
            dest.push_str(s);
            return;
        }
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        dest.push_str(&s[..cut]);
        match role {
            Role::Live | Role::Pending => self.truncated = true,
            _ => self.scratch_overflow = true,
        }
    }

    fn end_string(&mut self, role: Role) {
        match role {
            Role::Key => {
                let key = (!self.scratch_overflow).then(|| std::mem::take(&mut self.scratch));
                if let Some(top) = self.stack.last_mut() {
                    top.key = key;
                    top.expect = Expect::Colon;
                }
                return;
            }
            Role::Live => {
                self.complete = true;
                self.phase = Phase::Done;
                return;
            }
            Role::Pending => {
                let pending = std::mem::take(&mut self.scratch);
                if let Some(c) = self.stack.last_mut().and_then(|f| f.candidate.as_mut()) {
                    c.pending = Some(pending);
                }
            }
            Role::Discriminator => {
                let expected = self.target.discriminator.as_ref().map(|(_, v)| v.as_str());
                let matched = !self.scratch_overflow && expected == Some(self.scratch.as_str());
                let mut release = None;
                if let Some(c) = self.stack.last_mut().and_then(|f| f.candidate.as_mut()) {
                    c.disc = if matched { Disc::Match } else { Disc::NoMatch };
                    if matched {
                        release = c.pending.take();
                    } else {
                        c.pending = None;
                    }
                }
                if let Some(text) = release {
                    // The field came before the discriminator: it is complete already.
                    self.found = true;
                    self.value = text;
                    self.complete = true;
                    self.phase = Phase::Done;
                    return;
                }
            }
            Role::Skip => {}
        }
        self.value_done();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_bytewise(target: FieldTarget, doc: &[u8]) -> (String, PartialJsonReader) {
        let mut reader = PartialJsonReader::new(target);
        let mut out = String::new();
        for b in doc {
            out.push_str(&reader.feed([*b]));
        }
        (out, reader)
    }

    #[test]
    fn path_parsing() {
        assert_eq!(
            FieldTarget::parse("actions[].text").unwrap(),
            FieldTarget {
                object_path: vec![Segment::Key("actions".into()), Segment::Index],
                field: "text".into(),
                discriminator: None,
            }
        );
        assert_eq!(
            FieldTarget::parse("[][].x").unwrap().object_path,
            vec![Segment::Index, Segment::Index]
        );
        assert_eq!(FieldTarget::parse("text").unwrap().object_path, vec![]);
        assert!(FieldTarget::parse("").is_err());
        assert!(FieldTarget::parse("a.").is_err());
        assert!(FieldTarget::parse("a[0].b").is_err());
        assert!(FieldTarget::parse("a.[].b").is_err());
    }

    #[test]
    fn discriminator_after_field_is_buffered() {
        let doc = r#"{"actions":[{"text":"no","type":"note"},{"text":"sí","type":"reply"}]}"#;
        let (out, reader) = feed_bytewise(FieldTarget::reply_text(), doc.as_bytes());
        assert_eq!(out, "sí");
        assert!(reader.is_complete());
    }

    #[test]
    fn decodes_escapes_and_surrogates() {
        let doc = r#"{"text":"a\"b\\c\/\n\t\u00e9\ud83c\udf89\ud800x\u12"}"#;
        let (out, _) = feed_bytewise(FieldTarget::parse("text").unwrap(), doc.as_bytes());
        assert_eq!(out, "a\"b\\c/\n\té🎉\u{FFFD}x\u{FFFD}");
    }

    #[test]
    fn caps_value() {
        let doc = format!(r#"{{"text":"{}"}}"#, "é".repeat(MAX_VALUE_BYTES));
        let out = PartialJsonReader::extract(FieldTarget::parse("text").unwrap(), &doc).unwrap();
        assert!(out.len() <= MAX_VALUE_BYTES && out.len() > MAX_VALUE_BYTES - 4);
    }
}
