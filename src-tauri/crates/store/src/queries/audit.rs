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
    /// The exact actor label, e.g. `operator:owner`.
    pub actor: Option<String>,
    /// Actor labels starting with this, e.g. `operator:3:` for every record of operator 3.
    pub actor_prefix: Option<String>,
    pub actor_kind: Option<ActorKind>,
    /// Records of these event kinds (the outcome), e.g. `action.approved`; empty means any.
    pub kinds: Vec<String>,
    /// Records about actions of this type, e.g. `reply`.
    pub action_kind: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// The WHERE clause every filtered read shares; parameters ?1 to ?9 in this order.
const FILTER: &str = "(?1 IS NULL OR conversation_id = ?1) AND (?2 IS NULL OR action_id = ?2)
   AND (?3 IS NULL OR actor = ?3)
   AND (?4 IS NULL OR substr(actor, 1, length(?4)) = ?4)
   AND (?5 IS NULL OR actor_kind = ?5)
   AND (?6 IS NULL OR kind IN (SELECT value FROM json_each(?6)))
   AND (?7 IS NULL OR action_id IN (SELECT id FROM actions WHERE kind = ?7))
   AND (?8 IS NULL OR at >= ?8) AND (?9 IS NULL OR at < ?9)";

impl AuditFilter {
    fn params(&self) -> [rusqlite::types::Value; 9] {
        use rusqlite::types::Value;
        let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::Text);
        let int = |v: Option<i64>| v.map_or(Value::Null, Value::Integer);
        [
            int(self.conversation_id.map(|c| c.0)),
            int(self.action_id.map(|a| a.0)),
            text(&self.actor),
            text(&self.actor_prefix),
            self.actor_kind
                .map_or(Value::Null, |k| Value::Text(k.as_str().into())),
            if self.kinds.is_empty() {
                Value::Null
            } else {
                Value::Text(serde_json::Value::from(self.kinds.clone()).to_string())
            },
            text(&self.action_kind),
            int(self.since),
            int(self.until),
        ]
    }
}

/// Newest first, `limit` at a time; the cursor is the id of the last record returned.
pub fn list(conn: &Connection, filter: &AuditFilter) -> Result<Page<AuditRecord>, StoreError> {
    let limit = clamp_limit(filter.limit);
    let before: i64 = filter
        .cursor
        .as_deref()
        .and_then(|c| c.parse().ok())
        .unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM audit_events WHERE {FILTER} AND id < ?10 ORDER BY id DESC LIMIT ?11"
    ))?;
    let [p1, p2, p3, p4, p5, p6, p7, p8, p9] = filter.params();
    let mut items = stmt
        .query_map(
            params![p1, p2, p3, p4, p5, p6, p7, p8, p9, before, limit + 1],
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

/// A record as stored, with `detail` as the exact JSON text its hash covers, so an export
/// can be checked offline with [`verify_records`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAuditRecord {
    pub id: i64,
    pub at: Timestamp,
    pub actor_kind: String,
    pub actor: String,
    pub kind: String,
    pub conversation_id: Option<i64>,
    pub run_id: Option<i64>,
    pub action_id: Option<i64>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

fn stored_from_row(row: &Row<'_>) -> rusqlite::Result<StoredAuditRecord> {
    Ok(StoredAuditRecord {
        id: row.get(0)?,
        at: row.get(1)?,
        actor_kind: row.get(2)?,
        actor: row.get(3)?,
        kind: row.get(4)?,
        conversation_id: row.get(5)?,
        run_id: row.get(6)?,
        action_id: row.get(7)?,
        detail: row.get(8)?,
        prev_hash: row.get(9)?,
        hash: row.get(10)?,
    })
}

/// Oldest first (chain order), the records with an id in `(after, through]` that match
/// `filter` (its cursor and limit are ignored): one batch of an export.
pub fn export_batch(
    conn: &Connection,
    filter: &AuditFilter,
    after: i64,
    through: i64,
    batch: u32,
) -> Result<Vec<StoredAuditRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM audit_events WHERE {FILTER} AND id > ?10 AND id <= ?11 ORDER BY id LIMIT ?12"
    ))?;
    let [p1, p2, p3, p4, p5, p6, p7, p8, p9] = filter.params();
    let rows = stmt
        .query_map(
            params![
                p1,
                p2,
                p3,
                p4,
                p5,
                p6,
                p7,
                p8,
                p9,
                after,
                through,
                batch.max(1)
            ],
            stored_from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
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
    let rows = stmt.query_map([], stored_from_row)?;
    let mut chain = ChainCheck::from_genesis();
    for row in rows {
        if let Some(broken) = chain.check(&row?) {
            return Ok(broken);
        }
    }
    Ok(chain.status())
}

/// Checks a whole trail given in chain order, e.g. an unfiltered export read back from a
/// file: the same rules as [`verify`], without the database.
pub fn verify_records<'a>(records: impl IntoIterator<Item = &'a StoredAuditRecord>) -> ChainStatus {
    let mut chain = ChainCheck::from_genesis();
    for record in records {
        if let Some(broken) = chain.check(record) {
            return broken;
        }
    }
    chain.status()
}

/// The state of a walk along the chain: what the next record must link to.
struct ChainCheck {
    expected_prev: String,
    expected_id: i64,
    count: u64,
}

impl ChainCheck {
    fn from_genesis() -> Self {
        Self {
            expected_prev: GENESIS_HASH.to_string(),
            expected_id: 1,
            count: 0,
        }
    }

    /// `Some` with the reason when `record` breaks the chain.
    fn check(&mut self, record: &StoredAuditRecord) -> Option<ChainStatus> {
        let broken = |reason: String| {
            Some(ChainStatus::Broken {
                record_id: record.id,
                reason,
            })
        };
        if record.id != self.expected_id {
            return broken(format!("record {} is missing (deleted?)", self.expected_id));
        }
        if record.prev_hash != self.expected_prev {
            return broken("its link to the previous record does not match".into());
        }
        let recomputed = record_hash(
            &record.prev_hash,
            record.id,
            record.at,
            &record.actor_kind,
            &record.actor,
            &record.kind,
            record.conversation_id,
            record.run_id,
            record.action_id,
            &record.detail,
        );
        if recomputed != record.hash {
            return broken("its content does not match its hash (modified)".into());
        }
        self.expected_prev = record.hash.clone();
        self.expected_id += 1;
        self.count += 1;
        None
    }

    fn status(&self) -> ChainStatus {
        ChainStatus::Intact {
            records: self.count,
        }
    }
}
