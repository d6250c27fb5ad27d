//! The pipeline's integration tests.

mod actions;
mod context;
mod hostile;
mod invariants;
