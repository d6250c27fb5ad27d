//! Daily figures for the supervisors' dashboard, computed by SQL over the operational
//! tables. Days are given as time ranges, so the caller decides the calendar (the business's
//! time zone, with its DST days of 23 or 25 hours).

use crate::StoreError;
use rusqlite::{params, Connection};
use std::collections::HashMap;
use switchboard_core::Timestamp;

/// One calendar day as `[start, end)` in store time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayRange {
    /// `YYYY-MM-DD` in the business's calendar.
    pub day: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// What happened on one day. Counts are of things that started that day: a message is on
/// the day it arrived, a decision on the day it was made, a model call on the day it began.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DayMetrics {
    pub day: String,
    pub inbound_messages: i64,
    /// Conversations in which the customer wrote that day.
    pub conversations: i64,
    /// Of those, the ones the AI answered that day with no escalation opened and no message
    /// written by a person that day.
    pub resolved_without_human: i64,
    /// Of those, the ones with an escalation opened that day.
    pub escalated: i64,
    /// Escalations opened that day (also in conversations where the customer did not write).
    pub escalations_opened: i64,
    /// Proposals decided by an operator that day…
    pub decisions: i64,
    /// …approved exactly as proposed,
    pub approved_unedited: i64,
    /// …approved after an edit,
    pub approved_edited: i64,
    /// …and rejected.
    pub rejected: i64,
    /// Customer turns (a customer message after a reply, or the first) that got a reply.
    pub replies_measured: i64,
    /// Customer turns still without a reply.
    pub unanswered: i64,
    /// Median from a customer's turn to the first reply after it, in milliseconds.
    pub median_first_reply_ms: Option<i64>,
    pub model_calls: i64,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// USD; `None` when no call that day had a known price.
    pub cost: Option<f64>,
}

/// The days as a JSON array `[[day, start, end], …]`, the shape the queries unpack.
fn days_json(days: &[DayRange]) -> String {
    serde_json::Value::from(
        days.iter()
            .map(|d| serde_json::json!([d.day, d.start, d.end]))
            .collect::<Vec<_>>(),
    )
    .to_string()
}

/// The `d(day, s, e)` table of the requested days. Queries put it first with a CROSS JOIN,
/// so the JSON is read once per day and each day is one range scan of the fact table's time
/// index; the other way round, SQLite re-reads the JSON for every fact row.
const DAYS: &str =
    "d(day, s, e) AS (SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1))";

/// A human wrote it: an operator's composer message, or anything not sent for the AI.
const HUMAN_OUTBOUND: &str =
    "(m.sent_by_operator_id IS NOT NULL OR m.sent_by IS NULL OR m.sent_by <> 'ai')";

