//! Route table of `/api`. Each resource has its own module of thin handlers.

pub(crate) mod actions;
pub(crate) mod audit;
pub(crate) mod compose;
pub(crate) mod conversations;
pub(crate) mod escalations;
pub(crate) mod events;
pub(crate) mod inbox;
pub(crate) mod knowledge;
pub(crate) mod media;
pub(crate) mod metrics;
pub(crate) mod operators;
pub(crate) mod outbox;
pub(crate) mod policies;
pub(crate) mod providers;
pub(crate) mod runs;
pub(crate) mod sandbox;
pub(crate) mod settings;
pub(crate) mod system;
pub(crate) mod tasks;
pub(crate) mod webhooks;
pub(crate) mod whatsapp;

use crate::ApiState;
use axum::routing::{get, patch, post, put};
use axum::Router;
use switchboard_store::model::Role;
use Role::{Agent, Owner, Supervisor};

/// The least role each route needs (method, path under `/api`): the one place roles are
/// declared, enforced by `auth::require_token` and published in the OpenAPI document as
/// `x-minimum-role`. Agents handle conversations and approvals; supervisors also see the
/// audit trail, metrics and operations; owners also change policies, providers,
/// credentials and operators. A route missing here is owner-only (closed by default).
pub(crate) const ROUTE_ROLES: &[(&str, &str, Role)] = &[
    ("GET", "/health", Agent),
    ("GET", "/openapi.json", Agent),
    ("GET", "/events", Agent),
    ("GET", "/me", Agent),
    ("GET", "/settings", Agent),
    ("GET", "/conversations", Agent),
    ("GET", "/conversations/{id}", Agent),
    ("GET", "/conversations/{id}/messages", Agent),
    ("POST", "/conversations/{id}/messages", Agent),
    ("POST", "/conversations/{id}/takeover", Agent),
    ("POST", "/conversations/{id}/handback", Agent),
    ("POST", "/conversations/{id}/escalate", Agent),
    ("POST", "/conversations/{id}/assign", Supervisor),
    ("GET", "/actions", Agent),
    ("GET", "/actions/{id}", Agent),
    ("POST", "/actions/{id}/approve", Agent),
    ("POST", "/actions/{id}/reject", Agent),
    ("POST", "/actions/{id}/retry", Agent),
    ("GET", "/runs/{id}", Agent),
    ("POST", "/runs/{id}/replay", Supervisor),
    ("GET", "/escalations", Agent),
    ("POST", "/escalations/{id}/takeover", Agent),
    ("POST", "/escalations/{id}/handback", Agent),
    ("GET", "/tasks", Agent),
    ("POST", "/tasks", Agent),
    ("GET", "/tasks/{id}", Agent),
    ("PATCH", "/tasks/{id}", Agent),
    ("GET", "/messages/{id}/media", Agent),
    ("GET", "/outbox", Agent),
    ("POST", "/outbox/{id}/resolve", Agent),
    ("POST", "/sandbox/messages", Agent),
    ("GET", "/context-layers", Agent),
    ("GET", "/context-layers/{layer}/versions", Agent),
    ("GET", "/templates", Agent),
    ("GET", "/knowledge", Agent),
    ("GET", "/knowledge/{id}", Agent),
    ("GET", "/whatsapp", Agent),
    ("GET", "/policies", Agent),
    ("GET", "/policies/versions", Supervisor),
    ("GET", "/audit", Supervisor),
    ("GET", "/audit/export", Supervisor),
    ("GET", "/audit/verify", Supervisor),
    ("GET", "/metrics", Supervisor),
    ("GET", "/inbox/failed", Supervisor),
    ("PUT", "/policies", Owner),
    ("GET", "/operators", Owner),
    ("POST", "/operators", Owner),
    ("PATCH", "/operators/{id}", Owner),
    ("POST", "/operators/{id}/token", Owner),
    ("PUT", "/context-layers/{layer}", Owner),
    ("PUT", "/templates", Owner),
    ("POST", "/knowledge", Owner),
    ("PUT", "/knowledge/{id}", Owner),
    ("DELETE", "/knowledge/{id}", Owner),
    ("GET", "/providers", Owner),
    ("POST", "/providers/{name}/test", Owner),
    ("PUT", "/providers/{name}", Owner),
    ("GET", "/models", Owner),
    ("PUT", "/secrets/{name}", Owner),
    ("POST", "/whatsapp/test", Owner),
];

