//! The action policies: read them, replace them (owner), see their versions.

use crate::extract::Json as JsonBody;
use crate::{ApiError, ApiState};
use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use switchboard_core::clock::to_rfc3339;
use switchboard_engine::policies::PolicyInForce;
use switchboard_engine::Actor;
use switchboard_store::model::PolicyVersion;
use utoipa::ToSchema;

/// The policy in force. Rules are tried in order and the first match wins; an action no
/// rule matches gets its kind's default (`defaults`).
#[derive(Serialize, ToSchema)]
pub(crate) struct Policies {
    /// 0 when no policy was ever saved (the built-in defaults apply).
    pub version: i64,
    /// `[{"action": "reply" | "*" | …, "when": {"confidence_below", "any_tag",
    /// "outside_business_hours", "param_above": {"field", "above"},
    /// "param_equals": {"field", "equals"}}, "verdict": "auto" | "approval" | "forbid"}]`
    #[schema(value_type = Vec<Object>)]
    pub rules: serde_json::Value,
    /// The verdict of each built-in action kind when no rule matches.
    #[schema(value_type = Object)]
    pub defaults: serde_json::Value,
    pub author: Option<String>,
    pub created_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PolicyVersionDto {
    pub version: i64,
    #[schema(value_type = Vec<Object>)]
    pub rules: serde_json::Value,
    pub author: String,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PolicyVersions {
    /// Newest first.
    pub items: Vec<PolicyVersionDto>,
}

/// `{"rules": [...]}`: the whole rule set, replacing the current one.
#[derive(serde::Deserialize, ToSchema)]
pub(crate) struct PoliciesBody {
    #[schema(schema_with = rules_schema)]
    pub rules: serde_json::Value,
}

/// The rules as `switchboard_pipeline::policy::Rule` reads them and the engine's
/// `validate_policy` checks them, so a client (or a property-based tester) knows what is
/// accepted before sending it. `action` lists the built-in kinds; a custom action from the
/// configuration is accepted too, but the document cannot know those.
fn rules_schema() -> utoipa::openapi::schema::ArrayBuilder {
    use switchboard_engine::policies::BUILTIN_KINDS;
    use utoipa::openapi::schema::{
        AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type,
    };
    let closed = || {
        Some(AdditionalProperties::<utoipa::openapi::Schema>::FreeForm(
            false,
        ))
    };
    let non_blank = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"\S"))
    };
    let or_null = |schema: ObjectBuilder| {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .item(schema)
    };
    let when = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "When the rule applies; every condition given must hold.",
        ))
        .additional_properties(closed())
        .property(
            "confidence_below",
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Number, Type::Null]))
                .exclusive_minimum(Some(0.0))
                .maximum(Some(1.0)),
        )
        .property("any_tag", ArrayBuilder::new().items(non_blank()))
        .property(
            "outside_business_hours",
            ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::Boolean, Type::Null])),
        )
        .property(
            "param_above",
            or_null(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("field", non_blank())
                    .property("above", ObjectBuilder::new().schema_type(Type::Number))
                    .required("field")
                    .required("above"),
            ),
        )
        .property(
            "param_equals",
            or_null(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("field", non_blank())
                    .property(
                        "equals",
                        ObjectBuilder::new().schema_type(SchemaType::AnyValue),
                    )
                    .required("field")
                    .required("equals"),
            ),
        );
    let rule = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(closed())
        .property(
            "action",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(
                    std::iter::once("*").chain(BUILTIN_KINDS.iter().copied()),
                ))
                .description(Some("An action kind, or `*` for every kind.")),
        )
        .property(
            "verdict",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["auto", "approval", "forbid"])),
        )
        .property("when", when)
        .required("action")
        .required("verdict");
    // The engine's `MAX_RULES`.
    ArrayBuilder::new().items(rule).max_items(Some(200))
}

fn defaults() -> serde_json::Value {
    let map = switchboard_engine::policies::BUILTIN_KINDS
        .iter()
        .map(|kind| {
            let verdict = switchboard_engine::policies::default_verdict_name(kind);
            (kind.to_string(), serde_json::Value::String(verdict.into()))
        })
        .collect();
    serde_json::Value::Object(map)
}

impl From<PolicyInForce> for Policies {
    fn from(p: PolicyInForce) -> Self {
        Self {
            version: p.version,
            rules: serde_json::to_value(&p.policy.rules).unwrap_or_default(),
            defaults: defaults(),
            author: p.author,
            created_at: p.created_at.map(to_rfc3339),
        }
    }
}

impl From<PolicyVersion> for PolicyVersionDto {
    fn from(v: PolicyVersion) -> Self {
        Self {
            version: v.version,
            rules: v.rules.get("rules").cloned().unwrap_or(v.rules),
            author: v.author,
            created_at: to_rfc3339(v.created_at),
        }
    }
}

/// The policy in force.
#[utoipa::path(get, path = "/api/policies", tag = "policies",
    responses((status = 200, body = Policies), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn current(State(state): State<ApiState>) -> Result<Json<Policies>, ApiError> {
    Ok(Json(state.engine.policy_in_force().await?.into()))
}

/// Replaces the rules: validated, stored as a new version, audited (old → new), and in
/// force for the next run.
#[utoipa::path(put, path = "/api/policies", tag = "policies", request_body = PoliciesBody,
    responses((status = 200, body = Policies), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody), (status = 422, body = crate::ErrorBody)))]
pub(crate) async fn replace(
    State(state): State<ApiState>,
    Extension(actor): Extension<Actor>,
    JsonBody(body): JsonBody<PoliciesBody>,
) -> Result<Json<Policies>, ApiError> {
    let rules = serde_json::json!({ "rules": body.rules });
    Ok(Json(state.engine.set_policies(&actor, rules).await?.into()))
}

/// Every saved version, newest first.
#[utoipa::path(get, path = "/api/policies/versions", tag = "policies",
    responses((status = 200, body = PolicyVersions), (status = 401, body = crate::ErrorBody),
              (status = 403, body = crate::ErrorBody)))]
pub(crate) async fn versions(
    State(state): State<ApiState>,
) -> Result<Json<PolicyVersions>, ApiError> {
    let items = state.engine.policy_versions().await?;
    Ok(Json(PolicyVersions {
        items: items.into_iter().map(Into::into).collect(),
    }))
}
