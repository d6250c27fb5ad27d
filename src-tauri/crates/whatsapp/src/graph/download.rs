//! Media download (README section 6): look up a short-lived URL for a media id, fetch it
//! with the same Bearer token, and store it only once it is known to be what was declared.
//!
//! The bytes go to a temporary file in the destination directory while the size limit, the
//! declared size and the SHA-256 are checked; the file is renamed into place only when all
//! checks pass, so a reader never sees a partial or unverified file. On any failure the
//! temporary file is removed (it is a [`tempfile::TempPath`], deleted on drop).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use reqwest::Url;
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::io::AsyncWriteExt;

use super::client::{is_path_safe, read_capped, transport_error, GraphClient, SendError};
use super::types::GraphError;
use crate::media::MediaUrl;

/// An error body from the download host is small; more is not an error body.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A verified media file in the destination directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedMedia {
    /// Where it is: `{dest_dir}/{sha256}.{ext}`. Named by content, so the name cannot be
    /// steered by a sender and a repeated download lands on the same file.
    pub path: PathBuf,
    /// MIME type as declared by the lookup, e.g. `image/jpeg`.
    pub mime_type: String,
    /// SHA-256 of the stored bytes, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Which number showed a download to be too large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeSource {
    /// `file_size` of the lookup; nothing was downloaded.
    Declared,
    /// `Content-Length` of the download; nothing was read.
    ContentLength,
    /// The bytes received so far; the download was cut off.
    Received,
}

/// A media download that did not produce a verified file.
#[derive(Debug, Error)]
pub enum MediaError {
    /// The media id cannot be a Graph id (it would change the URL path).
    #[error("invalid media id")]
    InvalidMediaId,
    /// Error 100 with subcode 33: the id is unknown or expired (ids live 7 days).
    #[error("media id unknown or expired: {error}")]
    Expired {
        /// The Graph error.
        error: Box<GraphError>,
    },
    /// The URL lookup failed otherwise.
    #[error("media URL lookup failed: {0}")]
    Lookup(SendError),
    /// The lookup's URL is not HTTPS (or is not a URL); the token is not sent over it.
    #[error("media URL is not an HTTPS URL; refusing to send the token to it")]
    InsecureUrl,
    /// The declared MIME type is missing or not in the allowed list.
    #[error("media type {mime_type:?} is not allowed")]
    MimeNotAllowed {
        /// The declared type.
        mime_type: Option<String>,
    },
    /// Larger than the limit.
    #[error("media exceeds the {limit}-byte limit ({seen} bytes by {by:?})")]
    TooLarge {
        /// The limit.
        limit: u64,
        /// The size seen (for `Received`, at least this many bytes).
        seen: u64,
        /// Which number showed it.
        by: SizeSource,
    },
    /// The body size differs from the lookup's `file_size`.
    #[error("media size {received} differs from the declared {declared}")]
    SizeMismatch {
        /// `file_size` of the lookup.
        declared: u64,
        /// Bytes received (when more were sent than declared, the count at the cut-off).
        received: u64,
    },
    /// The body's SHA-256 differs from the declared one.
    #[error("media checksum mismatch")]
    ChecksumMismatch {
        /// As declared (hex or base64, as Meta sent it).
        declared: String,
        /// Of the received bytes, hex.
        actual: String,
    },
    /// The body download failed.
    #[error("media download failed: {0}")]
    Download(SendError),
    /// The file could not be written or moved into place.
    #[error("storing media failed: {detail}")]
    Io {
        /// The I/O error.
        detail: String,
    },
}

impl MediaError {
    /// Whether downloading again (with a fresh URL lookup) may succeed: transient transport
    /// and server failures, and a body that arrived corrupted.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Lookup(e) | Self::Download(e) => e
                .decision()
                .is_some_and(|d| d.is_retryable() && d != super::types::RetryDecision::ReauthOnce),
            Self::SizeMismatch { .. } | Self::ChecksumMismatch { .. } => true,
            _ => false,
        }
    }
}

fn io_error(e: std::io::Error) -> MediaError {
    MediaError::Io {
        detail: e.to_string(),
    }
}

