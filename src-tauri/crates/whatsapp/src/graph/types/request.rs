//! Outbound request bodies for `POST /{version}/{phone-number-id}/messages`.
//!
//! Every type with a limit has private fields and a fallible constructor, so holding a value
//! means its limits were checked. Serialisation matches `outbound/requests/*.json`.

use std::collections::HashSet;

use serde::{Serialize, Serializer};
use thiserror::Error;

/// `messaging_product` of every request.
const MESSAGING_PRODUCT: &str = "whatsapp";
/// `recipient_type` of message sends.
const RECIPIENT_INDIVIDUAL: &str = "individual";

/// WhatsApp's documented size limits, enforced by the constructors in this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Text message body, in characters.
    pub text_body: usize,
    /// Reply buttons per message.
    pub buttons: usize,
    /// Reply button title, in characters.
    pub button_title: usize,
    /// Reply button id, in characters.
    pub button_id: usize,
    /// Rows across all sections of a list message.
    pub list_rows: usize,
    /// Sections of a list message.
    pub list_sections: usize,
    /// List row title, in characters.
    pub row_title: usize,
    /// List row description, in characters.
    pub row_description: usize,
    /// List row id, in characters.
    pub row_id: usize,
    /// List section title, in characters.
    pub section_title: usize,
    /// Label of the button that opens a list, in characters.
    pub list_button: usize,
    /// Interactive message body, in characters.
    pub interactive_body: usize,
    /// Interactive text header, in characters.
    pub header_text: usize,
    /// Interactive footer, in characters.
    pub footer_text: usize,
    /// Media caption, in characters.
    pub caption: usize,
    /// `biz_opaque_callback_data`, in characters.
    pub callback_data: usize,
    /// Highest template button index.
    pub template_button_index: u8,
}

/// The limits in force.
pub const LIMITS: Limits = Limits {
    text_body: 4096,
    buttons: 3,
    button_title: 20,
    button_id: 256,
    list_rows: 10,
    list_sections: 10,
    row_title: 24,
    row_description: 72,
    row_id: 200,
    section_title: 24,
    list_button: 20,
    interactive_body: 1024,
    header_text: 60,
    footer_text: 60,
    caption: 1024,
    callback_data: 512,
    template_button_index: 9,
};

/// A request body that breaks a WhatsApp limit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BuildError {
    /// A required string is empty.
    #[error("{field} must not be empty")]
    Empty {
        /// Which field.
        field: &'static str,
    },
    /// A string is longer than allowed.
    #[error("{field} is {len} characters long; the limit is {max}")]
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Too many items.
    #[error("{field}: {count} given, at most {max} allowed")]
    TooMany {
        /// Which list.
        field: &'static str,
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Too few items.
    #[error("{field}: at least {min} required")]
    TooFew {
        /// Which list.
        field: &'static str,
        /// The minimum.
        min: usize,
    },
    /// Two buttons or rows share an id, so replies could not be told apart.
    #[error("duplicate {field} id `{id}`")]
    DuplicateId {
        /// Buttons or rows.
        field: &'static str,
        /// The repeated id.
        id: String,
    },
    /// A list with several sections needs a title on each.
    #[error("every section needs a title when a list has more than one section")]
    MissingSectionTitle,
    /// A template button index above the maximum.
    #[error("template button index {index} exceeds {max}")]
    ButtonIndexOutOfRange {
        /// The given index.
        index: u8,
        /// The maximum.
        max: u8,
    },
}

/// Checks a required string against a character limit.
fn bounded(field: &'static str, value: String, max: usize) -> Result<String, BuildError> {
    if value.is_empty() {
        return Err(BuildError::Empty { field });
    }
    let len = value.chars().count();
    if len > max {
        return Err(BuildError::TooLong { field, len, max });
    }
    Ok(value)
}

fn non_empty(field: &'static str, value: String) -> Result<String, BuildError> {
    if value.is_empty() {
        Err(BuildError::Empty { field })
    } else {
        Ok(value)
    }
}

fn count_between(
    field: &'static str,
    count: usize,
    min: usize,
    max: usize,
) -> Result<(), BuildError> {
    if count < min {
        return Err(BuildError::TooFew { field, min });
    }
    if count > max {
        return Err(BuildError::TooMany { field, count, max });
    }
    Ok(())
}

