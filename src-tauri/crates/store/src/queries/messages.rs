use super::clamp_limit;
use crate::model::{Direction, Message, Page, QuotedMessage, Reaction};
use crate::StoreError;
use rusqlite::{params, Connection, Row};
use std::collections::HashMap;
use switchboard_core::ids::{ConversationId, MessageId};
use switchboard_core::Timestamp;

/// How much of a quoted message a reply shows above its bubble.
const QUOTE_PREVIEW_CHARS: usize = 100;

const COLUMNS: &str =
    "m.id, m.conversation_id, m.direction, m.wamid, m.kind, m.text, m.content, m.status,
     m.error_title, m.sent_by, m.created_at, m.reply_to_wamid, q.id, q.kind, q.text";

/// The quoted message is looked up in the same conversation only: a reply never shows
/// another customer's text.
const FROM_WITH_QUOTE: &str = "messages m
     LEFT JOIN messages q ON q.wamid = m.reply_to_wamid AND q.conversation_id = m.conversation_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    let content: String = row.get(6)?;
    let reply_to_wamid: Option<String> = row.get(11)?;
    let quoted_id: Option<i64> = row.get(12)?;
    let reply_to = match reply_to_wamid {
        Some(wamid) => {
            let found = match quoted_id {
                Some(id) => {
                    let kind: String = row.get(13)?;
                    let text: Option<String> = row.get(14)?;
                    let preview: String = preview(text.as_deref(), &kind)
                        .chars()
                        .take(QUOTE_PREVIEW_CHARS)
                        .collect();
                    Some((MessageId(id), preview))
                }
                None => None,
            };
            Some(QuotedMessage { wamid, found })
        }
        None => None,
    };
    Ok(Message {
        id: MessageId(row.get(0)?),
        conversation_id: ConversationId(row.get(1)?),
        direction: row.get(2)?,
        wamid: row.get(3)?,
        kind: row.get(4)?,
        text: row.get(5)?,
        content: serde_json::from_str(&content).unwrap_or(serde_json::Value::Null),
        status: row.get(7)?,
        error_title: row.get(8)?,
        sent_by: row.get(9)?,
        created_at: row.get(10)?,
        reply_to,
        reactions: Vec::new(),
    })
}

/// The newest `limit` messages before `before` (exclusive), returned oldest first, with
/// their quoted message and reactions. A reaction to a message of this conversation is
/// shown on that message, not listed; one whose target we do not have stays in the list,
/// so nothing the customer sent disappears.
pub fn list(
    conn: &Connection,
    conversation: ConversationId,
    before: Option<MessageId>,
    limit: Option<u32>,
) -> Result<Page<Message>, StoreError> {
    let limit = clamp_limit(limit);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM {FROM_WITH_QUOTE}
         WHERE m.conversation_id = ?1 AND m.id < ?2
           AND NOT (m.kind = 'reaction' AND EXISTS (
               SELECT 1 FROM messages t
               WHERE t.wamid = json_extract(m.content, '$.message_id')
                 AND t.conversation_id = m.conversation_id))
         ORDER BY m.id DESC LIMIT ?3"
    ))?;
    let mut items = stmt
        .query_map(
            params![conversation.0, before.map_or(i64::MAX, |b| b.0), limit + 1],
            from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|m| m.id.0.to_string())
    } else {
        None
    };
    items.reverse();
    attach_reactions(conn, conversation, &mut items)?;
    Ok(Page { items, next_cursor })
}

/// Each side's latest reaction to each message of `items`; a reaction without an emoji
/// is WhatsApp's way of removing the earlier one.
fn attach_reactions(
    conn: &Connection,
    conversation: ConversationId,
    items: &mut [Message],
) -> Result<(), StoreError> {
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, m) in items.iter().enumerate() {
        if let Some(wamid) = &m.wamid {
            index.insert(wamid.clone(), i);
        }
    }
    if index.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT json_extract(content, '$.message_id'), json_extract(content, '$.emoji'), direction
         FROM messages
         WHERE conversation_id = ?1 AND kind = 'reaction'
         ORDER BY id",
    )?;
    let mut latest: HashMap<(usize, Direction), Option<String>> = HashMap::new();
    let rows = stmt.query_map([conversation.0], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, Direction>(2)?,
        ))
    })?;
    for row in rows {
        let (target, emoji, from) = row?;
        if let Some(&i) = target.as_ref().and_then(|t| index.get(t)) {
            latest.insert((i, from), emoji.filter(|e| !e.is_empty()));
        }
    }
    for ((i, from), emoji) in latest {
        if let Some(emoji) = emoji {
            items[i].reactions.push(Reaction { emoji, from });
        }
    }
    for m in items.iter_mut() {
        // Customer first, then ours: a stable order for the chips.
        m.reactions.sort_by_key(|r| r.from != Direction::Inbound);
    }
    Ok(())
}

/// A new inbound message. Returns `None` when its wamid was already stored: WhatsApp
/// delivers at least once, and a redelivery must not trigger anything again.
pub struct NewInbound<'a> {
    pub conversation_id: ConversationId,
    pub wamid: &'a str,
    pub kind: &'a str,
    pub text: Option<&'a str>,
    pub content: &'a serde_json::Value,
    pub reply_to_wamid: Option<&'a str>,
    pub inbox_id: Option<i64>,
    pub wa_timestamp: i64,
    pub sandbox: bool,
}

