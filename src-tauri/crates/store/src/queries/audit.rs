//! The audit trail: append-only, hash-chained.
//!
//! Each record's hash covers its own fields and the previous record's hash, so changing or
//! deleting any record breaks the chain at that point. Triggers refuse UPDATE and DELETE;
//! the chain catches what bypasses them (another tool editing the file).

use super::clamp_limit;
use crate::model::{ActorKind, AuditRecord, Page};
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use sha2::{Digest, Sha256};
use switchboard_core::ids::{ActionId, AuditId, ConversationId, RunId};
use switchboard_core::Timestamp;

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub struct NewAuditEvent<'a> {
    pub actor_kind: ActorKind,
    pub actor: &'a str,
    pub kind: &'a str,
    pub conversation_id: Option<ConversationId>,
    pub run_id: Option<RunId>,
    pub action_id: Option<ActionId>,
    pub detail: serde_json::Value,
}

const COLUMNS: &str =
    "id, at, actor_kind, actor, kind, conversation_id, run_id, action_id, detail, prev_hash, hash";

fn from_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    let detail: String = row.get(8)?;
    Ok(AuditRecord {
        id: AuditId(row.get(0)?),
        at: row.get(1)?,
        actor_kind: row.get(2)?,
        actor: row.get(3)?,
        kind: row.get(4)?,
        conversation_id: row.get::<_, Option<i64>>(5)?.map(ConversationId),
        run_id: row.get::<_, Option<i64>>(6)?.map(RunId),
        action_id: row.get::<_, Option<i64>>(7)?.map(ActionId),
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
        prev_hash: row.get(9)?,
        hash: row.get(10)?,
    })
}

/// The hash of a record: SHA-256 over the previous hash and a canonical JSON array of the
/// record's fields (including its id, so a deleted record leaves a detectable gap).
#[allow(clippy::too_many_arguments)]
fn record_hash(
    prev_hash: &str,
    id: i64,
    at: Timestamp,
    actor_kind: &str,
    actor: &str,
    kind: &str,
    conversation_id: Option<i64>,
    run_id: Option<i64>,
    action_id: Option<i64>,
    detail: &str,
) -> String {
    let canonical = serde_json::json!([
        id,
        at,
        actor_kind,
        actor,
        kind,
        conversation_id,
        run_id,
        action_id,
        detail
    ]);
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// Appends one record. Must run on the writer (inside its transaction), which serialises
/// appends so the chain cannot fork.
pub fn append(
    conn: &Connection,
    event: &NewAuditEvent<'_>,
    now: Timestamp,
) -> Result<AuditRecord, StoreError> {
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (id, prev_hash) = match last {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS_HASH.to_string()),
    };
    let detail = event.detail.to_string();
    let hash = record_hash(
        &prev_hash,
        id,
        now,
        event.actor_kind.as_str(),
        event.actor,
        event.kind,
        event.conversation_id.map(|c| c.0),
        event.run_id.map(|r| r.0),
        event.action_id.map(|a| a.0),
        &detail,
    );
    conn.execute(
        "INSERT INTO audit_events (id, at, actor_kind, actor, kind, conversation_id, run_id, action_id, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            id,
            now,
            event.actor_kind,
            event.actor,
            event.kind,
            event.conversation_id.map(|c| c.0),
            event.run_id.map(|r| r.0),
            event.action_id.map(|a| a.0),
            detail,
            prev_hash,
            hash
        ],
    )?;
    Ok(AuditRecord {
        id: AuditId(id),
        at: now,
        actor_kind: event.actor_kind,
        actor: event.actor.to_string(),
        kind: event.kind.to_string(),
        conversation_id: event.conversation_id,
        run_id: event.run_id,
        action_id: event.action_id,
        detail: event.detail.clone(),
        prev_hash,
        hash,
    })
}

#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub conversation_id: Option<ConversationId>,
    pub action_id: Option<ActionId>,
    pub actor: Option<String>,
    pub kind: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Newest first.
pub fn list(conn: &Connection, filter: &AuditFilter) -> Result<Page<AuditRecord>, StoreError> {
    let limit = clamp_limit(filter.limit);
    let before: i64 = filter
        .cursor
        .as_deref()
        .and_then(|c| c.parse().ok())
        .unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM audit_events
         WHERE (?1 IS NULL OR conversation_id = ?1) AND (?2 IS NULL OR action_id = ?2)
           AND (?3 IS NULL OR actor = ?3) AND (?4 IS NULL OR kind = ?4)
           AND (?5 IS NULL OR at >= ?5) AND (?6 IS NULL OR at < ?6) AND id < ?7
         ORDER BY id DESC LIMIT ?8"
    ))?;
    let mut items = stmt
        .query_map(
            params![
                filter.conversation_id.map(|c| c.0),
                filter.action_id.map(|a| a.0),
                filter.actor,
                filter.kind,
                filter.since,
                filter.until,
                before,
                limit + 1
            ],
            from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|a| a.id.0.to_string())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// The result of walking the whole chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainStatus {
    Intact {
        records: u64,
    },
    /// The first record whose stored hash, link or position does not check out.
    Broken {
        record_id: i64,
        reason: String,
    },
}

pub fn verify(conn: &Connection) -> Result<ChainStatus, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit_events ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    let mut expected_prev = GENESIS_HASH.to_string();
    let mut expected_id = 1i64;
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let detail: String = row.get(8)?;
        let prev_hash: String = row.get(9)?;
        let hash: String = row.get(10)?;
        if id != expected_id {
            return Ok(ChainStatus::Broken {
                record_id: id,
                reason: format!("record {expected_id} is missing (deleted?)"),
            });
        }
        if prev_hash != expected_prev {
            return Ok(ChainStatus::Broken {
                record_id: id,
                reason: "its link to the previous record does not match".into(),
            });
        }
        let actor_kind: String = row.get(2)?;
        let recomputed = record_hash(
            &prev_hash,
            id,
            row.get(1)?,
            &actor_kind,
            &row.get::<_, String>(3)?,
            &row.get::<_, String>(4)?,
            row.get(5)?,
            row.get(6)?,
            row.get(7)?,
            &detail,
        );
        if recomputed != hash {
            return Ok(ChainStatus::Broken {
                record_id: id,
                reason: "its content does not match its hash (modified)".into(),
            });
        }
        expected_prev = hash;
        expected_id += 1;
        count += 1;
    }
    Ok(ChainStatus::Intact { records: count })
}
