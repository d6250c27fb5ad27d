//! Authentication and authorisation of every `/api` route.
//!
//! A request carries `Authorization: Bearer <token>`: the engine's own token (the desktop
//! app's user, or `serve`'s admin; the built-in owner) or an operator's token. The caller
//! becomes an `Actor`, attached to the request for the handlers, so every call is
//! attributed. Then the route's minimum role, declared once in `routes::ROUTE_ROLES`, is
//! checked here; a refusal is a 403 and an `access_denied` audit record.

use crate::{ApiError, ApiState};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use switchboard_core::Secret;
use switchboard_engine::Actor;

/// The engine's own token; operators' tokens are looked up in the store.
#[derive(Clone)]
pub struct ApiAuth {
    owner_token: Arc<Secret>,
}

impl ApiAuth {
    pub fn new(owner_token: Secret) -> Self {
        Self {
            owner_token: Arc::new(owner_token),
        }
    }

    /// Whether `token` is the engine's own token. Compared in constant time.
    pub fn authenticate(&self, token: &str) -> Option<Actor> {
        let expected = self.owner_token.expose().as_bytes();
        if !expected.is_empty() && bool::from(expected.ct_eq(token.as_bytes())) {
            Some(Actor::owner_token())
        } else {
            None
        }
    }
}

pub(crate) async fn require_token(
    State(state): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    // CORS preflights carry no credentials by design.
    if request.method() == axum::http::Method::OPTIONS {
        return Ok(next.run(request).await);
    }
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let actor = match token {
        None => return Err(ApiError::unauthorized("missing bearer token")),
        Some(token) => match state.auth.authenticate(token) {
            Some(actor) => actor,
            None => state
                .engine
                .actor_for_token(token)
                .await?
                .ok_or_else(|| ApiError::unauthorized("invalid bearer token"))?,
        },
    };
    // Unmatched paths have no route to protect; the router answers 404.
    if let Some(route) = request.extensions().get::<MatchedPath>() {
        let route = route.as_str();
        let route = route.strip_prefix("/api").unwrap_or(route).to_string();
        let method = request.method().as_str().to_string();
        let required = crate::routes::minimum_role(&method, &route);
        if !actor.role.at_least(required) {
            if let Err(e) = state
                .engine
                .record_access_denied(&actor, &method, &format!("/api{route}"), required)
                .await
            {
                // The refusal stands even when it cannot be recorded.
                tracing::error!(error = %e, "cannot record a refused request in the audit trail");
            }
            tracing::info!(actor = %actor.label(), %method, route = %route, %required, "access denied");
            return Err(ApiError::forbidden(format!(
                "{method} /api{route} needs the {required} role; you are {}",
                actor.role
            )));
        }
    }
    tracing::debug!(actor = %actor.label(), "authenticated");
    request.extensions_mut().insert(actor);
    Ok(next.run(request).await)
}
