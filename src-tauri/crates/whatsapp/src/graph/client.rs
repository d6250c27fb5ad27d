//! HTTP client for the Graph API: message sends, read receipts and media downloads.
//!
//! Every call carries `Authorization: Bearer <token>` and a total timeout, and every
//! failure comes back as a typed [`SendError`] that [`crate::graph::retry::next_step`] turns
//! into a decision. The token never appears in an error, a `Debug` output or a URL: it is
//! held as a [`Secret`], sent as a header marked sensitive, and masked in body excerpts.
//!
//! Rate limiting is not done here: a sender composes this client with
//! [`crate::graph::limits::SendLimiter`], so that a scheduler can decide what to send next
//! without the client blocking on it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{Client, Response, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use switchboard_core::Secret;
use thiserror::Error;

use super::types::{
    messages_url, parse_graph_response, BackoffKind, BuildError, GraphCallError, GraphError,
    MarkRead, NoRetryReason, PhoneNumberInfo, RetryDecision, SendMessage, SendMessageResponse,
    SuccessResponse,
};

pub use super::download::{DownloadedMedia, MediaError, SizeSource};

/// Graph responses we decode are small JSON documents; anything larger is not one of them,
/// and a hostile or broken server must not make us buffer it.
const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// How much of an undecodable body to keep for logs and operators.
const EXCERPT_CHARS: usize = 200;

/// Timeouts of Graph calls. Each applies to a whole call, body included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP and TLS connection.
    pub connect: Duration,
    /// A send, read receipt or media URL lookup, from connecting to the last body byte.
    pub request: Duration,
    /// A media body download, from connecting to the last byte. Media is up to ~100 MB, so
    /// this is longer than `request`.
    pub download: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(20),
            download: Duration::from_secs(120),
        }
    }
}

/// What a [`GraphClient`] talks to and as whom.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// `https://graph.facebook.com`, or a loopback fake in tests.
    pub base_url: String,
    /// API version, part of the path, e.g. `v24.0` ([`super::types::DEFAULT_API_VERSION`]).
    pub api_version: String,
    /// The business phone number id that sends.
    pub phone_number_id: String,
    /// System-user or user access token.
    pub access_token: Secret,
    /// Timeouts of every call.
    pub timeouts: Timeouts,
}

impl GraphConfig {
    /// A configuration with default timeouts.
    pub fn new(
        base_url: impl Into<String>,
        api_version: impl Into<String>,
        phone_number_id: impl Into<String>,
        access_token: Secret,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            api_version: api_version.into(),
            phone_number_id: phone_number_id.into(),
            access_token,
            timeouts: Timeouts::default(),
        }
    }

    /// Replaces the timeouts.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }
}

/// The configuration cannot make a client.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid Graph client configuration: {detail}")]
pub struct ClientInitError {
    /// What is wrong.
    pub detail: String,
}

fn init_error(detail: impl Into<String>) -> ClientInitError {
    ClientInitError {
        detail: detail.into(),
    }
}

/// A Graph call that failed. Never contains the access token.
#[derive(Debug, Error)]
pub enum SendError {
    /// Graph answered with an error body.
    #[error("Graph API HTTP {status}: {error}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The error (boxed: it is large and this is the cold path).
        error: Box<GraphError>,
        /// What to do about it: [`GraphError::classify`], refined by the HTTP status for
        /// codes the table does not name (see [`decision_for`]).
        decision: RetryDecision,
    },
    /// The connection failed or broke. Retryable; if the request had been written before
    /// the break, Graph may have accepted it, so a retry can duplicate a message (the
    /// Cloud API has no idempotency key).
    #[error("network error talking to Graph: {detail}")]
    Network {
        /// The transport error, without URL.
        detail: String,
    },
    /// The call did not finish within its timeout. Same duplicate caveat as `Network`.
    #[error("Graph call timed out")]
    Timeout,
    /// The response was neither the expected success body nor a Graph error body.
    #[error("HTTP {status}: undecodable Graph response: {body_excerpt}")]
    Undecodable {
        /// HTTP status.
        status: u16,
        /// The start of the body, lossily decoded, token masked.
        body_excerpt: String,
    },
    /// The request could not be built (e.g. an empty message id); nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] BuildError),
}

