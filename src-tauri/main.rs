// No console window on Windows release builds; harmless elsewhere.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use clap::Parser;
use std::process::ExitCode;
use switchboard::cli::{AuditCommand, Cli, Command};

fn main() -> ExitCode {
    switchboard::allocator::tune();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Serve(args)) => switchboard::serve::run(&cli.common, &args),
        Some(Command::Audit {
            command: AuditCommand::Verify,
        }) => switchboard::audit_cli::verify(&cli.common),
        Some(Command::Openapi) => {
            print!("{}", switchboard_api::openapi::document_json());
            Ok(())
        }
        None => open_window(cli.common),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "desktop")]
fn open_window(args: switchboard::cli::CommonArgs) -> anyhow::Result<()> {
    switchboard::desktop::run(args)
}

#[cfg(not(feature = "desktop"))]
fn open_window(_: switchboard::cli::CommonArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "this build has no desktop window (built without the `desktop` feature); run `switchboard serve`"
    )
}
