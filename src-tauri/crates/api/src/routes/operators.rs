//! Who am I, and operator accounts (owner only, see `ROUTE_ROLES`).

use crate::extract::{Json as JsonBody, Path};
use crate::{ApiError, ApiState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use switchboard_core::clock::to_rfc3339;
use switchboard_core::ids::OperatorId;
use switchboard_engine::operators::{IssuedToken, NewOperatorInput};
use switchboard_engine::Actor;
use switchboard_store::model::{self, Role};
use utoipa::ToSchema;

/// The caller, as the API sees them.
#[derive(Serialize, ToSchema)]
pub(crate) struct Me {
    /// Null for the engine's own token (the built-in owner).
    pub operator_id: Option<i64>,
    pub name: String,
    /// `agent`, `supervisor` or `owner`.
    pub role: String,
    /// The label audit records carry, e.g. `operator:3:Ana`.
    pub label: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Operator {
    pub id: i64,
    pub name: String,
    pub email: Option<String>,
    /// `agent`, `supervisor` or `owner`.
    pub role: String,
    pub active: bool,
    pub created_at: String,
}

impl From<model::Operator> for Operator {
    fn from(o: model::Operator) -> Self {
        Self {
            id: o.id.0,
            name: o.name,
            email: o.email,
            role: o.role.to_string(),
            active: o.active,
            created_at: to_rfc3339(o.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct OperatorList {
    pub items: Vec<Operator>,
}

/// An operator and their new token. The token is shown this once: only its hash is kept.
#[derive(Serialize, ToSchema)]
pub(crate) struct OperatorWithToken {
    pub operator: Operator,
    pub token: String,
}

impl From<IssuedToken> for OperatorWithToken {
    fn from(issued: IssuedToken) -> Self {
        Self {
            operator: issued.operator.into(),
            token: issued.token.expose().to_string(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewOperatorBody {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// `agent`, `supervisor` or `owner`.
    #[schema(schema_with = roles)]
    pub role: String,
}

/// A new role, `active`, or both. Its schema is written out below: the derive cannot say
/// "at least one of".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OperatorPatch {
    #[serde(default, deserialize_with = "not_null")]
    pub role: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    pub active: Option<bool>,
}

/// A field that may be left out but is never `null`: a patch says what changes.
fn not_null<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

impl utoipa::PartialSchema for OperatorPatch {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("role", roles())
            .property(
                "active",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some(
                        "`false` locks the operator out (their token stops working).",
                    )),
            )
            .additional_properties(Some(
                AdditionalProperties::<utoipa::openapi::Schema>::FreeForm(false),
            ))
            .min_properties(Some(1))
            .into()
    }
}

impl ToSchema for OperatorPatch {}

fn roles() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(Role::ALL.iter().map(|r| r.as_str())))
        .build()
}

fn parse_role(text: &str) -> Result<Role, ApiError> {
    Role::parse(text).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("role must be agent, supervisor or owner, not {text:?}"),
        )
    })
}

/// Who the caller is and what role they have.
#[utoipa::path(get, path = "/api/me", tag = "operators",
    responses((status = 200, body = Me), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn me(Extension(actor): Extension<Actor>) -> Json<Me> {
    Json(Me {
        operator_id: actor.operator_id.map(|o| o.0),
        label: actor.label(),
        name: actor.name,
        role: actor.role.to_string(),
    })
}

/// Every operator account.
#[utoipa::path(get, path = "/api/operators", tag = "operators",
    responses((status = 200, body = OperatorList), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn list(State(state): State<ApiState>) -> Result<Json<OperatorList>, ApiError> {
    let items = state.engine.operators().await?;
    Ok(Json(OperatorList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Creates an operator; the answer holds their token, shown this once.
#[utoipa::path(post, path = "/api/operators", tag = "operators", request_body = NewOperatorBody,
    responses((status = 201, body = OperatorWithToken), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody), (status = 409, body = crate::ErrorBody),
              (status = 422, body = crate::ErrorBody)))]
pub(crate) async fn create(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    JsonBody(body): JsonBody<NewOperatorBody>,
) -> Result<(StatusCode, Json<OperatorWithToken>), ApiError> {
    let role = parse_role(&body.role)?;
    let issued = state
        .engine
        .create_operator(
            &actor,
            NewOperatorInput {
                name: body.name,
                email: body.email,
                role,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(issued.into())))
}

/// Changes an operator's role or active flag.
#[utoipa::path(patch, path = "/api/operators/{id}", tag = "operators",
    params(("id" = i64, Path, description = "Operator id")), request_body = OperatorPatch,
    responses((status = 200, body = Operator), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody), (status = 422, body = crate::ErrorBody)))]
pub(crate) async fn update(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<OperatorPatch>,
) -> Result<Json<Operator>, ApiError> {
    let role = body.role.as_deref().map(parse_role).transpose()?;
    Ok(Json(
        state
            .engine
            .update_operator(&actor, OperatorId(id), role, body.active)
            .await?
            .into(),
    ))
}

/// Issues a new token for the operator; the old one stops working at once.
#[utoipa::path(post, path = "/api/operators/{id}/token", tag = "operators",
    params(("id" = i64, Path, description = "Operator id")),
    responses((status = 200, body = OperatorWithToken), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody), (status = 404, body = crate::ErrorBody)))]
pub(crate) async fn rotate_token(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<OperatorWithToken>, ApiError> {
    Ok(Json(
        state
            .engine
            .rotate_operator_token(&actor, OperatorId(id))
            .await?
            .into(),
    ))
}
