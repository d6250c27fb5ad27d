use super::parse_state;
use crate::audit_export::ExportFormat;
use crate::extract::Query;
use crate::{dto, ApiError, ApiState};
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use switchboard_core::ids::{ActionId, ConversationId, OperatorId};
use switchboard_engine::audit::{operator_actor_prefix, AuditFilter};
use switchboard_store::model::ActorKind;
use switchboard_store::queries::audit::ChainStatus;
use utoipa::IntoParams;

/// The filters `GET /api/audit` and its export share. (Declared twice through this macro
/// because query strings cannot carry numbers through `#[serde(flatten)]`.)
macro_rules! audit_query {
    ($(#[$meta:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$meta])*
        #[derive(Deserialize, IntoParams)]
        pub(crate) struct $name {
            conversation_id: Option<i64>,
            action_id: Option<i64>,
            /// An exact actor label, e.g. `operator:owner` or `executor`.
            actor: Option<String>,
            /// Every record of this operator (by id), whatever the name in its label.
            operator_id: Option<i64>,
            /// `system`, `model` or `operator`.
            #[param(schema_with = actor_kinds)]
            actor_kind: Option<String>,
            /// The outcome: one event kind or several separated by commas, e.g.
            /// `action.approved,action.rejected`.
            kind: Option<String>,
            /// Records about actions of this type, e.g. `reply` or `send_template`.
            action_kind: Option<String>,
            /// Only records at or after this time (RFC 3339).
            #[param(schema_with = super::time_or_empty)]
            #[serde(alias = "since")]
            from: Option<String>,
            /// Only records before this time (RFC 3339).
            #[param(schema_with = super::time_or_empty)]
            #[serde(alias = "until")]
            to: Option<String>,
            $($extra)*
        }

        impl $name {
            fn filter(&self) -> Result<AuditFilter, ApiError> {
                let kinds = self
                    .kind
                    .as_deref()
                    .unwrap_or("")
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect();
                Ok(AuditFilter {
                    conversation_id: self.conversation_id.map(ConversationId),
                    action_id: self.action_id.map(ActionId),
                    actor: self.actor.clone().filter(|a| !a.is_empty()),
                    actor_prefix: self.operator_id.map(|id| operator_actor_prefix(OperatorId(id))),
                    actor_kind: parse_state(
                        "actor_kind",
                        self.actor_kind.as_deref(),
                        ActorKind::parse,
                        ActorKind::ALL,
                    )?,
                    kinds,
                    action_kind: self.action_kind.clone().filter(|a| !a.is_empty()),
                    since: parse_time("from", self.from.as_deref())?,
                    until: parse_time("to", self.to.as_deref())?,
                    cursor: None,
                    limit: None,
                })
            }
        }
    };
}

audit_query!(AuditQuery {
    cursor: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "super::page_limit")]
    limit: Option<u32>,
});

audit_query!(ExportQuery {
    /// `jsonl` (one record per line) or `csv` (with a header row).
    #[param(value_type = ExportFormatName, inline)]
    format: String,
});

pub(crate) fn parse_time(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            switchboard_core::clock::parse_rfc3339(v).ok_or_else(|| {
                ApiError::bad_request(format!("{name} must be an RFC 3339 time, not {v:?}"))
            })
        })
        .transpose()
}

/// What `format` may say, as [`ExportFormat::parse`] reads it; only its schema is used.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum ExportFormatName {
    Jsonl,
    Csv,
}

fn actor_kinds() -> utoipa::openapi::Object {
    super::one_of_values(ActorKind::ALL)
}

/// The audit trail, newest first. Filters combine (all must match).
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = dto::AuditPage), (status = 400, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<ApiState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<dto::AuditPage>, ApiError> {
    let mut filter = query.filter()?;
    filter.cursor = query.cursor;
    filter.limit = query.limit;
    Ok(Json(state.engine.audit(filter).await?.into()))
}

/// Streams the matching records, oldest first (chain order), as JSONL or CSV. Each
/// record carries `at_ms`, `detail` as the exact JSON text its hash covers, `prev_hash` and
/// `hash`: an unfiltered export can be checked offline by recomputing the chain
/// (SHA-256 over `prev_hash`, a newline and the JSON array
/// `[id, at_ms, actor_kind, actor, kind, conversation_id, run_id, action_id, detail]`).
/// The export stops at the newest record at the time of the request.
#[utoipa::path(get, path = "/api/audit/export", tag = "audit", params(ExportQuery),
    responses((status = 200, description = "The records, streamed",
                content((String = "application/jsonl"), (String = "text/csv"))),
              (status = 400, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn export(
    State(state): State<ApiState>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = ExportFormat::parse(&query.format).ok_or_else(|| {
        ApiError::bad_request(format!(
            "format must be jsonl or csv, not {:?}",
            query.format
        ))
    })?;
    let filter = query.filter()?;
    // Started before answering, so a database failure is a proper error response.
    let cursor = state.engine.audit_export_start().await?;
    let engine = state.engine.clone();
    let records = futures::stream::try_unfold(
        (engine, filter, cursor),
        move |(engine, filter, mut cursor)| async move {
            let batch = engine
                .audit_export_next(&filter, &mut cursor)
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            if batch.is_empty() {
                return Ok(None);
            }
            let bytes = format.encode(&batch).map_err(std::io::Error::other)?;
            Ok::<_, std::io::Error>(Some((bytes, (engine, filter, cursor))))
        },
    );
    let preamble = futures::stream::once(async move { Ok(format.preamble()) });
    let body = Body::from_stream(futures::StreamExt::chain(preamble, records));
    let filename = format!(
        "switchboard-audit-{}.{}",
        state.engine.now_ms(),
        format.extension()
    );
    Response::builder()
        .header(header::CONTENT_TYPE, format.content_type())
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        )
        .header(header::CACHE_CONTROL, "no-store")
        .body(body)
        .map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                e.to_string(),
            )
        })
}

/// Checks the hash chain of the whole trail and names the first broken record.
#[utoipa::path(get, path = "/api/audit/verify", tag = "audit",
    responses((status = 200, body = dto::AuditVerification), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn verify(
    State(state): State<ApiState>,
) -> Result<Json<dto::AuditVerification>, ApiError> {
    Ok(Json(match state.engine.verify_audit().await? {
        ChainStatus::Intact { records } => dto::AuditVerification {
            intact: true,
            records: Some(records),
            broken_at: None,
            reason: None,
        },
        ChainStatus::Broken { record_id, reason } => dto::AuditVerification {
            intact: false,
            records: None,
            broken_at: Some(record_id),
            reason: Some(reason),
        },
    }))
}