/// Whether `mime` starts with one of `allowed` (case-insensitive). `""` allows everything;
/// an empty list allows nothing.
fn mime_allowed(mime: &str, allowed: &[&str]) -> bool {
    let mime = mime.trim().to_ascii_lowercase();
    allowed
        .iter()
        .any(|prefix| mime.starts_with(&prefix.trim().to_ascii_lowercase()))
}

/// The declared SHA-256 as lowercase hex. The lookup sends hex; webhooks send base64, so a
/// caller may pass either along.
fn declared_sha256_hex(declared: &str) -> Option<String> {
    let declared = declared.trim();
    if declared.len() == 64 && declared.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(declared.to_ascii_lowercase());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(declared)
        .ok()?;
    (bytes.len() == 32).then(|| hex::encode(bytes))
}

/// A file extension from a MIME subtype (`image/jpeg` → `jpeg`), or `bin` when the subtype
/// is not a short plain token.
fn extension_for(mime: &str) -> &str {
    let subtype = mime
        .split(';')
        .next()
        .and_then(|t| t.split('/').nth(1))
        .map(str::trim)
        .unwrap_or("");
    if !subtype.is_empty()
        && subtype.len() <= 10
        && subtype.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        subtype
    } else {
        "bin"
    }
}

impl GraphClient {
    /// Downloads media `media_id` into `dest_dir` (created if missing):
    /// `GET /{version}/{media-id}` → URL → `GET url`, both with the Bearer token.
    ///
    /// Refused before any body byte is read if the declared type does not start with one of
    /// `allowed_mime_prefixes` (e.g. `["image/", "audio/"]`; `[""]` allows all), or the
    /// declared size or `Content-Length` exceeds `max_bytes`. While streaming, stops as soon
    /// as more than `max_bytes` or more than the declared size arrives. At the end, the size
    /// must equal the declared one and the SHA-256 the declared one (when declared).
    pub async fn download_media(
        &self,
        media_id: &str,
        max_bytes: u64,
        allowed_mime_prefixes: &[&str],
        dest_dir: &Path,
    ) -> Result<DownloadedMedia, MediaError> {
        // The id comes from a webhook, i.e. from outside; it goes into the URL path.
        if !is_path_safe(media_id) {
            return Err(MediaError::InvalidMediaId);
        }
        let media = self.lookup_media(media_id).await?;

        let mime_type = match media.mime_type.as_deref() {
            Some(m) if mime_allowed(m, allowed_mime_prefixes) => m.trim().to_owned(),
            other => {
                return Err(MediaError::MimeNotAllowed {
                    mime_type: other.map(str::to_owned),
                })
            }
        };
        if media.file_size > max_bytes {
            return Err(MediaError::TooLarge {
                limit: max_bytes,
                seen: media.file_size,
                by: SizeSource::Declared,
            });
        }
        let url = self.media_download_url(&media.url)?;

        let mut response = self
            .get(url)
            .timeout(self.timeouts().download)
            .send()
            .await
            .map_err(|e| MediaError::Download(transport_error(e)))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let body = read_capped(response, MAX_ERROR_BODY)
                .await
                .map_err(MediaError::Download)?;
            let err = match self.decode::<serde_json::Value>(status, &body) {
                Err(e) => e,
                // A non-2xx is never a success; `decode` already says so, this is for the
                // type checker.
                Ok(_) => SendError::Undecodable {
                    status,
                    body_excerpt: self.excerpt(&body),
                },
            };
            return Err(MediaError::Download(err));
        }
        if let Some(length) = response.content_length() {
            if length > max_bytes {
                return Err(MediaError::TooLarge {
                    limit: max_bytes,
                    seen: length,
                    by: SizeSource::ContentLength,
                });
            }
        }

