//! A conversation in a human's hands: take it over, hand it back, escalate it, and write
//! to the customer from the composer.

use crate::extract::{Json as JsonBody, Path};
use crate::{dto, ApiError, ApiState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use switchboard_core::ids::ConversationId;
use switchboard_engine::conversations::Composed;
use switchboard_engine::Actor;
use utoipa::ToSchema;

/// Named apart from `dto::HandbackBody` (an escalation's, which takes unknown fields).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(as = ConversationHandbackBody)]
pub(crate) struct HandbackBody {
    /// A note for the AI, put into the conversation's session context.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EscalateBody {
    /// Why a human is needed.
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub reason: String,
}

/// Named apart from the template list's `TemplateBody` in the document: two schemas of
/// one name would make `{"template": …}` point at the wrong one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ComposeTemplate)]
pub(crate) struct TemplateBody {
    pub name: String,
    /// e.g. `es_MX`.
    pub language: String,
    /// Body parameters, in order.
    #[serde(default)]
    pub params: Vec<String>,
}

/// Either `{"text": "…"}` (inside the 24-hour window) or `{"template": {…}}`. Its schema
/// is written out below: the derive cannot say "exactly one of".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ComposeBody {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub template: Option<TemplateBody>,
}

impl utoipa::PartialSchema for ComposeBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
        use utoipa::openapi::Ref;
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "Either `{\"text\": \"…\"}` (inside the 24-hour window) or `{\"template\": {…}}`.",
            ))
            .property(
                "text",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .pattern(Some(r"\S")),
            )
            .property("template", Ref::from_schema_name("ComposeTemplate"))
            .additional_properties(Some(
                AdditionalProperties::<utoipa::openapi::Schema>::FreeForm(false),
            ))
            .min_properties(Some(1))
            .max_properties(Some(1))
            .into()
    }
}

impl ToSchema for ComposeBody {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push(("ComposeTemplate".into(), TemplateBody::schema()));
    }
}

/// Takes the conversation over (opening an escalation if none is waiting): the AI pauses
/// for it until hand-back.
#[utoipa::path(post, path = "/api/conversations/{id}/takeover", tag = "conversations",
    params(("id" = i64, Path, description = "Conversation id")),
    responses((status = 200, body = dto::Escalation), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn take_over(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
) -> Result<Json<dto::Escalation>, ApiError> {
    Ok(Json(
        state
            .engine
            .take_over_conversation(&actor, ConversationId(id))
            .await?
            .into(),
    ))
}

/// Hands the conversation back to the AI: a summary of the human part and the note go
/// into its session context, the escalation is resolved, the AI resumes.
#[utoipa::path(post, path = "/api/conversations/{id}/handback", tag = "conversations",
    params(("id" = i64, Path, description = "Conversation id")), request_body = HandbackBody,
    responses((status = 200, body = dto::Escalation), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn hand_back(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<HandbackBody>,
) -> Result<Json<dto::Escalation>, ApiError> {
    Ok(Json(
        state
            .engine
            .hand_back_conversation(&actor, ConversationId(id), body.note)
            .await?
            .into(),
    ))
}

/// Asks for a human: opens an escalation (or returns the one already open).
#[utoipa::path(post, path = "/api/conversations/{id}/escalate", tag = "conversations",
    params(("id" = i64, Path, description = "Conversation id")), request_body = EscalateBody,
    responses((status = 200, body = dto::Escalation), (status = 404, body = crate::ErrorBody),
              (status = 422, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn escalate(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<EscalateBody>,
) -> Result<Json<dto::Escalation>, ApiError> {
    Ok(Json(
        state
            .engine
            .escalate_conversation(&actor, ConversationId(id), body.reason)
            .await?
            .into(),
    ))
}

/// The operator writes to the customer. The message goes through the outbox like the AI's
/// and is attributed to the operator. Free-form text outside the 24-hour window is refused
/// (422) with the approved templates named.
#[utoipa::path(post, path = "/api/conversations/{id}/messages", tag = "conversations",
    params(("id" = i64, Path, description = "Conversation id")), request_body = ComposeBody,
    responses((status = 202, body = dto::Message), (status = 404, body = crate::ErrorBody),
              (status = 422, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn send(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<ComposeBody>,
) -> Result<(StatusCode, Json<dto::Message>), ApiError> {
    let composed = match (body.text, body.template) {
        (Some(text), None) => Composed::Text(text),
        (None, Some(t)) => Composed::Template {
            name: t.name,
            language: t.language,
            params: t.params,
        },
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "give either text or template, not both and not neither",
            ))
        }
    };
    let message = state
        .engine
        .send_operator_message(&actor, ConversationId(id), composed)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(message.into())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AssignBody {
    /// The operator to give the conversation to; null unassigns it.
    #[serde(deserialize_with = "dto::whole_number")]
    pub operator_id: Option<i64>,
}

#[derive(serde::Serialize, ToSchema)]
pub(crate) struct Assignment {
    pub conversation_id: i64,
    pub operator_id: Option<i64>,
    /// The escalation whose hold moved to the new operator, when a human held it.
    pub escalation: Option<dto::Escalation>,
}

/// Reassigns the conversation (supervisor): when a human holds it, the hold moves to the
/// new operator, who continues and hands it back.
#[utoipa::path(post, path = "/api/conversations/{id}/assign", tag = "conversations",
    params(("id" = i64, Path, description = "Conversation id")), request_body = AssignBody,
    responses((status = 200, body = Assignment), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn assign(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<AssignBody>,
) -> Result<Json<Assignment>, ApiError> {
    let assignment = state
        .engine
        .reassign_conversation(
            &actor,
            ConversationId(id),
            body.operator_id.map(switchboard_core::ids::OperatorId),
        )
        .await?;
    Ok(Json(Assignment {
        conversation_id: assignment.conversation_id.0,
        operator_id: assignment.operator_id.map(|o| o.0),
        escalation: assignment.escalation.map(Into::into),
    }))
}