pub fn daily(conn: &Connection, days: &[DayRange]) -> Result<Vec<DayMetrics>, StoreError> {
    if days.is_empty() {
        return Ok(Vec::new());
    }
    let json = days_json(days);
    let mut by_day: HashMap<String, DayMetrics> = days
        .iter()
        .map(|d| {
            (
                d.day.clone(),
                DayMetrics {
                    day: d.day.clone(),
                    ..DayMetrics::default()
                },
            )
        })
        .collect();
    let mut each =
        |sql: &str,
         apply: &mut dyn FnMut(&mut DayMetrics, &rusqlite::Row<'_>) -> rusqlite::Result<()>|
         -> Result<(), StoreError> {
            let mut stmt = conn.prepare_cached(sql)?;
            let mut rows = stmt.query(params![json])?;
            while let Some(row) = rows.next()? {
                let day: String = row.get(0)?;
                if let Some(metrics) = by_day.get_mut(&day) {
                    apply(metrics, row)?;
                }
            }
            Ok(())
        };

    // One range scan of the day's messages per day, grouped by conversation; escalations
    // joined as a set. (Correlated EXISTS per conversation-day were ten times slower on
    // 200,000 messages.)
    each(
        &format!(
            "WITH {DAYS},
             cd AS (SELECT d.day, m.conversation_id,
                    SUM(m.direction = 'inbound') AS inbound,
                    MAX(m.direction = 'outbound' AND {HUMAN_OUTBOUND}) AS human_wrote,
                    MAX(m.direction = 'outbound' AND m.sent_by = 'ai' AND m.status <> 'failed') AS ai_replied
                    FROM d CROSS JOIN messages m
                    WHERE m.created_at >= d.s AND m.created_at < d.e
                    GROUP BY d.day, m.conversation_id HAVING SUM(m.direction = 'inbound') > 0),
             esc AS (SELECT DISTINCT d.day, x.conversation_id FROM d CROSS JOIN escalations x
                     WHERE x.created_at >= d.s AND x.created_at < d.e),
             flags AS (SELECT cd.*, esc.conversation_id IS NOT NULL AS escalated
                       FROM cd LEFT JOIN esc ON esc.day = cd.day AND esc.conversation_id = cd.conversation_id)
             SELECT day, SUM(inbound), COUNT(*), SUM(ai_replied AND NOT escalated AND NOT human_wrote), SUM(escalated)
             FROM flags GROUP BY day"
        ),
        &mut |m, r| {
            m.inbound_messages = r.get(1)?;
            m.conversations = r.get(2)?;
            m.resolved_without_human = r.get(3)?;
            m.escalated = r.get(4)?;
            Ok(())
        },
    )?;

    each(
        &format!(
            "WITH {DAYS}
             SELECT d.day, COUNT(*) FROM d CROSS JOIN escalations x
             WHERE x.created_at >= d.s AND x.created_at < d.e
             GROUP BY d.day"
        ),
        &mut |m, r| {
            m.escalations_opened = r.get(1)?;
            Ok(())
        },
    )?;

    // Decisions by people only: `decided_by` is an operator's label; the policy's own
    // automatic approvals are not decisions about the AI's quality.
    each(
        &format!(
            "WITH {DAYS}
             SELECT d.day, COUNT(*),
                    SUM(a.state = 'rejected'),
                    SUM(a.state <> 'rejected' AND (a.edit_diff IS NOT NULL OR a.original_params IS NOT NULL))
             FROM d CROSS JOIN actions a
             WHERE a.decided_at >= d.s AND a.decided_at < d.e
               AND a.decided_by LIKE 'operator:%'
             GROUP BY d.day"
        ),
        &mut |m, r| {
            m.decisions = r.get(1)?;
            m.rejected = r.get(2)?;
            m.approved_edited = r.get(3)?;
            m.approved_unedited = m.decisions - m.rejected - m.approved_edited;
            Ok(())
        },
    )?;

    // A customer turn starts with an inbound message whose predecessor in the
    // conversation is not inbound; it is answered by the first outbound message after it
    // that did not fail. The median is taken over the answered turns with window functions.
    let turns = format!(
        "WITH {DAYS},
         turns AS MATERIALIZED (
           SELECT d.day, m.created_at AS asked,
             (SELECT o.created_at FROM messages o WHERE o.conversation_id = m.conversation_id
                AND o.id > m.id AND o.direction = 'outbound' AND o.status <> 'failed'
                ORDER BY o.id LIMIT 1) AS answered
           FROM d CROSS JOIN messages m
           WHERE m.direction = 'inbound'
             AND m.created_at >= d.s AND m.created_at < d.e
             AND COALESCE((SELECT p.direction FROM messages p WHERE p.conversation_id = m.conversation_id
                             AND p.id < m.id ORDER BY p.id DESC LIMIT 1), 'outbound') = 'outbound'),
         ranked AS (
           SELECT day, answered - asked AS wait,
                  ROW_NUMBER() OVER (PARTITION BY day ORDER BY answered - asked) AS rn,
                  COUNT(*) OVER (PARTITION BY day) AS n
           FROM turns WHERE answered IS NOT NULL)"
    );
    each(
        &format!(
            "{turns}
             SELECT day, 'median', MAX(n), AVG(wait) FROM ranked
             WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY day
             UNION ALL
             SELECT day, 'unanswered', COUNT(*), NULL FROM turns WHERE answered IS NULL GROUP BY day"
        ),
        &mut |m, r| {
            if r.get::<_, String>(1)? == "median" {
                m.replies_measured = r.get(2)?;
                m.median_first_reply_ms = r.get::<_, Option<f64>>(3)?.map(|v| v.round() as i64);
            } else {
                m.unanswered = r.get(2)?;
            }
            Ok(())
        },
    )?;

    each(
        &format!(
            "WITH {DAYS}
             SELECT d.day, COUNT(*), COALESCE(SUM(a.tokens_in), 0), COALESCE(SUM(a.tokens_out), 0), SUM(a.cost)
             FROM d CROSS JOIN run_attempts a
             WHERE a.started_at >= d.s AND a.started_at < d.e
             GROUP BY d.day"
        ),
        &mut |m, r| {
            m.model_calls = r.get(1)?;
            m.tokens_in = r.get(2)?;
            m.tokens_out = r.get(3)?;
            m.cost = r.get(4)?;
            Ok(())
        },
    )?;

    Ok(days.iter().filter_map(|d| by_day.remove(&d.day)).collect())
}