fn unique_ids<'a>(
    field: &'static str,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<(), BuildError> {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(BuildError::DuplicateId {
                field,
                id: id.to_owned(),
            });
        }
    }
    Ok(())
}

/// A message send: `{messaging_product, recipient_type, to, context?, type, <type>: {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendMessage {
    messaging_product: &'static str,
    recipient_type: &'static str,
    to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<ReplyContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    biz_opaque_callback_data: Option<String>,
    #[serde(flatten)]
    content: OutboundContent,
}

impl SendMessage {
    /// A message to `to` (a phone number, with or without `+`).
    pub fn new(to: impl Into<String>, content: OutboundContent) -> Result<Self, BuildError> {
        Ok(Self {
            messaging_product: MESSAGING_PRODUCT,
            recipient_type: RECIPIENT_INDIVIDUAL,
            to: non_empty("to", to.into())?,
            context: None,
            biz_opaque_callback_data: None,
            content,
        })
    }

    /// A text message.
    pub fn text(to: impl Into<String>, text: TextBody) -> Result<Self, BuildError> {
        Self::new(to, OutboundContent::Text { text })
    }

    /// A template message (the only kind allowed outside the 24 h window).
    pub fn template(to: impl Into<String>, template: Template) -> Result<Self, BuildError> {
        Self::new(to, OutboundContent::Template { template })
    }

    /// An interactive (buttons or list) message.
    pub fn interactive(
        to: impl Into<String>,
        interactive: Interactive,
    ) -> Result<Self, BuildError> {
        Self::new(to, OutboundContent::Interactive { interactive })
    }

    /// An image message.
    pub fn image(to: impl Into<String>, image: MediaObject) -> Result<Self, BuildError> {
        Self::new(to, OutboundContent::Image { image })
    }

    /// A reaction to a user's message.
    pub fn reaction(to: impl Into<String>, reaction: ReactionBody) -> Result<Self, BuildError> {
        Self::new(to, OutboundContent::Reaction { reaction })
    }

    /// Quotes the user's message `message_id` (an inbound wamid).
    pub fn in_reply_to(mut self, message_id: impl Into<String>) -> Result<Self, BuildError> {
        self.context = Some(ReplyContext {
            message_id: non_empty("context.message_id", message_id.into())?,
        });
        Ok(self)
    }

    /// Data echoed back on this message's status webhooks.
    pub fn with_callback_data(mut self, data: impl Into<String>) -> Result<Self, BuildError> {
        self.biz_opaque_callback_data = Some(bounded(
            "biz_opaque_callback_data",
            data.into(),
            LIMITS.callback_data,
        )?);
        Ok(self)
    }

    /// The recipient.
    pub fn to(&self) -> &str {
        &self.to
    }

    /// The content.
    pub fn content(&self) -> &OutboundContent {
        &self.content
    }
}

/// `context` of a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyContext {
    message_id: String,
}

/// The typed part of a send. Its payload types enforce their own limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboundContent {
    /// `type: "text"`.
    Text {
        /// The text object.
        text: TextBody,
    },
    /// `type: "template"`.
    Template {
        /// The template object.
        template: Template,
    },
    /// `type: "interactive"`.
    Interactive {
        /// The interactive object.
        interactive: Interactive,
    },
    /// `type: "image"`.
    Image {
        /// The image.
        image: MediaObject,
    },
    /// `type: "video"`.
    Video {
        /// The video.
        video: MediaObject,
    },
    /// `type: "document"`.
    Document {
        /// The document.
        document: MediaObject,
    },
    /// `type: "audio"`.
    Audio {
        /// The audio.
        audio: MediaObject,
    },
    /// `type: "reaction"`.
    Reaction {
        /// The reaction.
        reaction: ReactionBody,
    },
}

/// `text: {preview_url, body}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextBody {
    preview_url: bool,
    body: String,
}

impl TextBody {
    /// A text of 1 to 4096 characters, without link preview.
    pub fn new(body: impl Into<String>) -> Result<Self, BuildError> {
        Ok(Self {
            preview_url: false,
            body: bounded("text.body", body.into(), LIMITS.text_body)?,
        })
    }

