//! The built console, as `switchboard serve` hands it to a browser, under the same strict
//! policy the desktop window has.

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Router;
use std::path::PathBuf;
use tower_http::services::{ServeDir, ServeFile};

/// `tauri.conf.json`'s policy for the window, with the engine reached on this origin
/// (`connect-src 'self'`) instead of over IPC. Customer media is shown from blob URLs only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
     form-action 'none'";

/// The files of `dir`, and `index.html` for any other path (the console routes on the client),
/// every response carrying the console's security headers.
pub(crate) fn router(dir: PathBuf) -> Router {
    let index = dir.join("index.html");
    Router::new()
        .fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        .layer(axum::middleware::map_response(with_security_headers))
}

async fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // frame-ancestors in the policy says the same to browsers that read CSP.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
