//! What a pipeline run reads and writes.

use crate::model::ActionState;
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use switchboard_core::ids::{ActionId, ConversationId, MessageId, RunId};
use switchboard_core::Timestamp;

#[derive(Clone, Debug, PartialEq)]
pub struct ThreadMessage {
    pub id: MessageId,
    pub inbound: bool,
    pub text: String,
    pub created_at: Timestamp,
}

fn thread_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ThreadMessage> {
    let kind: String = r.get(3)?;
    let text: Option<String> = r.get(2)?;
    Ok(ThreadMessage {
        id: MessageId(r.get(0)?),
        inbound: r.get::<_, String>(1)? == "inbound",
        text: text.unwrap_or_else(|| format!("[{kind}]")),
        created_at: r.get(4)?,
    })
}

/// Inbound messages the AI has not covered yet, oldest first.
pub fn uncovered_inbound(
    conn: &Connection,
    conversation: ConversationId,
) -> Result<Vec<ThreadMessage>, StoreError> {
    // The bound is read first so the query is a range of the inbound index (a join
    // condition would scan every inbound message of a long conversation).
    let covered: i64 = conn
        .prepare_cached("SELECT ai_covered_message_id FROM conversations WHERE id = ?1")?
        .query_row([conversation.0], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, direction, text, kind, created_at FROM messages
         WHERE conversation_id = ?1 AND direction = 'inbound' AND id > ?2
         ORDER BY id",
    )?;
    let rows = stmt
        .query_map(params![conversation.0, covered], thread_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The messages before `before`, newest `limit`, returned oldest first.
pub fn history(
    conn: &Connection,
    conversation: ConversationId,
    before: MessageId,
    limit: u32,
) -> Result<Vec<ThreadMessage>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, direction, text, kind, created_at FROM messages
         WHERE conversation_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
    )?;
    let mut rows = stmt
        .query_map(params![conversation.0, before.0, limit], thread_row)?
        .collect::<Result<Vec<_>, _>>()?;
    rows.reverse();
    Ok(rows)
}

/// Conversations with inbound messages no run or human has covered, not held by a human.
pub fn conversations_needing_a_run(conn: &Connection) -> Result<Vec<ConversationId>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id FROM conversations c
         WHERE c.held_by_operator_id IS NULL AND c.state <> 'human'
           AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'inbound'
                       AND m.id > c.ai_covered_message_id)
         ORDER BY c.id",
    )?;
    let rows = stmt
        .query_map([], |r| Ok(ConversationId(r.get(0)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn set_covered(
    conn: &Connection,
    conversation: ConversationId,
    up_to: MessageId,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE conversations SET ai_covered_message_id = MAX(ai_covered_message_id, ?2) WHERE id = ?1",
        params![conversation.0, up_to.0],
    )?;
    Ok(())
}

/// Covers everything received so far: used when a human hands a conversation back.
pub fn cover_all(conn: &Connection, conversation: ConversationId) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE conversations SET ai_covered_message_id =
            MAX(ai_covered_message_id, COALESCE((SELECT max(id) FROM messages WHERE conversation_id = ?1 AND direction = 'inbound'), 0))
         WHERE id = ?1",
        [conversation.0],
    )?;
    Ok(())
}