/// The declared role of a route, or owner when it is not declared.
pub(crate) fn declared_role(method: &str, path: &str) -> Option<Role> {
    ROUTE_ROLES
        .iter()
        .find(|(m, p, _)| m.eq_ignore_ascii_case(method) && *p == path)
        .map(|(_, _, role)| *role)
}

pub(crate) fn minimum_role(method: &str, path: &str) -> Role {
    // HEAD is answered by the GET route.
    let method = if method.eq_ignore_ascii_case("HEAD") {
        "GET"
    } else {
        method
    };
    declared_role(method, path).unwrap_or_else(|| {
        tracing::warn!(%method, %path, "route has no declared role; owner only");
        Owner
    })
}

pub(crate) fn api_routes(state: ApiState) -> Router {
    Router::new()
        .route("/health", get(system::health))
        .route("/openapi.json", get(system::openapi))
        .route("/events", get(events::stream))
        .route("/settings", get(system::settings))
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}", get(conversations::one))
        .route(
            "/conversations/{id}/messages",
            get(conversations::messages).post(compose::send),
        )
        .route("/conversations/{id}/takeover", post(compose::take_over))
        .route("/conversations/{id}/handback", post(compose::hand_back))
        .route("/conversations/{id}/escalate", post(compose::escalate))
        .route("/conversations/{id}/assign", post(compose::assign))
        .route("/actions", get(actions::list))
        .route("/actions/{id}", get(actions::one))
        .route("/actions/{id}/approve", post(actions::approve))
        .route("/actions/{id}/reject", post(actions::reject))
        .route("/actions/{id}/retry", post(actions::retry))
        .route("/me", get(operators::me))
        .route("/operators", get(operators::list).post(operators::create))
        .route("/operators/{id}", patch(operators::update))
        .route("/operators/{id}/token", post(operators::rotate_token))
        .route("/policies", get(policies::current).put(policies::replace))
        .route("/policies/versions", get(policies::versions))
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
        .route("/providers/{name}", put(providers::put_local))
        .route("/providers/{name}/test", post(providers::test))
        .route("/models", get(providers::model_files))
        .route("/secrets/{name}", put(providers::put_secret))
        .route("/whatsapp", get(whatsapp::status))
        .route("/whatsapp/test", post(whatsapp::test))
        .route("/inbox/failed", get(inbox::failed))
        // role: agent (the media of a conversation's messages; settling lost sends)
        .route("/messages/{id}/media", get(media::get))
        .route("/outbox", get(outbox::list))
        .route("/outbox/{id}/resolve", post(outbox::resolve))
        .route(
            "/sandbox/messages",
            // A simulated customer's file travels in the body, in base64.
            post(sandbox::customer_writes)
                .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024)),
        )
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
            // Graph's `/{version}/{id}` is the phone number or a media id: one route.
            get(sandbox::graph_node),
        )
        .route("/sandbox/graph/media/{media_id}", get(sandbox::graph_media))
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

/// The schema of a query parameter taking one of `values`. Empty is listed too: like an
/// absent parameter, it means no filter (see [`parse_state`]).
pub(crate) fn one_of_values<T: std::fmt::Display>(values: &[T]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(
            std::iter::once(String::new()).chain(values.iter().map(ToString::to_string)),
        ))
        .build()
}

/// The largest page any list returns.
pub(crate) const MAX_PAGE: u32 = 500;

/// `limit` of a list: 1 to [`MAX_PAGE`]. Anything else is refused with the range named,
/// rather than quietly answered with an empty or a shorter page than asked for.
pub(crate) fn page_limit<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u32>, D::Error> {
    let limit = <Option<u32> as serde::Deserialize>::deserialize(deserializer)?;
    match limit {
        Some(n) if !(1..=MAX_PAGE).contains(&n) => Err(serde::de::Error::custom(format!(
            "limit must be between 1 and {MAX_PAGE}, not {n}"
        ))),
        _ => Ok(limit),
    }
}

/// The schema of a time: RFC 3339, or empty, which (like an absent value or null) means none.
pub(crate) fn time_or_empty() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(0)),
        )
        .build()
        .into()
}
