use super::{clamp_limit, contacts, parse_cursor};
use crate::model::{Contact, Conversation, ConversationState, Page};
use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension, Row};
use switchboard_core::ids::{ContactId, ConversationId, OperatorId};
use switchboard_core::Timestamp;

#[derive(Clone, Debug, Default)]
pub struct ConversationFilter {
    pub state: Option<ConversationState>,
    /// Full-text search over the conversation's messages, the contact's name and number.
    pub query: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

const COLUMNS: &str = "c.id, c.state, c.unread_count, c.last_message_at, c.last_message_preview,
     c.last_customer_message_at, c.held_by_operator_id, c.sandbox,
     ct.id, ct.phone_number_id, ct.wa_id, ct.user_id, ct.name, ct.sandbox";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Conversation> {
    let contact: Contact = contacts::from_row(row, 8)?;
    Ok(Conversation {
        id: ConversationId(row.get(0)?),
        state: row.get(1)?,
        unread_count: row.get(2)?,
        last_message_at: row.get(3)?,
        last_message_preview: row.get(4)?,
        last_customer_message_at: row.get(5)?,
        held_by_operator_id: row.get::<_, Option<i64>>(6)?.map(OperatorId),
        sandbox: row.get(7)?,
        contact,
    })
}

/// Newest activity first, keyset-paginated so deep pages stay fast.
pub fn list(
    conn: &Connection,
    filter: &ConversationFilter,
) -> Result<Page<Conversation>, StoreError> {
    let limit = clamp_limit(filter.limit);
    let (cursor_at, cursor_id) =
        parse_cursor(filter.cursor.as_deref()).unwrap_or((i64::MAX, i64::MAX));
    let fts = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(fts_phrase);
    let like = filter.query.as_deref().map(|q| format!("%{}%", q.trim()));
    let sql = format!(
        "SELECT {COLUMNS} FROM conversations c JOIN contacts ct ON ct.id = c.contact_id
         WHERE (?1 IS NULL OR c.state = ?1)
           AND (COALESCE(c.last_message_at, 0), c.id) < (?2, ?3)
           AND (?4 IS NULL
                OR ct.name LIKE ?5 OR ct.wa_id LIKE ?5
                OR c.id IN (SELECT m.conversation_id FROM messages_fts f JOIN messages m ON m.id = f.rowid
                            WHERE messages_fts MATCH ?4))
         ORDER BY COALESCE(c.last_message_at, 0) DESC, c.id DESC
         LIMIT ?6"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let items = stmt
        .query_map(
            params![filter.state, cursor_at, cursor_id, fts, like, limit + 1],
            from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(items, limit))
}

fn page(mut items: Vec<Conversation>, limit: i64) -> Page<Conversation> {
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items
            .last()
            .map(|c| format!("{}:{}", c.last_message_at.unwrap_or(0), c.id.0))
    } else {
        None
    };
    Page { items, next_cursor }
}

/// Customer text searched as one phrase, never as FTS syntax.
fn fts_phrase(query: &str) -> String {
    format!("\"{}\"", query.replace('"', "\"\""))
}

pub fn get(conn: &Connection, id: ConversationId) -> Result<Conversation, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM conversations c JOIN contacts ct ON ct.id = c.contact_id WHERE c.id = ?1"),
        [id.0],
        from_row,
    )
    .optional()?
    .ok_or(StoreError::NotFound {
        what: "conversation",
        id: id.0,
    })
}

/// The contact's conversation, created on first contact.
pub fn ensure_for_contact(
    conn: &Connection,
    contact: &Contact,
    now: Timestamp,
) -> Result<ConversationId, StoreError> {
    conn.execute(
        "INSERT INTO conversations (contact_id, phone_number_id, sandbox, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (contact_id) DO NOTHING",
        params![contact.id.0, contact.phone_number_id, contact.sandbox, now],
    )?;
    let id: i64 = conn.query_row(
        "SELECT id FROM conversations WHERE contact_id = ?1",
        [contact.id.0],
        |r| r.get(0),
    )?;
    Ok(ConversationId(id))
}

pub fn set_state(
    conn: &Connection,
    id: ConversationId,
    state: ConversationState,
    now: Timestamp,
) -> Result<(), StoreError> {
    let changed = conn.execute(
        "UPDATE conversations SET state = ?2, updated_at = ?3 WHERE id = ?1",
        params![id.0, state, now],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound {
            what: "conversation",
            id: id.0,
        });
    }
    Ok(())
}

/// Once nothing in a conversation waits for a decision, it stops showing "awaiting approval"
/// and goes back to the AI. Any other state (escalated, held by a human, closed) was set on
/// purpose and stays. Returns whether the state changed.
pub fn settle_if_nothing_pending(
    conn: &Connection,
    id: ConversationId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE conversations SET state = ?2, updated_at = ?3
         WHERE id = ?1 AND state = ?4
           AND NOT EXISTS (SELECT 1 FROM actions WHERE conversation_id = ?1 AND state = 'pending')",
        params![
            id.0,
            ConversationState::AiActive,
            now,
            ConversationState::AwaitingApproval
        ],
    )?;
    Ok(changed > 0)
}

/// Marks a conversation held by a human (`Some`) or released (`None`).
pub fn set_holder(
    conn: &Connection,
    id: ConversationId,
    holder: Option<OperatorId>,
    now: Timestamp,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE conversations SET held_by_operator_id = ?2, updated_at = ?3 WHERE id = ?1",
        params![id.0, holder.map(|h| h.0), now],
    )?;
    Ok(())
}

pub fn contact_id(conn: &Connection, id: ConversationId) -> Result<ContactId, StoreError> {
    get(conn, id).map(|c| c.contact.id)
}
