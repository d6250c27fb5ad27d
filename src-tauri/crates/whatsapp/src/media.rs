//! Media download, step 1: `GET /{version}/{media-id}` returns a short-lived URL.
//!
//! The URL lives about five minutes and must be fetched with the same Bearer token, so it is
//! looked up right before each download and never cached.

use serde::{Deserialize, Serialize};

use crate::serde_util::u64_from_str_or_number;

/// Response of the media URL lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaUrl {
    /// Download URL; `GET` it with `Authorization: Bearer <token>`.
    pub url: String,
    /// MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// SHA-256 of the file as Meta reports it.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Size in bytes (a string or a number on the wire); check it against the download cap
    /// before fetching.
    #[serde(deserialize_with = "u64_from_str_or_number")]
    pub file_size: u64,
    /// The media id.
    pub id: String,
    /// `whatsapp`.
    #[serde(default)]
    pub messaging_product: Option<String>,
}

/// URL of the lookup for `media_id`, e.g. `https://graph.facebook.com/v24.0/985370674324509`.
pub fn lookup_url(base: &str, version: &str, media_id: &str) -> String {
    format!("{}/{version}/{media_id}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_size_as_number_or_string() {
        for body in [
            r#"{"url":"u","file_size":12,"id":"1"}"#,
            r#"{"url":"u","file_size":"12","id":"1"}"#,
        ] {
            let m: Result<MediaUrl, _> = serde_json::from_str(body);
            assert_eq!(m.map(|m| m.file_size).ok(), Some(12));
        }
        let bad: Result<MediaUrl, _> =
            serde_json::from_str(r#"{"url":"u","file_size":"-1","id":"1"}"#);
        assert!(bad.is_err());
    }
}