impl SendError {
    /// The retry decision, where the error maps onto the README's table: API errors carry
    /// theirs, transport failures and 5xx garbage are transient, a 429 without a Graph body
    /// is a throughput limit. `None` for an unexpected body on another status, where
    /// retrying blind could duplicate a message Graph did accept.
    pub fn decision(&self) -> Option<RetryDecision> {
        let backoff = |kind| Some(RetryDecision::RetryBackoff { kind });
        match self {
            Self::Api { decision, .. } => Some(*decision),
            Self::Network { .. } | Self::Timeout => backoff(BackoffKind::Transient),
            Self::Undecodable { status, .. } if *status >= 500 => backoff(BackoffKind::Transient),
            Self::Undecodable { status: 429, .. } => backoff(BackoffKind::Throughput),
            Self::Undecodable { .. } => None,
            Self::InvalidRequest(_) => Some(RetryDecision::NoRetry {
                reason: NoRetryReason::InvalidRequest,
            }),
        }
    }

    /// The Graph error, for API errors.
    pub fn graph_error(&self) -> Option<&GraphError> {
        match self {
            Self::Api { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// [`GraphError::classify`], refined by the HTTP status: a code the table does not name is
/// still transient when Graph says 5xx, and a throughput limit when it says 429. Codes the
/// table names keep their decision whatever the status, because Meta's statuses are only
/// partly confirmed (README section 5) while codes are what it documents.
pub fn decision_for(status: u16, error: &GraphError) -> RetryDecision {
    match error.classify() {
        RetryDecision::NoRetry {
            reason: NoRetryReason::Unclassified,
        } if status >= 500 => RetryDecision::RetryBackoff {
            kind: BackoffKind::Transient,
        },
        RetryDecision::NoRetry {
            reason: NoRetryReason::Unclassified,
        } if status == 429 => RetryDecision::RetryBackoff {
            kind: BackoffKind::Throughput,
        },
        other => other,
    }
}

/// Client for one business phone number. Cheap to clone (shared connection pool and token).
#[derive(Debug, Clone)]
pub struct GraphClient {
    http: Client,
    base_url: Url,
    api_version: String,
    phone_number_id: String,
    messages_url: String,
    /// Behind a lock so the token can be replaced after a 190 without rebuilding senders.
    /// Read and cloned into a header before any await; never held across one.
    token: Arc<RwLock<Secret>>,
    timeouts: Timeouts,
}

/// Ids and versions go into URL paths; anything outside this set could change the path.
pub(crate) fn is_path_safe(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && s != "."
        && s != ".."
}

impl GraphClient {
    /// Builds a client. Fails if the base URL is not http(s), an id is not path-safe, the
    /// token is empty, or TLS cannot be initialised.
    pub fn new(config: GraphConfig) -> Result<Self, ClientInitError> {
        let base_url = Url::parse(&config.base_url)
            .map_err(|e| init_error(format!("base_url is not a URL: {e}")))?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
            return Err(init_error("base_url must be an http(s) URL with a host"));
        }
        if !is_path_safe(&config.api_version) {
            return Err(init_error("api_version must be like v24.0"));
        }
        if !is_path_safe(&config.phone_number_id) {
            return Err(init_error("phone_number_id must be a Graph id"));
        }
        if config.access_token.is_empty() {
            return Err(init_error("access_token is empty"));
        }
        // A header value cannot hold control characters; check once here, so building the
        // header per call cannot fail later.
        bearer(&config.access_token).map_err(|_| init_error("access_token is not a header"))?;
        let http = Client::builder()
            .connect_timeout(config.timeouts.connect)
            .timeout(config.timeouts.request)
            // Also per read: a media body that stops flowing fails after `request` rather
            // than only at the end of the longer `download` budget.
            .read_timeout(config.timeouts.request)
            // Redirects keep reqwest's default policy, which strips Authorization when the
            // host changes, so a redirected media URL cannot carry the token elsewhere.
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| init_error(format!("HTTP client: {e}")))?;
        let messages_url = messages_url(
            base_url.as_str(),
            &config.api_version,
            &config.phone_number_id,
        );
        Ok(Self {
            http,
            base_url,
            api_version: config.api_version,
            phone_number_id: config.phone_number_id,
            messages_url,
            token: Arc::new(RwLock::new(config.access_token)),
            timeouts: config.timeouts,
        })
    }

    /// Replaces the access token (after an operator supplied a new one following a 190).
    /// Clones of this client share the token and see the new one too.
    pub fn replace_token(&self, token: Secret) -> Result<(), ClientInitError> {
        if token.is_empty() || bearer(&token).is_err() {
            return Err(init_error("access_token is not a valid header value"));
        }
        let mut guard = self.token.write().unwrap_or_else(|e| e.into_inner());
        *guard = token;
        Ok(())
    }

    /// The phone number id this client sends from.
    pub fn phone_number_id(&self) -> &str {
        &self.phone_number_id
    }

    /// The API version in the paths.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// `POST /{version}/{phone-number-id}/messages`. `Ok` means accepted, not delivered:
    /// delivery arrives as status webhooks for the returned wamid.
    pub async fn send(&self, message: &SendMessage) -> Result<SendMessageResponse, SendError> {
        let (status, response): (u16, SendMessageResponse) =
            self.post_json(&self.messages_url, message).await?;
        // A 2xx without a wamid leaves nothing to track delivery by; surface it rather than
        // report a send we cannot follow.
        if response.message_id().is_none() {
            return Err(SendError::Undecodable {
                status,
                body_excerpt: "success body without messages[].id".into(),
            });
        }
        Ok(response)
    }

    /// Marks `wamid` (and the messages before it) read; with `typing`, also shows a typing
    /// indicator for up to ~25 s or until we reply.
    pub async fn mark_read(&self, wamid: &str, typing: bool) -> Result<SuccessResponse, SendError> {
        let mut body = MarkRead::new(wamid)?;
        if typing {
            body = body.with_typing_indicator();
        }
        self.send_status(&body).await
    }

    /// Sends a prepared read receipt (same endpoint as messages).
    pub async fn send_status(&self, body: &MarkRead) -> Result<SuccessResponse, SendError> {
        let (_, response) = self.post_json(&self.messages_url, body).await?;
        Ok(response)
    }

    /// `GET /{version}/{phone-number-id}`: the number's name, quality and verification. A
    /// cheap, side-effect-free check that the token, the id and the version work together.
    pub async fn phone_number(&self) -> Result<PhoneNumberInfo, SendError> {
        // The same shape as a media lookup: `{base}/{version}/{id}`, the base's path kept.
        let url = Url::parse(&self.lookup_url(&self.phone_number_id)).map_err(|e| {
            SendError::Network {
                detail: format!("cannot build the phone number URL: {e}"),
            }
        })?;
        let response = self
            .get(url)
            .timeout(self.timeouts.request)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let bytes = read_capped(response, MAX_RESPONSE_BYTES).await?;
        let info: PhoneNumberInfo = self.decode(status, &bytes)?;
        if info.id.is_none() && info.display_phone_number.is_none() {
            return Err(SendError::Undecodable {
                status,
                body_excerpt: self.excerpt(&bytes),
            });
        }
        Ok(info)
    }

    pub(crate) fn lookup_url(&self, media_id: &str) -> String {
        crate::media::lookup_url(self.base_url.as_str(), &self.api_version, media_id)
    }

    pub(crate) fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub(crate) fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// A `GET` with the bearer token; the caller sets the timeout.
    pub(crate) fn get(&self, url: Url) -> reqwest::RequestBuilder {
        self.http.get(url).header(AUTHORIZATION, self.auth_header())
    }

    /// The current token as a sensitive header value. The lock is released on return.
    fn auth_header(&self) -> HeaderValue {
        let guard = self.token.read().unwrap_or_else(|e| e.into_inner());
        // Validated in `new` and `replace_token`; an empty value would only yield a 401.
        bearer(&guard).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The current token, for masking it in excerpts.
    pub(crate) fn mask(&self, text: &str) -> String {
        let guard = self.token.read().unwrap_or_else(|e| e.into_inner());
        let token = guard.expose();
        if token.is_empty() {
            text.to_owned()
        } else {
            text.replace(token, "****")
        }
    }

    async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        url: &str,
        body: &B,
    ) -> Result<(u16, T), SendError> {
        let response = self
            .http
            .post(url)
            .header(AUTHORIZATION, self.auth_header())
            .json(body)
            .timeout(self.timeouts.request)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let bytes = read_capped(response, MAX_RESPONSE_BYTES).await?;
        self.decode(status, &bytes).map(|v| (status, v))
    }

    /// Decodes a small Graph response: a Graph error body (any status) is `Api`; a 2xx body
    /// of the expected shape is `Ok`; anything else is `Undecodable`.
    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        status: u16,
        body: &[u8],
    ) -> Result<T, SendError> {
        match parse_graph_response::<T>(status, body) {
            Ok(value) if (200..300).contains(&status) => Ok(value),
            // Lenient success types (all-default fields) also parse error pages such as
            // `{}` with a 500; a non-2xx status is never a success.
            Ok(_) | Err(GraphCallError::Undecodable { .. }) => Err(SendError::Undecodable {
                status,
                body_excerpt: self.excerpt(body),
            }),
            Err(GraphCallError::Api { status, error }) => Err(SendError::Api {
                status,
                decision: decision_for(status, &error),
                error,
            }),
        }
    }

    pub(crate) fn excerpt(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        let cut: String = text
            .chars()
            .take(EXCERPT_CHARS)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut masked = self.mask(&cut);
        if text.chars().count() > EXCERPT_CHARS {
            masked.push('…');
        }
        masked
    }
}

fn bearer(token: &Secret) -> Result<HeaderValue, reqwest::header::InvalidHeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))?;
    // Keeps the value out of reqwest's and hyper's Debug output and HTTP/2 header tables.
    value.set_sensitive(true);
    Ok(value)
}

