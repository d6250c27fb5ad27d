use crate::extract::Json as JsonBody;
use crate::{ApiError, ApiState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_engine::sandbox::{SimulatedMedia, SimulatedMessage};
use utoipa::ToSchema;

/// Its schema is written out below: JSON Schema can say "text, or media, or both", the
/// derive cannot.
#[derive(Deserialize)]
pub(crate) struct SimulatedMessageBody {
    /// The simulated customer's phone number, digits only.
    from: String,
    name: Option<String>,
    /// The message; with `media`, its caption (optional then).
    text: Option<String>,
    /// A file the customer sends: an image, a video, a voice note or a document.
    media: Option<SimulatedMediaBody>,
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct SimulatedMediaBody {
    /// e.g. `image/jpeg`; decides the message type (image, video, audio or document).
    #[schema(pattern = r"^[A-Za-z0-9.+_-]+/[A-Za-z0-9.+_-]+$")]
    mime_type: String,
    /// The file's bytes in base64 (the request may be up to 16 MiB); not empty.
    #[schema(
        pattern = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)$"
    )]
    data_base64: String,
    /// A document's file name.
    filename: Option<String>,
}

impl utoipa::PartialSchema for SimulatedMessageBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, ObjectBuilder, OneOfBuilder};
        use utoipa::openapi::schema::{SchemaType, Type};
        use utoipa::openapi::Ref;
        let string = || ObjectBuilder::new().schema_type(Type::String);
        let nullable_string =
            || ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]));
        let media = || Ref::from_schema_name("SimulatedMediaBody");
        let fields = ObjectBuilder::new()
            .property(
                "from",
                string().pattern(Some("^[0-9]{6,15}$")).description(Some(
                    "The simulated customer's phone number, 6 to 15 digits.",
                )),
            )
            .required("from")
            .property("name", nullable_string())
            .property(
                "text",
                nullable_string().description(Some(
                    "The message; with `media`, its caption (optional then).",
                )),
            )
            .property(
                "media",
                OneOfBuilder::new()
                    .item(ObjectBuilder::new().schema_type(Type::Null))
                    .item(media())
                    .description(Some(
                        "A file the customer sends: an image, a video, a voice note or a document.",
                    )),
            );
        let text_or_media = AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .property("text", string().min_length(Some(1)).pattern(Some(r"\S")))
                    .required("text"),
            )
            .item(
                ObjectBuilder::new()
                    .property("media", media())
                    .required("media"),
            );
        AllOfBuilder::new()
            .item(fields)
            .item(text_or_media)
            .description(Some("A text message, or a file with an optional caption."))
            .into()
    }
}

impl ToSchema for SimulatedMessageBody {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push(("SimulatedMediaBody".into(), SimulatedMediaBody::schema()));
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Accepted {
    inbox_id: i64,
}

/// Sandbox only: a simulated customer writes, or sends a file. The message enters through
/// the signed webhook path, exactly like a real one; a file is then served by the sandbox's
/// Graph API and downloaded like a real customer's media.
#[utoipa::path(post, path = "/api/sandbox/messages", tag = "sandbox", request_body = SimulatedMessageBody,
    responses((status = 202, body = Accepted), (status = 409, body = crate::ErrorBody),
              (status = 422, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn customer_writes(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<SimulatedMessageBody>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let id = match body.media {
        Some(media) => {
            let media =
                SimulatedMedia::from_base64(media.mime_type, &media.data_base64, media.filename)?;
            state
                .engine
                .sandbox_customer_sends_media(&body.from, body.name, body.text, media)
                .await?
        }
        None => {
            state
                .engine
                .sandbox_customer_writes(SimulatedMessage {
                    from: body.from,
                    name: body.name,
                    text: body.text.unwrap_or_default(),
                })
                .await?
        }
    };
    Ok((StatusCode::ACCEPTED, Json(Accepted { inbox_id: id.0 })))
}

/// Sandbox only: the local Graph API that the outbox sends to. Answers as Meta does.
pub(crate) async fn graph_send(
    State(state): State<ApiState>,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match state.engine.sandbox_graph_send(bearer, &body) {
        Ok(response) => Json(response).into_response(),
        // Graph's own error shape, so the client classifies it like a real answer.
        Err(e) => {
            let (status, code) = match &e {
                switchboard_engine::EngineError::Forbidden(_) => (StatusCode::UNAUTHORIZED, 190),
                switchboard_engine::EngineError::NotFound(_) => (StatusCode::NOT_FOUND, 100),
                _ => (StatusCode::BAD_REQUEST, 100),
            };
            let body = serde_json::json!({"error": {"message": e.to_string(), "type": "OAuthException", "code": code, "fbtrace_id": "sandbox"}});
            (status, Json(body)).into_response()
        }
    }
}

fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Graph's error shape, so the client classifies a sandbox refusal like a real one.
fn graph_error(e: switchboard_engine::EngineError) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (status, code, subcode) = match &e {
        switchboard_engine::EngineError::Forbidden(_) => (StatusCode::UNAUTHORIZED, 190, None),
        switchboard_engine::EngineError::NotFound(_) => (StatusCode::BAD_REQUEST, 100, Some(33)),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, 2, None),
    };
    let mut error = serde_json::json!({"message": e.to_string(), "type": "OAuthException", "code": code, "fbtrace_id": "sandbox"});
    if let Some(subcode) = subcode {
        error["error_subcode"] = serde_json::json!(subcode);
    }
    (status, Json(serde_json::json!({ "error": error }))).into_response()
}

/// Sandbox only: the local Graph API's `GET /{version}/{id}`. Like Graph, one path serves
/// every node: the sandbox's phone number, or a simulated customer's media (the URL
/// lookup, answered as Meta does).
pub(crate) async fn graph_node(
    State(state): State<ApiState>,
    axum::extract::Path((version, id)): axum::extract::Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if id == switchboard_engine::sandbox::SANDBOX_PHONE_NUMBER_ID {
        return super::whatsapp::sandbox_phone_number(
            State(state),
            axum::extract::Path((version, id)),
            headers,
        )
        .await;
    }
    match state
        .engine
        .sandbox_graph_media_lookup(bearer(&headers), &id)
        .await
    {
        Ok(body) => Json(body).into_response(),
        Err(e) => graph_error(e),
    }
}

/// Sandbox only: the bytes behind a sandbox media URL (fetched with the bearer token, as
/// WhatsApp's media host requires).
pub(crate) async fn graph_media(
    State(state): State<ApiState>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match state
        .engine
        .sandbox_graph_media_bytes(bearer(&headers), &id)
        .await
    {
        Ok((mime_type, bytes)) => {
            ([(axum::http::header::CONTENT_TYPE, mime_type)], bytes).into_response()
        }
        Err(e) => graph_error(e),
    }
}
