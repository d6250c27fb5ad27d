//! The heart of Switchboard: from a customer's request to validated, structured actions.
//!
//! - [`actions`]: the built-in actions as Rust types, custom actions from configuration, and
//!   the JSON Schema of one model answer, generated from those types.
//! - [`validate`]: schema validation plus the checks a schema cannot express (the template
//!   exists, the date is in the future, a free-form reply needs an open window).

pub mod actions;
pub mod business_time;
pub mod context;
pub mod policy;
pub mod recovery;
pub mod validate;

pub use actions::{Action, ActionCatalog, CustomActionDef, ModelAnswer};
pub use validate::{ValidationContext, ValidationError};
