//! The Graph API side: what we send to `POST /{version}/{phone-number-id}/messages` and
//! what comes back. No HTTP client lives here; the sender wires these types to one.

pub mod types;
