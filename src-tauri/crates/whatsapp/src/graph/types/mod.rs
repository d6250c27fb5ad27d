//! Serde types for Graph API requests and responses.
//!
//! Request bodies can only be built through constructors that enforce WhatsApp's limits
//! (text length, button and row counts, title lengths), so a body that Meta would refuse
//! for those reasons cannot be represented. Responses and error bodies are read tolerantly,
//! and [`GraphError::classify`] turns an error into a [`RetryDecision`].

mod error;
mod request;
mod response;

pub use error::{
    classify_code, BackoffKind, GraphError, GraphErrorBody, GraphErrorData, NoRetryReason,
    RetryDecision,
};
pub use request::{
    BuildError, ButtonSubType, CurrencyParameter, DateTimeParameter, Interactive,
    InteractiveHeader, ListRow, ListSection, MarkRead, MediaObject, OutboundContent, ReactionBody,
    ReplyButton, ReplyContext, SendMessage, Template, TemplateComponent, TemplateParameter,
    TextBody, TypingIndicator, LIMITS,
};
pub use response::{
    parse_graph_response, GraphCallError, PhoneNumberInfo, SendMessageResponse, SentContact,
    SentMessage, SuccessResponse,
};

/// The Graph API version the fixtures were written against. Keep it configurable: payloads
/// change between versions and the version is part of the URL path.
pub const DEFAULT_API_VERSION: &str = "v24.0";

/// URL of the send endpoint for a version and business phone number id.
pub fn messages_url(base: &str, version: &str, phone_number_id: &str) -> String {
    format!(
        "{}/{version}/{phone_number_id}/messages",
        base.trim_end_matches('/')
    )
}
