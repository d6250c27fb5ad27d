//! The operator API: resource-shaped HTTP routes and a Server-Sent Events stream over the
//! engine. Handlers are thin: they authenticate, convert wire types and call the engine.
//!
//! The router is a function and the server takes its listener and a shutdown signal, so
//! tests bind port 0 and the desktop shell can call the same router in-process.

mod audit_export;
mod auth;
pub mod dto;
mod error;
mod extract;
pub mod openapi;
mod routes;
pub mod ui;

pub use auth::ApiAuth;
pub use error::{ApiError, ErrorBody};

use axum::Router;
use std::future::Future;
use std::path::PathBuf;
use switchboard_engine::Engine;
use tokio::net::TcpListener;

#[derive(Clone)]
pub struct ApiState {
    pub engine: Engine,
    pub auth: ApiAuth,
}

/// The whole HTTP surface: `/api/*` behind the bearer token, plus the built UI if given.
pub fn router(engine: Engine, auth: ApiAuth, ui_dir: Option<PathBuf>) -> Router {
    let state = ApiState { engine, auth };
    let api = routes::api_routes(state.clone()).layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_token,
    ));
    let mut app = Router::new()
        .nest("/api", api)
        .merge(routes::webhook_routes(state.clone()))
        .layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(tower_http::cors::Any)
                .allow_methods(tower_http::cors::Any)
                .allow_headers([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::CONTENT_TYPE,
                ]),
        )
        .layer(
            // The span names the path, never the query: the webhook handshake carries the
            // verify token in `hub.verify_token`, and logs must not hold secrets.
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<axum::body::Body>| {
                    tracing::debug_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        version = ?request.version(),
                    )
                },
            ),
        );
    if let Some(dir) = ui_dir {
        app = app.fallback_service(ui::router(dir));
    }
    app
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