pub fn latest_layer(conn: &Connection, layer: &str) -> Result<Option<(i64, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT version, content FROM context_layers WHERE layer = ?1 ORDER BY version DESC LIMIT 1",
            [layer],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Most words of a request one full-text query uses. Each term costs a pass over its list
/// of documents and a BM25 term for every document that has it, so without a cap a long
/// message costs in proportion to its length (and a word most documents contain adds cost
/// but almost nothing to the ranking).
pub const MAX_QUERY_TERMS: usize = 8;

/// The terms worth searching `table` (an FTS5 table) for, as an FTS5 query.
///
/// BM25 gives a term that half the documents or more contain no weight (FTS5 floors its
/// IDF), yet scoring it costs a pass over a long list of documents: such terms are left
/// out, and the rest are kept rarest first, at most [`MAX_QUERY_TERMS`]. When every word is
/// that common, the rarest one still decides what matches. `None` when no word occurs at all.
fn informative_query(
    conn: &Connection,
    table: &'static str,
    content: &'static str,
    text: &str,
) -> Result<Option<String>, StoreError> {
    let mut words: Vec<String> = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
    {
        let word = word.to_lowercase();
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    // Counting a term is cheap next to scoring it, but not free.
    words.truncate(MAX_QUERY_TERMS + MAX_QUERY_TERMS / 2);
    if words.is_empty() {
        return Ok(None);
    }
    let documents: i64 = conn
        // The content table: counting the FTS table itself would read every document.
        .prepare_cached(&format!("SELECT count(*) FROM {content}"))?
        .query_row([], |r| r.get(0))?;
    let mut counted = Vec::with_capacity(words.len());
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT count(*) FROM {table} WHERE {table} MATCH ?1"
    ))?;
    for word in words {
        let phrase = format!("\"{word}\"");
        let n: i64 = stmt.query_row([&phrase], |r| r.get(0))?;
        if n > 0 {
            counted.push((n, phrase));
        }
    }
    counted.sort_by_key(|(n, _)| *n);
    let mut terms: Vec<String> = counted
        .iter()
        .filter(|(n, _)| 2 * n < documents)
        .take(MAX_QUERY_TERMS)
        .map(|(_, p)| p.clone())
        .collect();
    if terms.is_empty() {
        terms.extend(counted.into_iter().take(1).map(|(_, p)| p));
    }
    Ok((!terms.is_empty()).then(|| terms.join(" OR ")))
}