pub fn insert_inbound(
    conn: &Connection,
    message: &NewInbound<'_>,
    now: Timestamp,
) -> Result<Option<MessageId>, StoreError> {
    let inserted = conn.execute(
        "INSERT INTO messages (conversation_id, direction, wamid, kind, text, content, reply_to_wamid,
                               inbox_id, status, wa_timestamp, sandbox, created_at)
         VALUES (?1, 'inbound', ?2, ?3, ?4, ?5, ?6, ?7, 'received', ?8, ?9, ?10)
         ON CONFLICT (wamid) DO NOTHING",
        params![
            message.conversation_id.0,
            message.wamid,
            message.kind,
            message.text,
            message.content.to_string(),
            message.reply_to_wamid,
            message.inbox_id,
            message.wa_timestamp,
            message.sandbox,
            now
        ],
    )?;
    if inserted == 0 {
        return Ok(None);
    }
    let id = conn.last_insert_rowid();
    let customer_at = message.wa_timestamp.saturating_mul(1000);
    conn.execute(
        "UPDATE conversations SET
            unread_count = unread_count + 1,
            last_message_at = MAX(COALESCE(last_message_at, 0), ?2),
            last_message_preview = ?3,
            last_customer_message_at = MAX(COALESCE(last_customer_message_at, 0), ?4),
            state = CASE WHEN state = 'closed' THEN 'ai_active' ELSE state END,
            updated_at = ?2
         WHERE id = ?1",
        params![
            message.conversation_id.0,
            now,
            preview(message.text, message.kind),
            customer_at
        ],
    )?;
    Ok(Some(MessageId(id)))
}

/// The inbox line: the text cut to a readable length, or the kind for media and the like.
pub fn preview(text: Option<&str>, kind: &str) -> String {
    match text {
        Some(text) if !text.is_empty() => text.chars().take(140).collect(),
        _ => format!("[{kind}]"),
    }
}

pub fn direction_of(conn: &Connection, id: MessageId) -> Result<Direction, StoreError> {
    Ok(conn.query_row(
        "SELECT direction FROM messages WHERE id = ?1",
        [id.0],
        |r| r.get(0),
    )?)
}

/// An outbound message as the status logic needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboundRef {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub status: String,
    pub action_id: Option<i64>,
}

/// Finds an outbound message by WhatsApp id, or by the idempotency key we sent as
/// `biz_opaque_callback_data` (how a message whose send outcome was lost in a crash is
/// reconciled: the key is known, the wamid was never recorded).
pub fn outbound_by_wamid_or_key(
    conn: &Connection,
    wamid: &str,
    callback_key: Option<&str>,
) -> Result<Option<OutboundRef>, StoreError> {
    use rusqlite::OptionalExtension;
    let map = |r: &Row<'_>| {
        Ok(OutboundRef {
            id: MessageId(r.get(0)?),
            conversation_id: ConversationId(r.get(1)?),
            status: r.get(2)?,
            action_id: r.get(3)?,
        })
    };
    let by_wamid = conn
        .prepare_cached(
            "SELECT id, conversation_id, status, action_id FROM messages WHERE wamid = ?1 AND direction = 'outbound'",
        )?
        .query_row([wamid], map)
        .optional()?;
    if by_wamid.is_some() {
        return Ok(by_wamid);
    }
    let Some(key) = callback_key else {
        return Ok(None);
    };
    let found = conn
        .prepare_cached(
            "SELECT m.id, m.conversation_id, m.status, m.action_id FROM outbox o JOIN messages m ON m.id = o.message_id
             WHERE o.idempotency_key = ?1",
        )?
        .query_row([key], map)
        .optional()?;
    if let Some(found) = &found {
        conn.execute(
            "UPDATE messages SET wamid = ?2 WHERE id = ?1 AND wamid IS NULL",
            params![found.id.0, wamid],
        )?;
    }
    Ok(found)
}

/// Records a (wamid, status) pair; false when it was already seen (a redelivery).
pub fn record_status_event(
    conn: &Connection,
    wamid: &str,
    status: &str,
    timestamp: i64,
    raw: &serde_json::Value,
) -> Result<bool, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO message_status_events (wamid, status, timestamp, raw) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (wamid, status) DO NOTHING",
        )?
        .execute(params![wamid, status, timestamp, raw.to_string()])?;
    Ok(inserted == 1)
}

pub struct StatusChange<'a> {
    pub status: &'a str,
    pub at: Timestamp,
    pub error_code: Option<i64>,
    pub error_title: Option<&'a str>,
    pub error_details: Option<&'a str>,
    pub needs_attention: bool,
}

pub fn set_status(
    conn: &Connection,
    id: MessageId,
    change: &StatusChange<'_>,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE messages SET status = ?2, status_at = ?3,
                error_code = COALESCE(?4, error_code), error_title = COALESCE(?5, error_title),
                error_details = COALESCE(?6, error_details),
                needs_attention = MAX(needs_attention, ?7)
         WHERE id = ?1",
    )?
    .execute(params![
        id.0,
        change.status,
        change.at,
        change.error_code,
        change.error_title,
        change.error_details,
        change.needs_attention
    ])?;
    Ok(())
}

/// What a media download needs to know of a message.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaSource {
    pub kind: String,
    pub content: serde_json::Value,
    pub sandbox: bool,
}

pub fn media_source(conn: &Connection, id: MessageId) -> Result<MediaSource, StoreError> {
    use rusqlite::OptionalExtension;
    conn.prepare_cached("SELECT kind, content, sandbox FROM messages WHERE id = ?1")?
        .query_row([id.0], |r| {
            let content: String = r.get(1)?;
            Ok(MediaSource {
                kind: r.get(0)?,
                content: serde_json::from_str(&content).unwrap_or(serde_json::Value::Null),
                sandbox: r.get(2)?,
            })
        })
        .optional()?
        .ok_or(StoreError::NotFound {
            what: "message",
            id: id.0,
        })
}
