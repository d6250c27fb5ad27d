//! The command line.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "switchboard",
    version,
    about = "Operator console for AI-assisted WhatsApp conversations",
    long_about = "Operator console for AI-assisted WhatsApp conversations.\n\n\
        With no command, opens the desktop window. `switchboard serve` runs the same engine \
        headless: the operator API (HTTP + Server-Sent Events) and the WhatsApp webhook on one \
        address, for a server, a team or tests.\n\n\
        With no configuration the engine starts in sandbox mode (simulated WhatsApp) with the \
        local offline model. Every configuration key can be overridden by an environment \
        variable SWITCHBOARD_<SECTION>__<KEY>; see docs/configuration.md."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the engine headless: operator API, event stream and WhatsApp webhook.
    Serve(ServeArgs),
    /// Inspect the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print the operator API's OpenAPI document.
    Openapi,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the audit trail's hash chain; names the first broken record.
    Verify,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Configuration file (TOML). Without one, defaults apply: sandbox, offline.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the database and models live (default: the OS data directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:7420; port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}