    /// Whether WhatsApp should render a preview of the first URL.
    pub fn with_preview_url(mut self, preview: bool) -> Self {
        self.preview_url = preview;
        self
    }

    /// The text.
    pub fn body(&self) -> &str {
        &self.body
    }
}

/// A media object: by uploaded media `id` or by public `link`, never both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediaObject {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    caption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    filename: Option<String>,
}

impl MediaObject {
    /// Media uploaded with `POST /{phone-number-id}/media`.
    pub fn by_id(id: impl Into<String>) -> Result<Self, BuildError> {
        Ok(Self {
            id: Some(non_empty("media.id", id.into())?),
            link: None,
            caption: None,
            filename: None,
        })
    }

    /// Media at a public HTTPS URL.
    pub fn by_link(link: impl Into<String>) -> Result<Self, BuildError> {
        Ok(Self {
            id: None,
            link: Some(non_empty("media.link", link.into())?),
            caption: None,
            filename: None,
        })
    }

    /// Caption (image, video, document).
    pub fn with_caption(mut self, caption: impl Into<String>) -> Result<Self, BuildError> {
        self.caption = Some(bounded("media.caption", caption.into(), LIMITS.caption)?);
        Ok(self)
    }

    /// File name shown for documents.
    pub fn with_filename(mut self, filename: impl Into<String>) -> Result<Self, BuildError> {
        self.filename = Some(non_empty("media.filename", filename.into())?);
        Ok(self)
    }
}

/// `reaction: {message_id, emoji}`; an empty emoji removes the reaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReactionBody {
    message_id: String,
    emoji: String,
}

impl ReactionBody {
    /// React to `message_id` with `emoji`.
    pub fn react(
        message_id: impl Into<String>,
        emoji: impl Into<String>,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            message_id: non_empty("reaction.message_id", message_id.into())?,
            emoji: non_empty("reaction.emoji", emoji.into())?,
        })
    }

    /// Remove our reaction from `message_id`.
    pub fn remove(message_id: impl Into<String>) -> Result<Self, BuildError> {
        Ok(Self {
            message_id: non_empty("reaction.message_id", message_id.into())?,
            emoji: String::new(),
        })
    }
}

/// Mark an inbound message (and the ones before it) as read, optionally showing a typing
/// indicator: `{messaging_product, status: "read", message_id, typing_indicator?}`.
/// The reply is `{"success": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkRead {
    messaging_product: &'static str,
    status: &'static str,
    message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    typing_indicator: Option<TypingIndicator>,
}

impl MarkRead {
    /// Mark `message_id` read.
    pub fn new(message_id: impl Into<String>) -> Result<Self, BuildError> {
        Ok(Self {
            messaging_product: MESSAGING_PRODUCT,
            status: "read",
            message_id: non_empty("message_id", message_id.into())?,
            typing_indicator: None,
        })
    }

    /// Also show "typing…" (dismissed on our reply or after about 25 s).
    pub fn with_typing_indicator(mut self) -> Self {
        self.typing_indicator = Some(TypingIndicator { kind: "text" });
        self
    }
}

/// `typing_indicator: {type: "text"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypingIndicator {
    #[serde(rename = "type")]
    kind: &'static str,
}

/// `template: {name, language: {code}, components?}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Template {
    name: String,
    language: Language,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<TemplateComponent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Language {
    code: String,
}

impl Template {
    /// An approved template by name and language code (e.g. `en_GB`).
    pub fn new(
        name: impl Into<String>,
        language_code: impl Into<String>,
    ) -> Result<Self, BuildError> {
        Ok(Self {
            name: non_empty("template.name", name.into())?,
            language: Language {
                code: non_empty("template.language.code", language_code.into())?,
            },
            components: Vec::new(),
        })
    }

    /// Adds a component (header, body or button parameters), in order.
    pub fn with_component(mut self, component: TemplateComponent) -> Self {
        self.components.push(component);
        self
    }
}

