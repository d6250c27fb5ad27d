//! The outbox: every outbound message's send, and the operator's decision on a send whose
//! outcome was lost when the process stopped mid-call (`unknown`).

use super::parse_state;
use crate::extract::{Json as JsonBody, Path, Query};
use crate::{ApiError, ApiState};
use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use switchboard_engine::outbox::SendResolution;
use switchboard_engine::Actor;
use switchboard_store::model::{Page, SendState};
use switchboard_store::queries::outbox::OutboxEntry;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// `queued`, `sending`, `sent`, `failed`, `unknown` or `cancelled`; `unknown` lists the
    /// sends an operator must settle.
    #[param(schema_with = send_states)]
    state: Option<String>,
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::page_limit")]
    limit: Option<u32>,
}

/// One outbound message's send.
#[derive(Serialize, ToSchema)]
pub(crate) struct OutboxItem {
    id: i64,
    message_id: i64,
    conversation_id: i64,
    action_id: Option<i64>,
    /// The customer's WhatsApp number.
    recipient: Option<String>,
    /// `queued`, `sending`, `sent`, `failed`, `unknown` (the process stopped during the
    /// send: it may or may not have reached WhatsApp) or `cancelled`.
    state: String,
    attempts: i64,
    last_error: Option<String>,
    text: Option<String>,
    /// When an operator said an `unknown` send never reached WhatsApp and it was queued
    /// again; it is only ever queued again once.
    requeued_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<OutboxEntry> for OutboxItem {
    fn from(e: OutboxEntry) -> Self {
        let time = switchboard_core::clock::to_rfc3339;
        Self {
            id: e.id,
            message_id: e.message_id.0,
            conversation_id: e.conversation_id.0,
            action_id: e.action_id.map(|a| a.0),
            recipient: e.recipient,
            state: e.state.to_string(),
            attempts: e.attempts,
            last_error: e.last_error,
            text: e.text,
            requeued_at: e.requeued_at.map(time),
            created_at: time(e.created_at),
            updated_at: time(e.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct OutboxPage {
    items: Vec<OutboxItem>,
    next_cursor: Option<String>,
}

impl From<Page<OutboxEntry>> for OutboxPage {
    fn from(page: Page<OutboxEntry>) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveBody {
    /// `sent`: it reached the customer, settle it and never send it. `not_sent`: it never
    /// reached WhatsApp, send it again (once).
    #[schema(schema_with = resolutions)]
    outcome: SendResolution,
}

fn resolutions() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["sent", "not_sent"]))
        .build()
}

fn send_states() -> utoipa::openapi::Object {
    super::one_of_values(SendState::ALL)
}

/// Outbound sends, newest first.
#[utoipa::path(get, path = "/api/outbox", tag = "outbox", params(ListQuery),
    responses((status = 200, body = OutboxPage), (status = 400, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<OutboxPage>, ApiError> {
    let filter = parse_state(
        "state",
        query.state.as_deref(),
        SendState::parse,
        SendState::ALL,
    )?;
    Ok(Json(
        state
            .engine
            .outbox_entries(filter, query.cursor, query.limit)
            .await?
            .into(),
    ))
}

/// Settles a send whose outcome was lost (`unknown`): `sent` marks it sent without sending;
/// `not_sent` sends it again, once (a second `not_sent` is refused with 409, so a lost
/// outcome never turns into repeated duplicates). Audited with the operator's name.
#[utoipa::path(post, path = "/api/outbox/{id}/resolve", tag = "outbox",
    params(("id" = i64, Path, description = "Outbox entry id")), request_body = ResolveBody,
    responses((status = 200, body = OutboxItem), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody), (status = 422, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn resolve(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<ResolveBody>,
) -> Result<Json<OutboxItem>, ApiError> {
    Ok(Json(
        state
            .engine
            .resolve_send(&actor, id, body.outcome)
            .await?
            .into(),
    ))
}