        tokio::fs::create_dir_all(dest_dir)
            .await
            .map_err(io_error)?;
        // Created in dest_dir so the final rename stays on one file system (atomic). Creating
        // it is one quick syscall, acceptable on the async thread.
        let (file, temp_path) = tempfile::Builder::new()
            .prefix(".media-")
            .suffix(".part")
            .tempfile_in(dest_dir)
            .map_err(io_error)?
            .into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = Sha256::new();
        let mut received: u64 = 0;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| MediaError::Download(transport_error(e)))?
        {
            received = received.saturating_add(chunk.len() as u64);
            // Checked before writing: an oversize body never reaches the disk beyond the
            // limit. Returning drops the response (closing the connection) and `temp_path`
            // (deleting the file).
            if received > max_bytes {
                return Err(MediaError::TooLarge {
                    limit: max_bytes,
                    seen: received,
                    by: SizeSource::Received,
                });
            }
            if received > media.file_size {
                return Err(MediaError::SizeMismatch {
                    declared: media.file_size,
                    received,
                });
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(io_error)?;
        }
        if received != media.file_size {
            return Err(MediaError::SizeMismatch {
                declared: media.file_size,
                received,
            });
        }
        let actual = hex::encode(hasher.finalize());
        if let Some(declared) = media.sha256.as_deref() {
            if declared_sha256_hex(declared).as_deref() != Some(actual.as_str()) {
                return Err(MediaError::ChecksumMismatch {
                    declared: declared.to_owned(),
                    actual,
                });
            }
        }
        file.flush().await.map_err(io_error)?;
        // Durable before it becomes visible under its final name.
        file.sync_all().await.map_err(io_error)?;
        drop(file);

        let path = dest_dir.join(format!("{actual}.{}", extension_for(&mime_type)));
        temp_path.persist(&path).map_err(|e| io_error(e.error))?;
        Ok(DownloadedMedia {
            path,
            mime_type,
            sha256: actual,
            size: received,
        })
    }

    /// Step 1: `GET /{version}/{media-id}`. Never cached: the URL lives about 5 minutes.
    pub async fn lookup_media(&self, media_id: &str) -> Result<MediaUrl, MediaError> {
        if !is_path_safe(media_id) {
            return Err(MediaError::InvalidMediaId);
        }
        let url = Url::parse(&self.lookup_url(media_id)).map_err(|_| MediaError::InvalidMediaId)?;
        let response = self
            .get(url)
            .send()
            .await
            .map_err(|e| MediaError::Lookup(transport_error(e)))?;
        let status = response.status().as_u16();
        let body = read_capped(response, MAX_ERROR_BODY)
            .await
            .map_err(MediaError::Lookup)?;
        self.decode::<MediaUrl>(status, &body).map_err(|e| match e {
            SendError::Api { error, .. }
                if error.code == 100 && error.error_subcode == Some(33) =>
            {
                MediaError::Expired { error }
            }
            other => MediaError::Lookup(other),
        })
    }

    /// The URL to fetch with the token. It must be HTTPS: the token must not cross the
    /// network in clear. The one exception is a plain-HTTP base URL (a loopback fake), whose
    /// own host may then serve media over HTTP too.
    fn media_download_url(&self, raw: &str) -> Result<Url, MediaError> {
        let url = Url::parse(raw).map_err(|_| MediaError::InsecureUrl)?;
        let base = self.base_url();
        let ok = match url.scheme() {
            "https" => url.host().is_some(),
            "http" => {
                base.scheme() == "http"
                    && url.host() == base.host()
                    && url.port_or_known_default() == base.port_or_known_default()
            }
            _ => false,
        };
        if ok {
            Ok(url)
        } else {
            Err(MediaError::InsecureUrl)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_prefixes() {
        assert!(mime_allowed("image/jpeg", &["image/"]));
        assert!(mime_allowed("IMAGE/JPEG", &["audio/", "image/"]));
        assert!(!mime_allowed("application/pdf", &["image/"]));
        assert!(mime_allowed("application/pdf", &[""]));
        assert!(!mime_allowed("image/png", &[]));
    }

    #[test]
    fn sha256_hex_or_base64() {
        let hex = "318c286647b30f88c642d38f8b810f4d148461e0f7d1b78aff4a14a50f664a8d";
        assert_eq!(declared_sha256_hex(hex).as_deref(), Some(hex));
        assert_eq!(
            declared_sha256_hex(&hex.to_ascii_uppercase()).as_deref(),
            Some(hex)
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(hex).expect("hex"));
        assert_eq!(declared_sha256_hex(&b64).as_deref(), Some(hex));
        assert_eq!(declared_sha256_hex("nonsense"), None);
    }

    #[test]
    fn extensions() {
        assert_eq!(extension_for("image/jpeg"), "jpeg");
        assert_eq!(extension_for("audio/ogg; codecs=opus"), "ogg");
        assert_eq!(extension_for("application/vnd.ms-excel"), "bin");
        assert_eq!(extension_for("weird"), "bin");
    }
}