/// The ids of the `k` best-ranked matches of `query` that `usable` accepts.
///
/// Ranks in the FTS index alone (rowid and rank, no document text), so the sort does not
/// carry every matching document's body; `candidates` is that query with the usability
/// flag, for a pool of `?2` best matches. The pool grows only when too few of it are
/// usable.
fn best_matches(
    conn: &Connection,
    candidates: &str,
    query: &str,
    k: u32,
) -> Result<Vec<i64>, StoreError> {
    let mut pool = (k * 8).max(40);
    loop {
        let mut stmt = conn.prepare_cached(candidates)?;
        let rows = stmt
            .query_map(params![query, pool], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let exhausted = (rows.len() as u32) < pool;
        let ids: Vec<i64> = rows
            .into_iter()
            .filter(|(_, usable)| *usable)
            .map(|(id, _)| id)
            .take(k as usize)
            .collect();
        if ids.len() as u32 >= k || exhausted {
            return Ok(ids);
        }
        pool = pool.saturating_mul(4);
    }
}

/// The `k` most relevant knowledge documents by BM25.
pub fn relevant_knowledge(
    conn: &Connection,
    text: &str,
    k: u32,
) -> Result<Vec<(String, String)>, StoreError> {
    let Some(query) = informative_query(conn, "knowledge_fts", "knowledge_documents", text)? else {
        return Ok(Vec::new());
    };
    let ids = best_matches(
        conn,
        "SELECT f.rowid, d.active = 1 FROM
            (SELECT rowid, rank FROM knowledge_fts WHERE knowledge_fts MATCH ?1 ORDER BY rank LIMIT ?2) f
         JOIN knowledge_documents d ON d.id = f.rowid ORDER BY f.rank",
        &query,
        k,
    )?;
    let mut stmt =
        conn.prepare_cached("SELECT title, body FROM knowledge_documents WHERE id = ?1")?;
    ids.into_iter()
        .map(|id| Ok(stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?))
        .collect()
}

/// The `k` most relevant approved (possibly edited) examples.
pub fn relevant_examples(
    conn: &Connection,
    text: &str,
    k: u32,
) -> Result<Vec<(String, String)>, StoreError> {
    let Some(query) = informative_query(conn, "examples_fts", "examples", text)? else {
        return Ok(Vec::new());
    };
    let ids = best_matches(
        conn,
        "SELECT f.rowid, e.label IN ('approved', 'edited') FROM
            (SELECT rowid, rank FROM examples_fts WHERE examples_fts MATCH ?1 ORDER BY rank LIMIT ?2) f
         JOIN examples e ON e.id = f.rowid ORDER BY f.rank",
        &query,
        k,
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT request_text, COALESCE(final, proposed) FROM examples WHERE id = ?1",
    )?;
    ids.into_iter()
        .map(|id| Ok(stmt.query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?))
        .collect()
}

pub fn session_variables(
    conn: &Connection,
    conversation: ConversationId,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, value FROM session_variables WHERE conversation_id = ?1 ORDER BY key",
    )?;
    let rows = stmt
        .query_map([conversation.0], |r| {
            let value: String = r.get(1)?;
            let shown = serde_json::from_str::<serde_json::Value>(&value)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or(value);
            Ok((r.get(0)?, shown))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn set_session_variable(
    conn: &Connection,
    conversation: ConversationId,
    key: &str,
    value: &str,
    set_by: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO session_variables (conversation_id, key, value, set_by, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (conversation_id, key) DO UPDATE SET value = excluded.value, set_by = excluded.set_by, updated_at = excluded.updated_at",
        params![conversation.0, key, serde_json::Value::String(value.into()).to_string(), set_by, now],
    )?;
    Ok(())
}

pub fn open_task_titles(
    conn: &Connection,
    conversation: ConversationId,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT title FROM tasks WHERE conversation_id = ?1 AND state = 'open' ORDER BY id",
    )?;
    let rows = stmt
        .query_map([conversation.0], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(rows)
}

pub fn past_escalations(
    conn: &Connection,
    conversation: ConversationId,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT reason, handback_note, taken_by FROM escalations WHERE conversation_id = ?1 AND state = 'resolved' ORDER BY id",
    )?;
    let rows = stmt
        .query_map([conversation.0], |r| {
            let reason: String = r.get(0)?;
            let note: Option<String> = r.get(1)?;
            let by: Option<String> = r.get(2)?;
            Ok(match note {
                Some(note) => format!(
                    "{reason} — handled by {}; note: {note}",
                    by.unwrap_or_else(|| "an operator".into())
                ),
                None => reason,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn templates(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, language FROM templates WHERE status = 'approved' ORDER BY name",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn operator_names(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT name, email FROM operators WHERE active = 1")?;
    let mut names = Vec::new();
    for row in stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })? {
        let (name, email) = row?;
        names.push(name);
        names.extend(email);
    }
    Ok(names)
}

pub fn start_run(
    conn: &Connection,
    conversation: ConversationId,
    triggers: &[MessageId],
    now: Timestamp,
) -> Result<RunId, StoreError> {
    let ids: Vec<i64> = triggers.iter().map(|m| m.0).collect();
    conn.execute(
        "INSERT INTO pipeline_runs (conversation_id, trigger_message_ids, state, started_at) VALUES (?1, ?2, 'running', ?3)",
        params![conversation.0, serde_json::to_string(&ids)?, now],
    )?;
    Ok(RunId(conn.last_insert_rowid()))
}

/// Runs left `running` by a crash: they failed; their messages are picked up again
/// because coverage did not advance.
pub fn fail_interrupted_runs(conn: &Connection, now: Timestamp) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE pipeline_runs SET state = 'failed', finished_at = ?1, error = 'interrupted by a restart' WHERE state IN ('queued', 'running')",
        [now],
    )?)
}

/// A context snapshot as stored: JSON texts, content-addressed by `hash`.
pub struct NewSnapshot<'a> {
    pub hash: &'a str,
    pub messages: &'a str,
    pub layer_tokens: &'a str,
    pub layer_versions: &'a str,
    pub model: Option<&'a str>,
    pub schema_version: u32,
    /// The four layers' texts (JSON object), when known.
    pub layers: Option<&'a str>,
}

/// Stores a snapshot once per content hash.
pub fn store_snapshot(
    conn: &Connection,
    snapshot: &NewSnapshot<'_>,
    now: Timestamp,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO context_snapshots (hash, messages, layer_tokens, layer_versions, model, schema_version, created_at, layers)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (hash) DO NOTHING",
        params![
            snapshot.hash,
            snapshot.messages,
            snapshot.layer_tokens,
            snapshot.layer_versions,
            snapshot.model,
            snapshot.schema_version,
            now,
            snapshot.layers
        ],
    )?;
    Ok(conn.query_row(
        "SELECT id FROM context_snapshots WHERE hash = ?1",
        [snapshot.hash],
        |r| r.get(0),
    )?)
}

/// Pending proposals of a conversation become `superseded`: the customer wrote again.
pub fn supersede_pending(
    conn: &Connection,
    conversation: ConversationId,
    by_run: Option<RunId>,
) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM actions WHERE conversation_id = ?1 AND state = 'pending'",
    )?;
    let ids = stmt
        .query_map([conversation.0], |r| r.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    conn.execute(
        "UPDATE actions SET state = 'superseded', superseded_by_run_id = ?2 WHERE conversation_id = ?1 AND state = 'pending'",
        params![conversation.0, by_run.map(|r| r.0)],
    )?;
    Ok(ids)
}

