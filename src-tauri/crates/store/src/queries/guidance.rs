//! An operator's guidance for the conversation's next run ("try again, and …").
//!
//! Asking for a rerun moves the conversation's coverage back to before the messages the
//! rejected run answered, so the next run answers them again, and keeps the guidance on
//! the conversation until a run that used it records its outcome.

use crate::StoreError;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_core::ids::{ConversationId, RunId};

pub fn request_rerun(
    conn: &Connection,
    conversation: ConversationId,
    run: RunId,
    guidance: &str,
) -> Result<(), StoreError> {
    let first: Option<i64> = conn
        .query_row(
            "SELECT min(t.value) FROM pipeline_runs r, json_each(r.trigger_message_ids) t
             WHERE r.id = ?1 AND r.conversation_id = ?2",
            params![run.0, conversation.0],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let Some(first) = first else {
        return Err(StoreError::Conflict(format!(
            "run {run} answered no customer message, so there is nothing to answer again"
        )));
    };
    conn.execute(
        "UPDATE conversations SET ai_covered_message_id = MIN(ai_covered_message_id, ?2), retry_guidance = ?3 WHERE id = ?1",
        params![conversation.0, first - 1, guidance],
    )?;
    Ok(())
}

/// The guidance waiting for the conversation's next run, if any.
pub fn pending(
    conn: &Connection,
    conversation: ConversationId,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT retry_guidance FROM conversations WHERE id = ?1",
            [conversation.0],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// Records on the run the guidance it is given (`pipeline_runs.guidance`).
pub fn record_on_run(
    conn: &Connection,
    run: RunId,
    conversation: ConversationId,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE pipeline_runs SET guidance = (SELECT retry_guidance FROM conversations WHERE id = ?2) WHERE id = ?1",
        params![run.0, conversation.0],
    )?;
    Ok(())
}

/// Clears the guidance once the run that used it has an outcome; guidance given while the
/// run was in flight (a different text) stays for the next run.
pub fn clear_if_used(
    conn: &Connection,
    conversation: ConversationId,
    run: RunId,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE conversations SET retry_guidance = NULL
         WHERE id = ?1 AND retry_guidance IS (SELECT guidance FROM pipeline_runs WHERE id = ?2)",
        params![conversation.0, run.0],
    )?;
    Ok(())
}