/// Maps a reqwest error to a [`SendError`], dropping the URL (a media URL is a short-lived
/// capability and does not belong in logs).
pub(crate) fn transport_error(error: reqwest::Error) -> SendError {
    if error.is_timeout() {
        return SendError::Timeout;
    }
    let error = error.without_url();
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    SendError::Network { detail }
}

/// Reads a response body, refusing more than `cap` bytes.
pub(crate) async fn read_capped(mut response: Response, cap: usize) -> Result<Vec<u8>, SendError> {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len().saturating_add(chunk.len()) > cap {
            return Err(SendError::Undecodable {
                status,
                body_excerpt: format!("response body larger than {cap} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(token: &str) -> GraphConfig {
        GraphConfig::new(
            "https://graph.facebook.com",
            "v24.0",
            "487120593306718",
            Secret::new(token),
        )
    }

    #[test]
    fn debug_never_shows_the_token() {
        let client = GraphClient::new(config("EAAG-very-secret")).expect("client");
        let shown = format!("{client:?} {:?}", config("EAAG-very-secret"));
        assert!(!shown.contains("very-secret"), "{shown}");
    }

    #[test]
    fn rejects_unsafe_ids_and_bad_tokens() {
        let mut c = config("t");
        c.phone_number_id = "1/../2".into();
        assert!(GraphClient::new(c).is_err());
        let mut c = config("t");
        c.api_version = "v24.0/x".into();
        assert!(GraphClient::new(c).is_err());
        assert!(GraphClient::new(config("")).is_err());
        assert!(GraphClient::new(config("bad\ntoken")).is_err());
        let mut c = config("t");
        c.base_url = "ftp://example.com".into();
        assert!(GraphClient::new(c).is_err());
    }

    #[test]
    fn excerpts_mask_the_token_and_are_bounded() {
        let client = GraphClient::new(config("s3cr3t")).expect("client");
        let body = format!("echo s3cr3t {}", "x".repeat(1000));
        let e = client.excerpt(body.as_bytes());
        assert!(!e.contains("s3cr3t"));
        assert!(e.chars().count() <= EXCERPT_CHARS + 1);
    }

    #[test]
    fn status_refines_unknown_codes_only() {
        let err = |code| GraphError {
            message: String::new(),
            error_type: None,
            code,
            error_subcode: None,
            error_data: None,
            fbtrace_id: None,
            is_transient: None,
            error_user_title: None,
            error_user_msg: None,
        };
        assert_eq!(
            decision_for(503, &err(1)),
            RetryDecision::RetryBackoff {
                kind: BackoffKind::Transient
            }
        );
        assert_eq!(
            decision_for(429, &err(1)),
            RetryDecision::RetryBackoff {
                kind: BackoffKind::Throughput
            }
        );
        assert_eq!(decision_for(500, &err(131047)), RetryDecision::WindowClosed);
        assert_eq!(
            decision_for(400, &err(1)),
            RetryDecision::NoRetry {
                reason: NoRetryReason::Unclassified
            }
        );
    }
}
