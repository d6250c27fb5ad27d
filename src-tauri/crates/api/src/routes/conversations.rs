use super::parse_state;
use crate::extract::{Path, Query};
use crate::{dto, ApiError, ApiState};
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use switchboard_core::ids::{ConversationId, MessageId};
use switchboard_engine::conversations::ConversationFilter;
use switchboard_store::model::ConversationState;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
pub(crate) struct ListQuery {
    /// `ai_active`, `awaiting_approval`, `escalated`, `human` or `closed`.
    #[param(schema_with = conversation_states)]
    state: Option<String>,
    /// Full-text search over messages, the contact's name and number.
    q: Option<String>,
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::page_limit")]
    limit: Option<u32>,
}

fn conversation_states() -> utoipa::openapi::Object {
    super::one_of_values(ConversationState::ALL)
}

/// Conversations, most recent activity first.
#[utoipa::path(get, path = "/api/conversations", tag = "conversations", params(ListQuery),
    responses((status = 200, body = dto::ConversationPage), (status = 400, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<ApiState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<dto::ConversationPage>, ApiError> {
    let filter = ConversationFilter {
        state: parse_state(
            "state",
            query.state.as_deref(),
            ConversationState::parse,
            ConversationState::ALL,
        )?,
        query: query.q,
        cursor: query.cursor,
        limit: query.limit,
    };
    Ok(Json(state.engine.conversations(filter).await?.into()))
}

/// One conversation.
#[utoipa::path(get, path = "/api/conversations/{id}", tag = "conversations",
    params(("id" = i64, Path, description = "Conversation id")),
    responses((status = 200, body = dto::Conversation), (status = 404, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn one(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<dto::Conversation>, ApiError> {
    Ok(Json(
        state.engine.conversation(ConversationId(id)).await?.into(),
    ))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct MessagesQuery {
    /// Messages older than this message id (the `next_cursor` of the previous page).
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::page_limit")]
    limit: Option<u32>,
}

/// A conversation's messages, oldest first within the page; pages go back in time.
#[utoipa::path(get, path = "/api/conversations/{id}/messages", tag = "conversations",
    params(("id" = i64, Path, description = "Conversation id"), MessagesQuery),
    responses((status = 200, body = dto::MessagePage), (status = 404, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn messages(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    Query(query): Query<MessagesQuery>,
) -> Result<Json<dto::MessagePage>, ApiError> {
    let before = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => {
            Some(MessageId(c.parse().map_err(|_| {
                ApiError::bad_request("cursor must be a message id")
            })?))
        }
        None => None,
    };
    Ok(Json(
        state
            .engine
            .messages(ConversationId(id), before, query.limit)
            .await?
            .into(),
    ))
}
