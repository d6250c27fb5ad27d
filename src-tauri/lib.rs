//! The Switchboard application: the command line, the headless server and the desktop
//! shell, all wiring the same engine. No business logic lives here.

pub mod allocator;
pub mod audit_cli;
pub mod cli;
pub mod logging;
pub mod serve;
pub mod setup;

#[cfg(feature = "desktop")]
pub mod desktop;
