//! Media customers send (images, voice notes, documents…), fetched from WhatsApp on demand.
//!
//! A webhook carries only a media id. The first time an operator opens the media, the
//! Graph API is asked for a short-lived URL and the bytes are fetched with the bearer token
//! (`switchboard_whatsapp::graph::download`): the declared type must be one of
//! `whatsapp.media_types`, the size at most `whatsapp.media_max_bytes`, and the bytes must
//! match the declared size and SHA-256 before the file appears under its final name in
//! `<data_dir>/media`. The file is then recorded in `media_files`, so every later request is
//! served from disk without calling Graph. Concurrent first requests for one media id
//! download it once.
//!
//! What a browser may show inline is decided here, not by the declared type alone: only a
//! raster image whose bytes really are that image (magic numbers checked) is inline; any
//! other file is served as an attachment, so a hostile "image" cannot run in the console.

use crate::{ChannelMode, Engine, EngineError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use switchboard_core::ids::MessageId;
use switchboard_store::queries::{media, messages};
use switchboard_whatsapp::graph::client::MediaError;
use tokio::io::AsyncReadExt;

/// Types a browser may render inline, when the bytes agree.
const INLINE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp", "image/gif"];

/// Message kinds that carry a media object.
const MEDIA_KINDS: &[&str] = &["image", "video", "audio", "document", "sticker"];

/// A downloaded media file, ready to be served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaFile {
    pub path: PathBuf,
    /// The type to serve it as.
    pub mime_type: String,
    pub size: u64,
    /// A safe name for saving it: the customer's file name for documents, else one made up.
    pub file_name: String,
    /// A raster image whose bytes match its type: safe to show inline.
    pub inline: bool,
}

/// One download per media id at a time.
#[derive(Default)]
pub(crate) struct MediaState {
    downloads: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl MediaState {
    fn lock_for(&self, media_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut downloads = self.downloads.lock().unwrap_or_else(|e| e.into_inner());
        downloads.retain(|_, lock| lock.strong_count() > 0);
        if let Some(lock) = downloads.get(media_id).and_then(Weak::upgrade) {
            return lock;
        }
        let lock = Arc::new(tokio::sync::Mutex::new(()));
        downloads.insert(media_id.to_owned(), Arc::downgrade(&lock));
        lock
    }
}

/// The media object of a stored message.
struct MediaRef {
    id: String,
    kind: String,
    filename: Option<String>,
}

fn media_ref(message: MessageId, source: &messages::MediaSource) -> Result<MediaRef, EngineError> {
    let none = || EngineError::NotFound(format!("message {} has no media", message.0));
    if !MEDIA_KINDS.contains(&source.kind.as_str()) {
        return Err(none());
    }
    let id = source.content["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(none)?;
    Ok(MediaRef {
        id: id.to_owned(),
        kind: source.kind.clone(),
        filename: source.content["filename"].as_str().map(str::to_owned),
    })
}

fn media_error(e: MediaError, max_bytes: u64) -> EngineError {
    match e {
        MediaError::Expired { .. } => EngineError::NotFound(
            "WhatsApp no longer has this media: media ids expire some days after the message".into(),
        ),
        MediaError::InvalidMediaId => {
            EngineError::Invalid("the message's media id is not a valid Graph API id".into())
        }
        MediaError::MimeNotAllowed { mime_type } => EngineError::Invalid(format!(
            "media of type {} is not downloaded; whatsapp.media_types lists the types that are",
            mime_type.as_deref().unwrap_or("(none declared)")
        )),
        MediaError::TooLarge { seen, .. } => EngineError::Invalid(format!(
            "the media ({seen} bytes or more) is larger than whatsapp.media_max_bytes ({max_bytes} bytes)"
        )),
        MediaError::Io { detail } => {
            EngineError::Unavailable(format!("cannot store the media in the data directory: {detail}"))
        }
        e @ (MediaError::SizeMismatch { .. } | MediaError::ChecksumMismatch { .. }) => {
            EngineError::Upstream(format!("the media arrived damaged ({e}); try again"))
        }
        e @ (MediaError::Lookup(_) | MediaError::Download(_) | MediaError::InsecureUrl) => {
            EngineError::Upstream(format!("WhatsApp did not provide the media: {e}"))
        }
    }
}

/// A file name that is safe in a header and on any file system.
fn safe_file_name(wanted: Option<&str>, fallback: &str) -> String {
    let cleaned: String = wanted
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | '"'))
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(120)
        .collect();
    if cleaned.is_empty() {
        fallback.to_owned()
    } else {
        cleaned
    }
}

impl Engine {
    /// Where downloaded media is kept.
    pub fn media_dir(&self) -> PathBuf {
        self.data_dir().join("media")
    }

