//! Media files downloaded from WhatsApp, by media id: downloaded once, then read from disk.

use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_core::Timestamp;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaFile {
    pub media_id: String,
    /// The file's name in `<data_dir>/media`.
    pub file_name: String,
    pub mime_type: String,
    pub sha256: String,
    pub size: u64,
}

pub fn get(conn: &Connection, media_id: &str) -> Result<Option<MediaFile>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT media_id, file_name, mime_type, sha256, size FROM media_files WHERE media_id = ?1",
        )?
        .query_row([media_id], |r| {
            Ok(MediaFile {
                media_id: r.get(0)?,
                file_name: r.get(1)?,
                mime_type: r.get(2)?,
                sha256: r.get(3)?,
                size: r.get(4)?,
            })
        })
        .optional()?)
}

/// Records a download (replacing an earlier record whose file had gone missing).
pub fn record(conn: &Connection, file: &MediaFile, now: Timestamp) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO media_files (media_id, file_name, mime_type, sha256, size, downloaded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (media_id) DO UPDATE SET file_name = excluded.file_name, mime_type = excluded.mime_type,
             sha256 = excluded.sha256, size = excluded.size, downloaded_at = excluded.downloaded_at",
    )?
    .execute(params![
        file.media_id,
        file.file_name,
        file.mime_type,
        file.sha256,
        file.size as i64,
        now
    ])?;
    Ok(())
}
