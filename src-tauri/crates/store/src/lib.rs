//! The Switchboard database.
//!
//! SQLite in WAL mode with foreign keys on. All writes go through one writer thread, which
//! groups the jobs that arrive together into one transaction (one fsync for many webhook
//! bodies), each job in its own savepoint so one failing job does not undo the others.
//! Reads use a small pool of read-only connections and never wait for the writer (WAL).

mod db;
mod error;
pub mod migrations;
pub mod model;
pub mod queries;

pub use db::{Store, StoreOptions};
pub use error::StoreError;
pub use rusqlite;