    /// The media of message `id`: from disk when it was downloaded before, else fetched
    /// from WhatsApp now, checked and kept.
    pub async fn message_media(&self, id: MessageId) -> Result<MediaFile, EngineError> {
        let source = self
            .store()
            .read(move |c| messages::media_source(c, id))
            .await?;
        let reference = media_ref(id, &source)?;
        let sandbox = self.mode() == ChannelMode::Sandbox;
        if source.sandbox != sandbox {
            return Err(EngineError::Conflict(format!(
                "message {} came from {}; its media is only available in that mode",
                id.0,
                if source.sandbox {
                    "the sandbox"
                } else {
                    "the live WhatsApp number"
                }
            )));
        }
        if let Some(file) = self.cached_media(id, &reference).await? {
            return Ok(file);
        }
        let lock = self.inner.media.lock_for(&reference.id);
        let _one_download = lock.lock().await;
        // Another request may have downloaded it while this one waited.
        if let Some(file) = self.cached_media(id, &reference).await? {
            return Ok(file);
        }
        let client = self.graph_client().ok_or_else(|| {
            EngineError::Upstream(
                "the WhatsApp connection is not ready yet; try again in a moment".into(),
            )
        })?;
        let config = &self.config().whatsapp;
        let allowed: Vec<&str> = config.media_types.iter().map(String::as_str).collect();
        let downloaded = client
            .download_media(
                &reference.id,
                config.media_max_bytes,
                &allowed,
                &self.media_dir(),
            )
            .await
            .map_err(|e| media_error(e, config.media_max_bytes))?;
        let file_name = downloaded
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let row = media::MediaFile {
            media_id: reference.id.clone(),
            file_name,
            mime_type: downloaded.mime_type,
            sha256: downloaded.sha256,
            size: downloaded.size,
        };
        let now = self.now_ms();
        let recorded = row.clone();
        self.store()
            .write(move |c| media::record(c, &recorded, now))
            .await?;
        tracing::info!(message = id.0, media_id = %row.media_id, size = row.size, "media downloaded");
        self.serve_file(id, &reference, &row).await
    }

    /// The media from disk, if it was downloaded before and its file is still there.
    async fn cached_media(
        &self,
        id: MessageId,
        reference: &MediaRef,
    ) -> Result<Option<MediaFile>, EngineError> {
        let media_id = reference.id.clone();
        let Some(row) = self.store().read(move |c| media::get(c, &media_id)).await? else {
            return Ok(None);
        };
        match tokio::fs::metadata(self.media_dir().join(&row.file_name)).await {
            Ok(meta) if meta.len() == row.size => {
                self.serve_file(id, reference, &row).await.map(Some)
            }
            // Removed or altered behind our back: download it again.
            _ => Ok(None),
        }
    }

    async fn serve_file(
        &self,
        id: MessageId,
        reference: &MediaRef,
        row: &media::MediaFile,
    ) -> Result<MediaFile, EngineError> {
        let path = self.media_dir().join(&row.file_name);
        let mime_type = row
            .mime_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let inline = INLINE_TYPES.contains(&mime_type.as_str())
            && sniff(&path).await.as_deref() == Some(mime_type.as_str());
        let extension = row.file_name.rsplit_once('.').map_or("bin", |(_, e)| e);
        let fallback = format!("{}-{}.{extension}", reference.kind, id.0);
        Ok(MediaFile {
            path,
            mime_type: if mime_type.is_empty() {
                "application/octet-stream".into()
            } else {
                mime_type
            },
            size: row.size,
            file_name: safe_file_name(reference.filename.as_deref(), &fallback),
            inline,
        })
    }
}

/// The type the file's first bytes say it is.
async fn sniff(path: &std::path::Path) -> Option<String> {
    let mut file = tokio::fs::File::open(path).await.ok()?;
    let mut head = [0u8; 64];
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..]).await.ok()? {
            0 => break,
            n => read += n,
        }
    }
    infer::get(&head[..read]).map(|t| t.mime_type().to_owned())
}

#[cfg(test)]
mod tests {
    use super::safe_file_name;

    #[test]
    fn file_names_cannot_escape_or_break_headers() {
        assert_eq!(safe_file_name(Some("factura.pdf"), "x"), "factura.pdf");
        assert_eq!(safe_file_name(Some("../../etc/passwd"), "x"), "etcpasswd");
        assert_eq!(safe_file_name(Some("a\"b\r\nc.pdf"), "x"), "abc.pdf");
        assert_eq!(
            safe_file_name(Some("  "), "document-4.pdf"),
            "document-4.pdf"
        );
        assert_eq!(safe_file_name(None, "image-3.jpeg"), "image-3.jpeg");
    }
}