/// A run as recorded, for its audit view.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub id: RunId,
    pub conversation_id: ConversationId,
    pub state: String,
    pub tier: u8,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub guidance: Option<String>,
    pub trigger_message_ids: Vec<i64>,
    pub covered_message_id: Option<MessageId>,
    pub reasoning: Option<String>,
    pub confidence: Option<f64>,
    pub error: Option<String>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub context_snapshot_id: Option<i64>,
}

/// One call to a model within a run.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub tier: u8,
    pub provider: String,
    pub model: String,
    pub raw_output: Option<String>,
    /// The validation errors as stored (a JSON array), empty when the output was valid.
    pub validation_errors: Vec<Value>,
    pub error: Option<String>,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    pub tokens_estimated: bool,
    pub cost: Option<f64>,
    pub ttft_ms: Option<i64>,
    pub latency_ms: Option<i64>,
    pub started_at: Timestamp,
}

/// A stored context snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotRecord {
    pub id: i64,
    pub hash: String,
    /// The messages exactly as sent: `[{role, content}]`.
    pub messages: Value,
    /// `{system, domain, session, request}` texts; `None` for snapshots older than that column.
    pub layers: Option<Value>,
    pub layer_tokens: Value,
    pub layer_versions: Value,
    pub model: Option<String>,
    pub schema_version: u32,
}

/// An action a run proposed, with the policy's decision and what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunActionRecord {
    pub id: ActionId,
    pub kind: String,
    pub params: Value,
    pub state: ActionState,
    /// `{verdict, rule}` as the policy gave it.
    pub policy_decision: Option<Value>,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub decision_note: Option<String>,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub executed_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RunDetail {
    pub run: RunRecord,
    pub attempts: Vec<AttemptRecord>,
    pub snapshot: Option<SnapshotRecord>,
    pub actions: Vec<RunActionRecord>,
}

