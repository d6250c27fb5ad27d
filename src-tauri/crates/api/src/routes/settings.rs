//! Settings: the context layers and the approved templates. Reads are open to every
//! operator (nothing here is secret); writes need an owner.

use crate::extract::{Json as JsonBody, Path};
use crate::{dto, ApiError, ApiState};
use axum::extract::State;
use axum::{Extension, Json};
use switchboard_engine::settings::{Layer, Template};
use switchboard_engine::{Actor, EngineError};

fn layer(name: &str) -> Result<Layer, ApiError> {
    Layer::parse(name).ok_or_else(|| {
        EngineError::NotFound(format!(
            "no context layer is named {name:?}; the editable ones are system and domain"
        ))
        .into()
    })
}

/// The system and domain layers as the next run will use them.
#[utoipa::path(get, path = "/api/context-layers", tag = "settings",
    responses((status = 200, body = dto::LayerSettings), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn layers(
    State(state): State<ApiState>,
) -> Result<Json<dto::LayerSettings>, ApiError> {
    let mut layers = state.engine.context_layers().await?.into_iter();
    match (layers.next(), layers.next()) {
        (Some(system), Some(domain)) => Ok(Json(dto::LayerSettings {
            system: system.into(),
            domain: domain.into(),
        })),
        _ => Err(EngineError::Internal("a context layer is missing".into()).into()),
    }
}

/// Saves a new version of a layer (audited); later runs use it.
#[utoipa::path(put, path = "/api/context-layers/{layer}", tag = "settings",
    params(("layer" = String, Path, description = "`system` or `domain`")),
    request_body = dto::LayerSettingBody,
    responses((status = 200, body = dto::LayerSetting), (status = 404, body = crate::ErrorBody),
              (status = 409, body = crate::ErrorBody), (status = 422, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn put_layer(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<dto::LayerSettingBody>,
) -> Result<Json<dto::LayerSetting>, ApiError> {
    let layer = layer(&name)?;
    Ok(Json(
        state
            .engine
            .set_context_layer(&actor, layer, body.content, body.base_version)
            .await?
            .into(),
    ))
}

/// Every saved version of a layer with its content, newest first.
#[utoipa::path(get, path = "/api/context-layers/{layer}/versions", tag = "settings",
    params(("layer" = String, Path, description = "`system` or `domain`")),
    responses((status = 200, body = dto::LayerSettingVersions), (status = 404, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn layer_versions(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<dto::LayerSettingVersions>, ApiError> {
    let layer = layer(&name)?;
    let versions = state.engine.context_layer_versions(layer).await?;
    Ok(Json(dto::LayerSettingVersions {
        layer: layer.as_str().into(),
        versions: versions.into_iter().map(Into::into).collect(),
    }))
}

/// The configured message templates (those Meta approved for this number).
#[utoipa::path(get, path = "/api/templates", tag = "settings",
    responses((status = 200, body = dto::TemplateList), (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn templates(
    State(state): State<ApiState>,
) -> Result<Json<dto::TemplateList>, ApiError> {
    let items = state.engine.templates().await?;
    Ok(Json(dto::TemplateList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Replaces the whole list of templates (audited). Checked first: one bad entry changes
/// nothing.
#[utoipa::path(put, path = "/api/templates", tag = "settings", request_body = dto::TemplatesBody,
    responses((status = 200, body = dto::TemplateList), (status = 422, body = crate::ErrorBody),
              (status = 401, body = crate::ErrorBody), (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn put_templates(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    JsonBody(body): JsonBody<dto::TemplatesBody>,
) -> Result<Json<dto::TemplateList>, ApiError> {
    // Meta's components are objects; the engine checks only that they are a list.
    if let Some(t) = body.templates.iter().find(|t| {
        t.components
            .as_array()
            .is_some_and(|c| c.iter().any(|c| !c.is_object()))
    }) {
        return Err(EngineError::Invalid(format!(
            "template {:?}: each component is an object such as {{\"type\": \"BODY\", \"text\": \"…\"}}",
            t.name
        ))
        .into());
    }
    let templates = body
        .templates
        .into_iter()
        .map(|t| Template {
            name: t.name.trim().to_string(),
            language: t.language.trim().to_string(),
            category: t.category.trim().to_ascii_uppercase(),
            components: t.components,
            status: t.status.trim().to_ascii_lowercase(),
        })
        .collect();
    let items = state.engine.set_templates(&actor, templates).await?;
    Ok(Json(dto::TemplateList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}
