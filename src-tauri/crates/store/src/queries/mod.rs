//! Queries, one module per table family. Each function takes a `&Connection`, so it runs
//! inside `Store::read` or inside a writer transaction alike.

pub mod actions;
pub mod audit;
pub mod contacts;
pub mod conversations;
pub mod escalations;
pub mod examples;
pub mod guidance;
pub mod inbox;
pub mod knowledge;
pub mod media;
pub mod messages;
pub mod metrics;
pub mod operators;
pub mod outbox;
pub mod policies;
pub mod runs;
pub mod settings;
pub mod tasks;

/// Page sizes are clamped so no request can ask for an unbounded result.
pub fn clamp_limit(limit: Option<u32>) -> i64 {
    i64::from(limit.unwrap_or(50).clamp(1, 500))
}

/// Cursors are opaque to clients: `<timestamp>:<id>` of the last row returned.
pub(crate) fn parse_cursor(cursor: Option<&str>) -> Option<(i64, i64)> {
    let (a, b) = cursor?.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}
