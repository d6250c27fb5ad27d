//! `switchboard serve`: the engine headless, with the operator API and webhook on one address.

use crate::cli::{CommonArgs, ServeArgs};
use anyhow::Context;
use std::io::Write;
use std::sync::Arc;
use switchboard_api::ApiAuth;
use switchboard_core::secrets::{EnvSecrets, SecretName, SecretStore};
use switchboard_core::Secret;
use tokio::net::TcpListener;

pub fn run(common: &CommonArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let mut config = crate::setup::load_config(common)?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    crate::logging::init(&config.log);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Headless runs take secrets from the environment only: a server has no keyring session.
        let secrets = Arc::new(EnvSecrets);
        let token = api_token(secrets.as_ref())?;
        let engine = crate::setup::start_engine(config.clone(), secrets)?;
        engine.spawn_workers();
        let listener = TcpListener::bind(config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let address = listener.local_addr()?;
        engine.set_listen_address(address);
        if engine.mode() == switchboard_engine::ChannelMode::Sandbox {
            engine.set_graph_base_url(format!("http://{address}/sandbox/graph"));
        }
        let app =
            switchboard_api::router(engine, ApiAuth::new(token), config.server.ui_dir.clone());
        // Scripts and tests read this line to find the port when listening on port 0.
        println!("switchboard: listening on http://{address}");
        std::io::stdout().flush().ok();
        switchboard_api::serve(listener, app, shutdown_signal())
            .await
            .context("the server stopped with an error")
    })
}

/// `SWITCHBOARD_API_TOKEN`, or a fresh token printed once for this run.
fn api_token(secrets: &dyn SecretStore) -> anyhow::Result<Secret> {
    if let Some(token) = secrets.get(&SecretName::ApiToken)? {
        return Ok(token);
    }
    let token = Secret::generate();
    eprintln!(
        "switchboard: no SWITCHBOARD_API_TOKEN set; this run's API token is {}\n\
         switchboard: (set SWITCHBOARD_API_TOKEN to choose a token that survives restarts)",
        token.expose()
    );
    Ok(token)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
