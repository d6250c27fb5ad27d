//! Action policies, versioned: every edit is a new version and the newest is in force.

use crate::model::PolicyVersion;
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_core::Timestamp;

fn from_row(row: &Row<'_>) -> rusqlite::Result<PolicyVersion> {
    let rules: String = row.get(1)?;
    Ok(PolicyVersion {
        version: row.get(0)?,
        rules: serde_json::from_str(&rules).unwrap_or(serde_json::Value::Null),
        author: row.get(2)?,
        created_at: row.get(3)?,
    })
}

pub fn latest(conn: &Connection) -> Result<Option<PolicyVersion>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT version, rules, author, created_at FROM policies ORDER BY version DESC LIMIT 1",
            [],
            from_row,
        )
        .optional()?)
}

/// Every version, newest first.
pub fn versions(conn: &Connection) -> Result<Vec<PolicyVersion>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT version, rules, author, created_at FROM policies ORDER BY version DESC",
    )?;
    let rows = stmt
        .query_map([], from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Stores `rules` as the next version. Runs on the writer, so versions never collide.
pub fn insert(
    conn: &Connection,
    rules: &serde_json::Value,
    author: &str,
    now: Timestamp,
) -> Result<PolicyVersion, StoreError> {
    let version: i64 = conn.query_row(
        "SELECT COALESCE(max(version), 0) + 1 FROM policies",
        [],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO policies (version, rules, author, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![version, rules.to_string(), author, now],
    )?;
    Ok(PolicyVersion {
        version,
        rules: rules.clone(),
        author: author.to_string(),
        created_at: now,
    })
}
