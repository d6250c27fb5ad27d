//! Route table of `/api`. Each resource has its own module of thin handlers.

pub(crate) mod actions;
pub(crate) mod audit;
pub(crate) mod conversations;
pub(crate) mod escalations;
pub(crate) mod events;
pub(crate) mod inbox;
pub(crate) mod knowledge;
pub(crate) mod metrics;
pub(crate) mod providers;
pub(crate) mod runs;
pub(crate) mod sandbox;
pub(crate) mod settings;
pub(crate) mod system;
pub(crate) mod tasks;
pub(crate) mod webhooks;
pub(crate) mod whatsapp;

use crate::ApiState;
use axum::routing::{get, post, put};
use axum::Router;

pub(crate) fn api_routes(state: ApiState) -> Router {
    Router::new()
        .route("/health", get(system::health))
        .route("/openapi.json", get(system::openapi))
        .route("/events", get(events::stream))
        .route("/settings", get(system::settings))
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}", get(conversations::one))
        .route("/conversations/{id}/messages", get(conversations::messages))
        .route("/actions", get(actions::list))
        .route("/actions/{id}", get(actions::one))
        .route("/actions/{id}/approve", post(actions::approve))
        .route("/actions/{id}/reject", post(actions::reject))
        // role: agent for GET; replay calls a model, so a supervisor's
        .route("/runs/{id}", get(runs::one))
        .route("/runs/{id}/replay", post(runs::replay))
        .route("/escalations", get(escalations::list))
        .route("/escalations/{id}/takeover", post(escalations::take_over))
        .route("/escalations/{id}/handback", post(escalations::hand_back))
        .route("/audit", get(audit::list))
        .route("/audit/export", get(audit::export))
        .route("/audit/verify", get(audit::verify))
        .route("/tasks", get(tasks::list).post(tasks::create))
        .route("/tasks/{id}", get(tasks::one).patch(tasks::update))
        .route("/metrics", get(metrics::daily))
        .route("/context-layers", get(settings::layers))
        .route("/context-layers/{layer}", put(settings::put_layer))
        .route(
            "/context-layers/{layer}/versions",
            get(settings::layer_versions),
        )
        .route(
            "/templates",
            get(settings::templates).put(settings::put_templates),
        )
        .route("/knowledge", get(knowledge::list).post(knowledge::create))
        .route(
            "/knowledge/{id}",
            get(knowledge::one)
                .put(knowledge::update)
                .delete(knowledge::delete),
        )
        .route("/providers", get(providers::list))
        .route("/providers/{name}/test", post(providers::test))
        .route("/secrets/{name}", put(providers::put_secret))
        .route("/whatsapp", get(whatsapp::status))
        .route("/whatsapp/test", post(whatsapp::test))
        .route("/inbox/failed", get(inbox::failed))
        .route("/sandbox/messages", post(sandbox::customer_writes))
        .with_state(state)
}

/// The WhatsApp webhook: no bearer token (Meta cannot send one); the signature is checked
/// over the raw body instead. The body limit answers 413 before the body is read whole.
pub(crate) fn webhook_routes(state: ApiState) -> Router {
    let limit = state.engine.config().whatsapp.max_body_bytes;
    Router::new()
        .route(
            "/webhooks/whatsapp",
            get(webhooks::handshake).post(webhooks::receive),
        )
        .route(
            "/sandbox/graph/{version}/{phone_number_id}/messages",
            post(sandbox::graph_send),
        )
        .route(
            "/sandbox/graph/{version}/{phone_number_id}",
            get(whatsapp::sandbox_phone_number),
        )
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Parses an enum-valued query parameter, naming the allowed values when it is wrong.
pub(crate) fn parse_state<T: Copy + std::fmt::Display>(
    name: &str,
    value: Option<&str>,
    parse: fn(&str) -> Option<T>,
    all: &[T],
) -> Result<Option<T>, crate::ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => parse(v).map(Some).ok_or_else(|| {
            let allowed: Vec<String> = all.iter().map(|s| s.to_string()).collect();
            crate::ApiError::bad_request(format!(
                "{name} must be one of {}, not {v:?}",
                allowed.join(", ")
            ))
        }),
    }
}
