//! A message's media (image, voice note, document…), downloaded from WhatsApp on first use
//! and served from the data directory after that.

use crate::extract::Path;
use crate::{ApiError, ApiState};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use switchboard_core::ids::MessageId;
use tower::ServiceExt;

/// The media of a message. The first request downloads it from WhatsApp (size and type
/// checked); later ones are served from disk. Raster images whose bytes match their type are
/// served inline; anything else as an attachment. Range requests are supported.
#[utoipa::path(get, path = "/api/messages/{id}/media", tag = "conversations",
    params(("id" = i64, Path, description = "Message id")),
    responses(
        (status = 200, description = "The file, with its type as Content-Type", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such message, the message has no media, or WhatsApp no longer has it", body = crate::ErrorBody),
        (status = 409, description = "Sandbox media asked for in live mode, or the reverse", body = crate::ErrorBody),
        (status = 422, description = "The media's type is not allowed or it is too large", body = crate::ErrorBody),
        (status = 502, description = "WhatsApp did not provide the media", body = crate::ErrorBody),
        (status = 401, body = crate::ErrorBody)))]
pub(crate) async fn get(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    request: Request,
) -> Result<Response, ApiError> {
    let file = state.engine.message_media(MessageId(id)).await?;
    let served = tower_http::services::ServeFile::new(&file.path)
        .oneshot(request)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("cannot read the media file: {e}"),
            )
        })?;
    let mut response = served.map(axum::body::Body::new).into_response();
    let headers = response.headers_mut();
    // The type checked at download, not one guessed from the file name.
    if let Ok(value) = HeaderValue::from_str(&file.mime_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    let disposition = if file.inline { "inline" } else { "attachment" };
    if let Ok(value) = HeaderValue::from_str(&content_disposition(disposition, &file.file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Opened directly, a file runs nothing, whatever it contains.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    Ok(response)
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): an ASCII fallback, and the
/// real name percent-encoded.
fn content_disposition(disposition: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| !matches!(c, '"' | '\\'))
        .collect();
    // RFC 5987 `attr-char`: letters, digits and `!#$&+-.^_`|~` stay as they are.
    const ATTR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let encoded = utf8_percent_encode(name, ATTR);
    format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn names_are_quoted_safely_and_encoded() {
        assert_eq!(
            content_disposition("attachment", "factura marzo.pdf"),
            "attachment; filename=\"factura marzo.pdf\"; filename*=UTF-8''factura%20marzo.pdf"
        );
        assert_eq!(
            content_disposition("inline", "año.jpeg"),
            "inline; filename=\"a_o.jpeg\"; filename*=UTF-8''a%C3%B1o.jpeg"
        );
    }
}