/// A template component with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct TemplateComponent(ComponentInner);

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ComponentInner {
    Header {
        parameters: Vec<TemplateParameter>,
    },
    Body {
        parameters: Vec<TemplateParameter>,
    },
    Button {
        sub_type: ButtonSubType,
        #[serde(serialize_with = "index_as_string")]
        index: u8,
        parameters: Vec<TemplateParameter>,
    },
}

/// Graph expects the button index as a string (`"0"`).
fn index_as_string<S: Serializer>(index: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(index)
}

impl TemplateComponent {
    /// Header parameters (text or media).
    pub fn header(parameters: Vec<TemplateParameter>) -> Self {
        Self(ComponentInner::Header { parameters })
    }

    /// Body parameters, positional.
    pub fn body(parameters: Vec<TemplateParameter>) -> Self {
        Self(ComponentInner::Body { parameters })
    }

    /// Parameters of the template's button at `index` (0-based).
    pub fn button(
        sub_type: ButtonSubType,
        index: u8,
        parameters: Vec<TemplateParameter>,
    ) -> Result<Self, BuildError> {
        let max = LIMITS.template_button_index;
        if index > max {
            return Err(BuildError::ButtonIndexOutOfRange { index, max });
        }
        Ok(Self(ComponentInner::Button {
            sub_type,
            index,
            parameters,
        }))
    }
}

/// Template button kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonSubType {
    /// Quick reply; takes a `payload` parameter.
    QuickReply,
    /// Dynamic URL suffix; takes a `text` parameter.
    Url,
    /// Copy-code button; takes a `coupon_code` parameter.
    CopyCode,
}

/// A template parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TemplateParameter {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// Localised currency.
    Currency {
        /// The amount.
        currency: CurrencyParameter,
    },
    /// Localised date and time.
    DateTime {
        /// The date.
        date_time: DateTimeParameter,
    },
    /// Image header.
    Image {
        /// The image.
        image: MediaObject,
    },
    /// Video header.
    Video {
        /// The video.
        video: MediaObject,
    },
    /// Document header.
    Document {
        /// The document.
        document: MediaObject,
    },
    /// Quick-reply payload.
    Payload {
        /// Echoed back in the inbound `button.payload`.
        payload: String,
    },
    /// Copy-code coupon.
    CouponCode {
        /// The code.
        coupon_code: String,
    },
}

/// `currency: {fallback_value, code, amount_1000}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrencyParameter {
    /// Text shown if localisation fails, e.g. `£54.99`.
    pub fallback_value: String,
    /// ISO 4217 code.
    pub code: String,
    /// Amount times 1000 (54.99 → 54990).
    pub amount_1000: i64,
}

/// `date_time: {fallback_value}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DateTimeParameter {
    /// The date as text.
    pub fallback_value: String,
}

