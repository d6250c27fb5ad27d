//! Bearer-token authentication of every `/api` route.

use crate::{ApiError, ApiState};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use switchboard_core::Secret;
use switchboard_engine::Actor;

/// The tokens the API accepts. Today: the engine's own (owner) token.
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

    /// Who holds `token`, if anyone. Compared in constant time.
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
        Some(token) => state
            .auth
            .authenticate(token)
            .ok_or_else(|| ApiError::unauthorized("invalid bearer token"))?,
    };
    request.extensions_mut().insert(actor);
    Ok(next.run(request).await)
}