fn json_column(text: Option<String>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

pub fn run_record(conn: &Connection, id: RunId) -> Result<RunRecord, StoreError> {
    conn.query_row(
        "SELECT id, conversation_id, state, tier, provider, model, guidance, trigger_message_ids, covered_message_id,
                reasoning, confidence, error, started_at, finished_at, context_snapshot_id
         FROM pipeline_runs WHERE id = ?1",
        [id.0],
        |r| {
            let triggers: String = r.get(7)?;
            Ok(RunRecord {
                id: RunId(r.get(0)?),
                conversation_id: ConversationId(r.get(1)?),
                state: r.get(2)?,
                tier: r.get(3)?,
                provider: r.get(4)?,
                model: r.get(5)?,
                guidance: r.get(6)?,
                trigger_message_ids: serde_json::from_str(&triggers).unwrap_or_default(),
                covered_message_id: r.get::<_, Option<i64>>(8)?.map(MessageId),
                reasoning: r.get(9)?,
                confidence: r.get(10)?,
                error: r.get(11)?,
                started_at: r.get(12)?,
                finished_at: r.get(13)?,
                context_snapshot_id: r.get(14)?,
            })
        },
    )
    .optional()?
    .ok_or(StoreError::NotFound { what: "run", id: id.0 })
}

pub fn snapshot(conn: &Connection, id: i64) -> Result<SnapshotRecord, StoreError> {
    conn.query_row(
        "SELECT id, hash, messages, layers, layer_tokens, layer_versions, model, schema_version
         FROM context_snapshots WHERE id = ?1",
        [id],
        |r| {
            Ok(SnapshotRecord {
                id: r.get(0)?,
                hash: r.get(1)?,
                messages: json_column(r.get(2)?).unwrap_or(Value::Null),
                layers: json_column(r.get(3)?),
                layer_tokens: json_column(r.get(4)?).unwrap_or(Value::Null),
                layer_versions: json_column(r.get(5)?).unwrap_or(Value::Null),
                model: r.get(6)?,
                schema_version: r.get(7)?,
            })
        },
    )
    .optional()?
    .ok_or(StoreError::NotFound {
        what: "context snapshot",
        id,
    })
}

/// A run with its attempts, its snapshot and its actions.
pub fn run_detail(conn: &Connection, id: RunId) -> Result<RunDetail, StoreError> {
    let run = run_record(conn, id)?;
    let mut stmt = conn.prepare_cached(
        "SELECT attempt, tier, provider, model, raw_output, validation_errors, error, tokens_in, tokens_out,
                tokens_estimated, cost, ttft_ms, latency_ms, started_at
         FROM run_attempts WHERE run_id = ?1 ORDER BY attempt",
    )?;
    let attempts = stmt
        .query_map([id.0], |r| {
            Ok(AttemptRecord {
                attempt: r.get(0)?,
                tier: r.get(1)?,
                provider: r.get(2)?,
                model: r.get(3)?,
                raw_output: r.get(4)?,
                validation_errors: json_column(r.get(5)?)
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default(),
                error: r.get(6)?,
                tokens_in: r.get(7)?,
                tokens_out: r.get(8)?,
                tokens_estimated: r.get(9)?,
                cost: r.get(10)?,
                ttft_ms: r.get(11)?,
                latency_ms: r.get(12)?,
                started_at: r.get(13)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let snapshot = match run.context_snapshot_id {
        Some(sid) => Some(snapshot(conn, sid)?),
        None => None,
    };
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, params, state, policy_decision, decided_by, decided_at, decision_note, result, error,
                executed_at, created_at
         FROM actions WHERE run_id = ?1 ORDER BY id",
    )?;
    let actions = stmt
        .query_map([id.0], |r| {
            Ok(RunActionRecord {
                id: ActionId(r.get(0)?),
                kind: r.get(1)?,
                params: json_column(r.get(2)?).unwrap_or(Value::Null),
                state: r.get(3)?,
                policy_decision: json_column(r.get(4)?),
                decided_by: r.get(5)?,
                decided_at: r.get(6)?,
                decision_note: r.get(7)?,
                result: json_column(r.get(8)?),
                error: r.get(9)?,
                executed_at: r.get(10)?,
                created_at: r.get(11)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RunDetail {
        run,
        attempts,
        snapshot,
        actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_most_documents_contain_are_left_out_of_the_query() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE VIRTUAL TABLE knowledge_fts USING fts5 (title, body);")
            .unwrap();
        for i in 0..10 {
            let body = if i < 2 {
                "pedido devolución"
            } else {
                "pedido envío"
            };
            conn.execute(
                "INSERT INTO knowledge_fts (title, body) VALUES ('t', ?1)",
                [body],
            )
            .unwrap();
        }
        assert_eq!(
            informative_query(
                &conn,
                "knowledge_fts",
                "knowledge_fts",
                "pedido, devolución, zapatos"
            )
            .unwrap(),
            Some(r#""devolución""#.to_string()),
            "`pedido` is everywhere and `zapatos` nowhere"
        );
        assert_eq!(
            informative_query(&conn, "knowledge_fts", "knowledge_fts", "pedido envío").unwrap(),
            Some(r#""envío""#.to_string()),
            "all common: the rarest still decides"
        );
        assert_eq!(
            informative_query(&conn, "knowledge_fts", "knowledge_fts", "zapatos").unwrap(),
            None
        );
    }

    #[test]
    fn inactive_documents_are_skipped_even_when_they_rank_first() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE knowledge_documents (id INTEGER PRIMARY KEY, title TEXT, body TEXT, active INTEGER);
             CREATE VIRTUAL TABLE knowledge_fts USING fts5 (title, body, content = 'knowledge_documents', content_rowid = 'id');",
        )
        .unwrap();
        // 100 inactive documents that match best, then two active ones that match less.
        for i in 0..100 {
            conn.execute(
                "INSERT INTO knowledge_documents (title, body, active) VALUES (?1, 'cubre garantía cubre garantía', 0)",
                [format!("old {i}")],
            )
            .unwrap();
        }
        for title in ["current A", "current B"] {
            conn.execute(
                "INSERT INTO knowledge_documents (title, body, active) VALUES (?1, 'la garantía cubre un año de uso normal y defectos', 1)",
                [title],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO knowledge_fts (rowid, title, body) SELECT id, title, body FROM knowledge_documents",
            [],
        )
        .unwrap();
        let found = relevant_knowledge(&conn, "¿Qué cubre la garantía?", 5).unwrap();
        let titles: Vec<&str> = found.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(titles.len(), 2, "{titles:?}");
        assert!(
            titles.iter().all(|t| t.starts_with("current")),
            "{titles:?}"
        );
    }
}
