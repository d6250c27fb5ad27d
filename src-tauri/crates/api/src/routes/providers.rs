//! The model providers and the secrets. Owners only (see the route table).

use crate::extract::{Json as JsonBody, Path};
use crate::{dto, ApiError, ApiState};
use axum::extract::State;
use axum::{Extension, Json};
use switchboard_core::Secret;
use switchboard_engine::settings::SecretApplied;
use switchboard_engine::Actor;

/// The model chain as configured, primary first: never a key, only whether one is stored.
#[utoipa::path(get, path = "/api/providers", tag = "providers",
    responses((status = 200, body = dto::ProviderList), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<ApiState>,
) -> Result<Json<dto::ProviderList>, ApiError> {
    let items = state.engine.providers_view().await?;
    Ok(Json(dto::ProviderList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Sends a tiny real request to one provider with the key stored now. Answers 200 either
/// way: `ok` with the latency, or the typed error (e.g. `authentication`).
#[utoipa::path(post, path = "/api/providers/{name}/test", tag = "providers",
    params(("name" = String, Path, description = "Provider name")),
    responses((status = 200, body = dto::ProviderTest), (status = 404, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn test(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<dto::ProviderTest>, ApiError> {
    let outcome = state.engine.test_provider(&name).await?;
    let (reply, error) = match outcome.result {
        Ok(reply) => (Some(reply), None),
        Err(error) => (None, Some(error.into())),
    };
    Ok(Json(dto::ProviderTest {
        ok: reply.is_some(),
        provider: name,
        latency_ms: outcome.latency_ms,
        model: reply.as_ref().map(|r| r.model.clone()),
        tokens_in: reply.as_ref().map(|r| r.tokens_in),
        tokens_out: reply.as_ref().map(|r| r.tokens_out),
        reply: reply.map(|r| r.text),
        error,
    }))
}

/// The `.gguf` files in the data directory's `models` folder, to choose a local provider's
/// model from.
#[utoipa::path(get, path = "/api/models", tag = "providers",
    responses((status = 200, body = dto::ModelFolder), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody), (status = 503, body = crate::ErrorBody)))]
pub(crate) async fn model_files(
    State(state): State<ApiState>,
) -> Result<Json<dto::ModelFolder>, ApiError> {
    Ok(Json(state.engine.model_folder().await?.into()))
}

/// Adds a `local` provider, or changes the model file of one: a file of the models folder
/// by name, or an absolute path. The file must exist, be readable and be a GGUF model
/// (422 otherwise, saying why). The choice is kept in the database and applies at once:
/// the chain is rebuilt, loading the new model and letting the old one go. A provider the
/// configuration file names must be `local` there; one it does not name is added as the
/// last fallback. Test it with `POST /api/providers/{name}/test`.
#[utoipa::path(put, path = "/api/providers/{name}", tag = "providers",
    params(("name" = String, Path, description = "Provider name (the built-in offline one is `local`)")),
    request_body = dto::LocalProviderBody,
    responses((status = 200, body = dto::Provider), (status = 422, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn put_local(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<dto::LocalProviderBody>,
) -> Result<Json<dto::Provider>, ApiError> {
    if body.kind != "local" {
        return Err(switchboard_engine::EngineError::Invalid(format!(
            "kind {:?}: only local providers are added or edited here; remote providers are set in the configuration file",
            body.kind
        ))
        .into());
    }
    state
        .engine
        .set_local_model(&actor, &name, &body.model)
        .await?;
    let view = state
        .engine
        .providers_view()
        .await?
        .into_iter()
        .find(|p| p.name == name.trim())
        .ok_or_else(|| {
            switchboard_engine::EngineError::Internal(format!(
                "provider {name:?} is missing from the chain just rebuilt"
            ))
        })?;
    Ok(Json(view.into()))
}

/// Stores a secret in the secret store (the OS keyring in the desktop app). The value is
/// never echoed; the audit record names the secret only. Names: `whatsapp.access-token`,
/// `whatsapp.app-secret`, `whatsapp.verify-token`, `llm.<provider>`.
#[utoipa::path(put, path = "/api/secrets/{name}", tag = "providers",
    params(("name" = String, Path, description = "The secret's name")), request_body = dto::SecretBody,
    responses((status = 200, body = dto::SecretStored), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody, description = "This deployment's secret store takes no writes (secrets from environment variables)"),
              (status = 422, body = crate::ErrorBody), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn put_secret(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<dto::SecretBody>,
) -> Result<Json<dto::SecretStored>, ApiError> {
    let value = Secret::new(body.value);
    let applies = state.engine.set_secret(&actor, &name, value).await?;
    Ok(Json(dto::SecretStored {
        name,
        applies: match applies {
            SecretApplied::Now => "now",
            SecretApplied::AfterRestart => "after_restart",
        }
        .into(),
    }))
}
