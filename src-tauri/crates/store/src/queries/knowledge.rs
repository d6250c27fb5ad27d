//! The knowledge base: documents the domain layer quotes from, searched with FTS5.

use super::clamp_limit;
use crate::model::Page;
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_core::ids::DocumentId;
use switchboard_core::Timestamp;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub id: DocumentId,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "d.id, d.title, d.body, d.tags, d.created_at, d.updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Document> {
    let tags: String = row.get(3)?;
    Ok(Document {
        id: DocumentId(row.get(0)?),
        title: row.get(1)?,
        body: row.get(2)?,
        // The column is checked JSON written by `insert`/`update` only.
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

#[derive(Clone, Debug, Default)]
pub struct KnowledgeFilter {
    /// Words to search for in titles and bodies: every word must match, the last one also
    /// as a prefix (so results follow typing).
    pub query: Option<String>,
    pub tag: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// A search box's text as an FTS5 query: each word quoted (so no character of the input is
/// FTS syntax), all required, the last also matching as a prefix. `None` without words.
pub fn fts_all_of(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .collect();
    let last = words.len().checked_sub(1)?;
    Some(
        words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == last {
                    format!("\"{w}\"*")
                } else {
                    format!("\"{w}\"")
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Active documents. With a query: best match first, and the cursor is an offset into the
/// ranking. Without: newest first, and the cursor is the id of the last document returned.
pub fn list(conn: &Connection, filter: &KnowledgeFilter) -> Result<Page<Document>, StoreError> {
    let limit = clamp_limit(filter.limit);
    let text = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty());
    let mut items = match text {
        Some(text) => {
            let Some(query) = fts_all_of(text) else {
                return Ok(Page {
                    items: Vec::new(),
                    next_cursor: None,
                });
            };
            let offset: i64 = filter
                .cursor
                .as_deref()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0)
                .max(0);
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM knowledge_fts f JOIN knowledge_documents d ON d.id = f.rowid
                 WHERE knowledge_fts MATCH ?1 AND d.active = 1
                   AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(d.tags) WHERE value = ?2))
                 ORDER BY bm25(knowledge_fts), d.id LIMIT ?3 OFFSET ?4"
            ))?;
            let rows = stmt
                .query_map(params![query, filter.tag, limit + 1, offset], from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            let more = rows.len() as i64 > limit;
            let mut rows = rows;
            rows.truncate(limit as usize);
            return Ok(Page {
                next_cursor: more.then(|| (offset + limit).to_string()),
                items: rows,
            });
        }
        None => {
            let before: i64 = filter
                .cursor
                .as_deref()
                .and_then(|c| c.parse().ok())
                .unwrap_or(i64::MAX);
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM knowledge_documents d
                 WHERE d.active = 1 AND d.id < ?1
                   AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(d.tags) WHERE value = ?2))
                 ORDER BY d.id DESC LIMIT ?3"
            ))?;
            let rows = stmt
                .query_map(params![before, filter.tag, limit + 1], from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            rows
        }
    };
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|d| d.id.0.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// An active document.
pub fn get(conn: &Connection, id: DocumentId) -> Result<Document, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM knowledge_documents d WHERE d.id = ?1 AND d.active = 1"),
        [id.0],
        from_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound {
        what: "knowledge document",
        id: id.0,
    })
}

pub fn insert(
    conn: &Connection,
    title: &str,
    body: &str,
    tags: &[String],
    now: Timestamp,
) -> Result<Document, StoreError> {
    conn.execute(
        "INSERT INTO knowledge_documents (title, body, tags, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![title, body, serde_json::to_string(tags)?, now],
    )?;
    get(conn, DocumentId(conn.last_insert_rowid()))
}

pub fn update(
    conn: &Connection,
    id: DocumentId,
    title: &str,
    body: &str,
    tags: &[String],
    now: Timestamp,
) -> Result<Document, StoreError> {
    get(conn, id)?;
    conn.execute(
        "UPDATE knowledge_documents SET title = ?2, body = ?3, tags = ?4, updated_at = ?5 WHERE id = ?1",
        params![id.0, title, body, serde_json::to_string(tags)?, now],
    )?;
    get(conn, id)
}

/// Retires a document: it leaves the lists, search and the model's context, but the row
/// stays, so what a past run quoted can still be traced.
pub fn retire(conn: &Connection, id: DocumentId, now: Timestamp) -> Result<Document, StoreError> {
    let document = get(conn, id)?;
    conn.execute(
        "UPDATE knowledge_documents SET active = 0, updated_at = ?2 WHERE id = ?1",
        params![id.0, now],
    )?;
    Ok(document)
}
