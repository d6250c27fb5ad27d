//! Versioned migrations, tracked in `PRAGMA user_version`.
//!
//! Rule: a shipped migration is never edited; changes come as a new file appended here.

use rusqlite_migration::{Migrations, M};

const SOURCES: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_pipeline_coverage.sql"),
    include_str!("../migrations/0003_outbox_media.sql"),
    include_str!("../migrations/0004_snapshot_layers.sql"),
    include_str!("../migrations/0005_operators_approvals.sql"),
    include_str!("../migrations/0006_console_reads.sql"),
];

pub fn all() -> Migrations<'static> {
    Migrations::new(SOURCES.iter().map(|sql| M::up(sql)).collect())
}

/// The schema version this build creates and understands.
pub fn latest_version() -> i64 {
    SOURCES.len() as i64
}
