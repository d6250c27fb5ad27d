//! The knowledge base. Reads are open to every operator; writes need an owner.

use crate::extract::{Json as JsonBody, Path, Query};
use crate::{dto, ApiError, ApiState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use switchboard_core::ids::DocumentId;
use switchboard_engine::knowledge::{DocumentDraft, KnowledgeFilter};
use switchboard_engine::Actor;
use utoipa::IntoParams;

#[derive(Deserialize, IntoParams)]
pub(crate) struct KnowledgeQuery {
    /// Full-text search over titles and bodies: every word must match, the last also as a
    /// prefix; results best match first.
    q: Option<String>,
    /// Only documents with this tag.
    tag: Option<String>,
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::page_limit")]
    limit: Option<u32>,
}

fn draft(body: dto::KnowledgeBody) -> DocumentDraft {
    DocumentDraft {
        title: body.title,
        body: body.body,
        tags: body.tags,
    }
}

/// The knowledge base: newest first, or searched with `q`.
#[utoipa::path(get, path = "/api/knowledge", tag = "knowledge", params(KnowledgeQuery),
    responses((status = 200, body = dto::KnowledgePage), (status = 400, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<ApiState>,
    Query(query): Query<KnowledgeQuery>,
) -> Result<Json<dto::KnowledgePage>, ApiError> {
    let filter = KnowledgeFilter {
        query: query.q,
        tag: query.tag.filter(|t| !t.trim().is_empty()),
        cursor: query.cursor,
        limit: query.limit,
    };
    Ok(Json(state.engine.knowledge(filter).await?.into()))
}

/// Adds a document (audited); the next runs can quote it.
#[utoipa::path(post, path = "/api/knowledge", tag = "knowledge", request_body = dto::KnowledgeBody,
    responses((status = 201, body = dto::KnowledgeDocument), (status = 422, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    JsonBody(body): JsonBody<dto::KnowledgeBody>,
) -> Result<(StatusCode, Json<dto::KnowledgeDocument>), ApiError> {
    let document = state.engine.create_knowledge(&actor, draft(body)).await?;
    Ok((StatusCode::CREATED, Json(document.into())))
}

/// One document.
#[utoipa::path(get, path = "/api/knowledge/{id}", tag = "knowledge",
    params(("id" = i64, Path, description = "Document id")),
    responses((status = 200, body = dto::KnowledgeDocument), (status = 404, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn one(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<dto::KnowledgeDocument>, ApiError> {
    Ok(Json(
        state
            .engine
            .knowledge_document(DocumentId(id))
            .await?
            .into(),
    ))
}

/// Replaces a document's title, body and tags (audited).
#[utoipa::path(put, path = "/api/knowledge/{id}", tag = "knowledge",
    params(("id" = i64, Path, description = "Document id")), request_body = dto::KnowledgeBody,
    responses((status = 200, body = dto::KnowledgeDocument), (status = 404, body = crate::ErrorBody),
              (status = 422, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn update(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<dto::KnowledgeBody>,
) -> Result<Json<dto::KnowledgeDocument>, ApiError> {
    Ok(Json(
        state
            .engine
            .update_knowledge(&actor, DocumentId(id), draft(body))
            .await?
            .into(),
    ))
}

/// Removes a document from the knowledge base and from later runs (audited; the row is
/// kept so past runs stay traceable).
#[utoipa::path(delete, path = "/api/knowledge/{id}", tag = "knowledge",
    params(("id" = i64, Path, description = "Document id")),
    responses((status = 204, description = "Removed"), (status = 404, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .engine
        .delete_knowledge(&actor, DocumentId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
