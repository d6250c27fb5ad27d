//! The OpenAPI document, generated from the handlers and wire types. It is also checked in
//! at `docs/openapi.json`; a test fails when the two differ.

use crate::dto;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard operator API", description = "Operate AI-assisted WhatsApp conversations: \
        every route needs `Authorization: Bearer <token>`."),
    paths(
        crate::routes::system::health,
        crate::routes::system::openapi,
        crate::routes::system::settings,
        crate::routes::events::stream,
        crate::routes::conversations::list,
        crate::routes::conversations::one,
        crate::routes::conversations::messages,
        crate::routes::actions::list,
        crate::routes::actions::one,
        crate::routes::actions::approve,
        crate::routes::actions::reject,
        crate::routes::actions::retry,
        crate::routes::compose::take_over,
        crate::routes::compose::hand_back,
        crate::routes::compose::escalate,
        crate::routes::compose::send,
        crate::routes::compose::assign,
        crate::routes::operators::me,
        crate::routes::operators::list,
        crate::routes::operators::create,
        crate::routes::operators::update,
        crate::routes::operators::rotate_token,
        crate::routes::policies::current,
        crate::routes::policies::replace,
        crate::routes::policies::versions,
        crate::routes::escalations::list,
        crate::routes::runs::one,
        crate::routes::runs::replay,
        crate::routes::escalations::take_over,
        crate::routes::escalations::hand_back,
        crate::routes::audit::list,
        crate::routes::audit::export,
        crate::routes::audit::verify,
        crate::routes::tasks::list,
        crate::routes::tasks::create,
        crate::routes::tasks::one,
        crate::routes::tasks::update,
        crate::routes::metrics::daily,
        crate::routes::settings::layers,
        crate::routes::settings::put_layer,
        crate::routes::settings::layer_versions,
        crate::routes::settings::templates,
        crate::routes::settings::put_templates,
        crate::routes::knowledge::list,
        crate::routes::knowledge::create,
        crate::routes::knowledge::one,
        crate::routes::knowledge::update,
        crate::routes::knowledge::delete,
        crate::routes::providers::list,
        crate::routes::providers::test,
        crate::routes::providers::put_local,
        crate::routes::providers::model_files,
        crate::routes::providers::put_secret,
        crate::routes::whatsapp::status,
        crate::routes::whatsapp::test,
        crate::routes::webhooks::handshake,
        crate::routes::webhooks::receive,
        crate::routes::inbox::failed,
        crate::routes::media::get,
        crate::routes::outbox::list,
        crate::routes::outbox::resolve,
        crate::routes::sandbox::customer_writes,
    ),
    components(schemas(dto::Health, crate::ErrorBody, switchboard_core::Event)),
    modifiers(&BearerAuth, &MinimumRoles, &SharedErrors),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Each `/api` operation states the least role it needs, from `routes::ROUTE_ROLES`.
struct MinimumRoles;

impl Modify for MinimumRoles {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let Some(route) = path.strip_prefix("/api") else {
                continue;
            };
            let operations = [
                ("GET", &mut item.get),
                ("PUT", &mut item.put),
                ("POST", &mut item.post),
                ("DELETE", &mut item.delete),
                ("PATCH", &mut item.patch),
            ];
            for (method, operation) in operations {
                let (Some(operation), Some(role)) = (
                    operation.as_mut(),
                    crate::routes::declared_role(method, route),
                ) else {
                    continue;
                };
                operation
                    .extensions
                    .get_or_insert_with(Default::default)
                    .insert("x-minimum-role".into(), role.as_str().into());
            }
        }
    }
}

/// The refusals every `/api` route can answer before its handler runs, from the shared
/// extractors (`extract.rs`) and the token check (`auth.rs`): a path or query that does not
/// parse (400), a body that is not JSON (400), not declared as JSON (415) or not of the
/// expected shape (422), no valid token (401), a role too low for the route (403).
struct SharedErrors;

impl Modify for SharedErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let Some(route) = path.strip_prefix("/api") else {
                continue;
            };
            let operations = [
                ("GET", &mut item.get),
                ("PUT", &mut item.put),
                ("POST", &mut item.post),
                ("DELETE", &mut item.delete),
                ("PATCH", &mut item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation.as_mut() else {
                    continue;
                };
                let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let has_body = operation.request_body.is_some();
                let role = crate::routes::minimum_role(method, route);
                let mut shared = vec![("401", "no valid bearer token")];
                if role != switchboard_store::model::Role::Agent {
                    shared.push(("403", "the caller's role is below the route's minimum"));
                }
                if has_parameters || has_body {
                    shared.push(("400", "a parameter or the body does not parse"));
                }
                if has_body {
                    shared.push(("415", "the body is not declared as `application/json`"));
                    shared.push(("422", "the body is not of the expected shape"));
                }
                for (status, description) in shared {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error(description).into());
                }
            }
        }
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// The document as checked in: pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
