//! The desktop shell: a Tauri window over the same engine and the same operator API.
//!
//! Two commands, both thin adapters: `api_request` sends a request through the API router
//! in-process (same routes, same auth, same errors as HTTP), and `subscribe_events` streams
//! the event bus over a Tauri Channel. The shell also serves the API and webhook on loopback
//! so a browser and WhatsApp can reach the engine while the window is open.

mod commands;
pub mod notifications;

pub use commands::{ApiRequest, ApiResponse};

use crate::cli::CommonArgs;
use anyhow::Context;
use std::sync::Arc;
use switchboard_api::ApiAuth;
use switchboard_core::secrets::{LayeredSecrets, SecretName, SecretStore};
use switchboard_core::Secret;
use switchboard_engine::Engine;

/// What the commands need: the router to call and the token to call it with.
#[derive(Clone)]
pub struct Shell {
    pub engine: Engine,
    pub router: axum::Router,
    pub token: Arc<Secret>,
}

impl Shell {
    pub fn new(engine: Engine, token: Secret, ui_dir: Option<std::path::PathBuf>) -> Shell {
        let router = switchboard_api::router(engine.clone(), ApiAuth::new(token.clone()), ui_dir);
        Shell {
            engine,
            router,
            token: Arc::new(token),
        }
    }
}

/// Adds the shell's commands and plugins to a builder; generic over the runtime so tests
/// drive the same wiring with Tauri's mock runtime.
pub fn configure<R: tauri::Runtime>(builder: tauri::Builder<R>, shell: Shell) -> tauri::Builder<R> {
    let engine = shell.engine.clone();
    builder
        .plugin(tauri_plugin_notification::init())
        .setup(move |app| {
            notifications::spawn(app.handle().clone(), &engine);
            Ok(())
        })
        .manage(shell)
        .invoke_handler(tauri::generate_handler![
            commands::api_request,
            commands::subscribe_events
        ])
}

pub fn run(args: CommonArgs) -> anyhow::Result<()> {
    let config = crate::setup::load_config(&args)?;
    crate::logging::init(&config.log);
    let secrets: Arc<dyn SecretStore> = Arc::new(LayeredSecrets::desktop());
    let token = desktop_token(secrets.as_ref());
    let listen = config.server.listen;
    let engine = crate::setup::start_engine(config, secrets)?;
    let shell = Shell::new(engine, token, None);

    let http = shell.router.clone();
    let workers = shell.engine.clone();
    tauri::async_runtime::spawn(async move {
        workers.spawn_workers();
        match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => {
                tracing::info!(%listen, "operator API and webhook listening");
                if let Ok(address) = listener.local_addr() {
                    workers.set_listen_address(address);
                    if workers.mode() == switchboard_engine::ChannelMode::Sandbox {
                        workers.set_graph_base_url(format!("http://{address}/sandbox/graph"));
                    }
                }
                if let Err(e) = switchboard_api::serve(listener, http, std::future::pending()).await
                {
                    tracing::error!(error = %e, "the HTTP server stopped");
                }
            }
            // The window still works over IPC; only browser and webhook access are lost.
            Err(e) => {
                tracing::error!(%listen, error = %e, "cannot listen; the window works, webhooks will not arrive")
            }
        }
    });

    configure(tauri::Builder::default(), shell)
        .run(tauri::generate_context!())
        .context("the desktop window failed")
}

/// The API token lives in the OS keyring, created at first start. Without a keyring (no
/// Secret Service session) the window still works with a token for this run only.
fn desktop_token(secrets: &dyn SecretStore) -> Secret {
    match secrets.get(&SecretName::ApiToken) {
        Ok(Some(token)) => token,
        Ok(None) => {
            let token = Secret::generate();
            if let Err(e) = secrets.set(&SecretName::ApiToken, &token) {
                tracing::warn!(error = %e, "cannot keep the API token in the keyring; using one for this run");
            }
            token
        }
        Err(e) => {
            tracing::warn!(error = %e, "the OS keyring is unavailable; using an API token for this run");
            Secret::generate()
        }
    }
}