/// An interactive message: reply buttons or a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Interactive(InteractiveInner);

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum InteractiveInner {
    Button {
        #[serde(skip_serializing_if = "Option::is_none")]
        header: Option<InteractiveHeader>,
        body: TextObject,
        #[serde(skip_serializing_if = "Option::is_none")]
        footer: Option<TextObject>,
        action: ButtonAction,
    },
    List {
        #[serde(skip_serializing_if = "Option::is_none")]
        header: Option<InteractiveHeader>,
        body: TextObject,
        #[serde(skip_serializing_if = "Option::is_none")]
        footer: Option<TextObject>,
        action: ListAction,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct TextObject {
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ButtonAction {
    buttons: Vec<ReplyButton>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ListAction {
    button: String,
    sections: Vec<ListSection>,
}

impl Interactive {
    /// Up to 3 reply buttons with distinct ids under a body of up to 1024 characters.
    pub fn buttons(body: impl Into<String>, buttons: Vec<ReplyButton>) -> Result<Self, BuildError> {
        count_between("buttons", buttons.len(), 1, LIMITS.buttons)?;
        unique_ids("button", buttons.iter().map(|b| b.reply.id.as_str()))?;
        Ok(Self(InteractiveInner::Button {
            header: None,
            body: interactive_body(body.into())?,
            footer: None,
            action: ButtonAction { buttons },
        }))
    }

    /// A list opened by a button labelled `button_label` (≤ 20 characters), with at most
    /// 10 rows in total and distinct row ids.
    pub fn list(
        body: impl Into<String>,
        button_label: impl Into<String>,
        sections: Vec<ListSection>,
    ) -> Result<Self, BuildError> {
        count_between("sections", sections.len(), 1, LIMITS.list_sections)?;
        let rows = sections.iter().map(|s| s.rows.len()).sum();
        count_between("rows", rows, 1, LIMITS.list_rows)?;
        if sections.len() > 1 && sections.iter().any(|s| s.title.is_none()) {
            return Err(BuildError::MissingSectionTitle);
        }
        unique_ids(
            "row",
            sections
                .iter()
                .flat_map(|s| s.rows.iter().map(|r| r.id.as_str())),
        )?;
        Ok(Self(InteractiveInner::List {
            header: None,
            body: interactive_body(body.into())?,
            footer: None,
            action: ListAction {
                button: bounded("action.button", button_label.into(), LIMITS.list_button)?,
                sections,
            },
        }))
    }

    /// Adds a header.
    pub fn with_header(mut self, new: InteractiveHeader) -> Self {
        match &mut self.0 {
            InteractiveInner::Button { header, .. } | InteractiveInner::List { header, .. } => {
                *header = Some(new)
            }
        }
        self
    }

    /// Adds a footer of up to 60 characters.
    pub fn with_footer(mut self, text: impl Into<String>) -> Result<Self, BuildError> {
        let text = bounded("footer.text", text.into(), LIMITS.footer_text)?;
        match &mut self.0 {
            InteractiveInner::Button { footer, .. } | InteractiveInner::List { footer, .. } => {
                *footer = Some(TextObject { text })
            }
        }
        Ok(self)
    }
}

fn interactive_body(text: String) -> Result<TextObject, BuildError> {
    Ok(TextObject {
        text: bounded("body.text", text, LIMITS.interactive_body)?,
    })
}

/// Header of an interactive message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct InteractiveHeader(HeaderInner);

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum HeaderInner {
    Text { text: String },
    Image { image: MediaObject },
    Video { video: MediaObject },
    Document { document: MediaObject },
}

impl InteractiveHeader {
    /// A text header of up to 60 characters.
    pub fn text(text: impl Into<String>) -> Result<Self, BuildError> {
        Ok(Self(HeaderInner::Text {
            text: bounded("header.text", text.into(), LIMITS.header_text)?,
        }))
    }

    /// An image header (reply buttons only).
    pub fn image(image: MediaObject) -> Self {
        Self(HeaderInner::Image { image })
    }

    /// A video header (reply buttons only).
    pub fn video(video: MediaObject) -> Self {
        Self(HeaderInner::Video { video })
    }

    /// A document header (reply buttons only).
    pub fn document(document: MediaObject) -> Self {
        Self(HeaderInner::Document { document })
    }
}

/// `{type: "reply", reply: {id, title}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyButton {
    #[serde(rename = "type")]
    kind: &'static str,
    reply: ButtonReply,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ButtonReply {
    id: String,
    title: String,
}

impl ReplyButton {
    /// A button with an id (≤ 256 characters, echoed in the reply) and a title
    /// (≤ 20 characters).
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Result<Self, BuildError> {
        Ok(Self {
            kind: "reply",
            reply: ButtonReply {
                id: bounded("button.id", id.into(), LIMITS.button_id)?,
                title: bounded("button.title", title.into(), LIMITS.button_title)?,
            },
        })
    }
}

/// A section of a list message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    rows: Vec<ListRow>,
}

impl ListSection {
    /// A section with a title (≤ 24 characters; required when the list has several).
    pub fn titled(title: impl Into<String>, rows: Vec<ListRow>) -> Result<Self, BuildError> {
        Ok(Self {
            title: Some(bounded(
                "section.title",
                title.into(),
                LIMITS.section_title,
            )?),
            rows,
        })
    }

    /// An untitled section (only valid as the single section of a list).
    pub fn untitled(rows: Vec<ListRow>) -> Self {
        Self { title: None, rows }
    }
}

/// A list row `{id, title, description?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRow {
    id: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

impl ListRow {
    /// A row with an id (≤ 200 characters) and a title (≤ 24 characters).
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Result<Self, BuildError> {
        Ok(Self {
            id: bounded("row.id", id.into(), LIMITS.row_id)?,
            title: bounded("row.title", title.into(), LIMITS.row_title)?,
            description: None,
        })
    }

    /// A description of up to 72 characters.
    pub fn with_description(mut self, description: impl Into<String>) -> Result<Self, BuildError> {
        self.description = Some(bounded(
            "row.description",
            description.into(),
            LIMITS.row_description,
        )?);
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limit_counts_characters_not_bytes() {
        assert!(TextBody::new("é".repeat(4096)).is_ok());
        assert_eq!(
            TextBody::new("a".repeat(4097)),
            Err(BuildError::TooLong {
                field: "text.body",
                len: 4097,
                max: 4096
            })
        );
        assert_eq!(
            TextBody::new(""),
            Err(BuildError::Empty { field: "text.body" })
        );
    }

    #[test]
    fn button_limits() -> Result<(), BuildError> {
        let b = |i: usize| ReplyButton::new(format!("id{i}"), format!("T{i}"));
        assert!(Interactive::buttons("Body", vec![b(1)?, b(2)?, b(3)?]).is_ok());
        assert_eq!(
            Interactive::buttons("Body", vec![b(1)?, b(2)?, b(3)?, b(4)?]),
            Err(BuildError::TooMany {
                field: "buttons",
                count: 4,
                max: 3
            })
        );
        assert_eq!(
            Interactive::buttons("Body", vec![]),
            Err(BuildError::TooFew {
                field: "buttons",
                min: 1
            })
        );
        assert!(matches!(
            ReplyButton::new("x", "a".repeat(21)),
            Err(BuildError::TooLong {
                field: "button.title",
                len: 21,
                max: 20
            })
        ));
        assert!(ReplyButton::new("x", "a".repeat(20)).is_ok());
        assert!(matches!(
            Interactive::buttons("Body", vec![b(1)?, b(1)?]),
            Err(BuildError::DuplicateId { .. })
        ));
        Ok(())
    }

    #[test]
    fn list_limits() -> Result<(), BuildError> {
        let rows = |from: usize, n: usize| -> Result<Vec<ListRow>, BuildError> {
            (from..from + n)
                .map(|i| ListRow::new(format!("r{i}"), format!("Row {i}")))
                .collect()
        };
        let ok = Interactive::list(
            "Pick",
            "Open",
            vec![
                ListSection::titled("A", rows(0, 5)?)?,
                ListSection::titled("B", rows(5, 5)?)?,
            ],
        );
        assert!(ok.is_ok());
        assert_eq!(
            Interactive::list(
                "Pick",
                "Open",
                vec![
                    ListSection::titled("A", rows(0, 6)?)?,
                    ListSection::titled("B", rows(6, 5)?)?,
                ],
            ),
            Err(BuildError::TooMany {
                field: "rows",
                count: 11,
                max: 10
            })
        );
        assert_eq!(
            Interactive::list(
                "Pick",
                "Open",
                vec![
                    ListSection::untitled(rows(0, 1)?),
                    ListSection::untitled(rows(1, 1)?)
                ],
            ),
            Err(BuildError::MissingSectionTitle)
        );
        assert!(matches!(
            ListRow::new("r", "x".repeat(25)),
            Err(BuildError::TooLong {
                field: "row.title",
                ..
            })
        ));
        assert!(matches!(
            ListRow::new("r", "x")?.with_description("d".repeat(73)),
            Err(BuildError::TooLong {
                field: "row.description",
                ..
            })
        ));
        assert!(matches!(
            Interactive::list(
                "Pick",
                "x".repeat(21),
                vec![ListSection::untitled(rows(0, 1)?)]
            ),
            Err(BuildError::TooLong {
                field: "action.button",
                ..
            })
        ));
        Ok(())
    }

    #[test]
    fn template_button_index_is_bounded() {
        assert!(TemplateComponent::button(ButtonSubType::Url, 10, vec![]).is_err());
        assert!(TemplateComponent::button(ButtonSubType::Url, 9, vec![]).is_ok());
    }
}
