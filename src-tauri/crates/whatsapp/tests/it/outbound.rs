//! Outbound requests (builders serialise exactly to the fixtures) and responses (success
//! bodies decode; error bodies decode and classify per README section 5).

use serde_json::Value;
use switchboard_whatsapp::graph::types::{
    parse_graph_response, BackoffKind, BuildError, ButtonSubType, CurrencyParameter,
    DateTimeParameter, GraphCallError, Interactive, InteractiveHeader, ListRow, ListSection,
    MarkRead, MediaObject, NoRetryReason, ReactionBody, ReplyButton, RetryDecision, SendMessage,
    SendMessageResponse, SuccessResponse, Template, TemplateComponent, TemplateParameter, TextBody,
};

use crate::fixtures::{self, entries_of, file_of};

/// A request body as built for a fixture: a message send or a read receipt.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a handful of test values; boxing would only add noise
pub enum Outbound {
    Send(SendMessage),
    MarkRead(MarkRead),
}

impl From<SendMessage> for Outbound {
    fn from(m: SendMessage) -> Self {
        Self::Send(m)
    }
}

impl From<MarkRead> for Outbound {
    fn from(m: MarkRead) -> Self {
        Self::MarkRead(m)
    }
}

impl Outbound {
    pub fn to_json(&self) -> Value {
        match self {
            Self::Send(m) => json(m),
            Self::MarkRead(m) => json(m),
        }
    }
}

type Built = Result<Outbound, BuildError>;
/// A fixture path and the builder that must reproduce it.
type RequestCase = (&'static str, fn() -> Built);

fn json(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).expect("request serialises")
}

fn text_preview_url() -> Built {
    let text =
        TextBody::new("Yes! Order here: https://example.com/p/lamp-blue")?.with_preview_url(true);
    Ok(Outbound::from(SendMessage::text("+447700900461", text)?))
}

fn text_reply_context() -> Built {
    let text = TextBody::new("Great, see you Thursday at 10:30.")?;
    Ok(Outbound::from(
        SendMessage::text("12025550187", text)?
            .in_reply_to("wamid.HBgLMTIwMjU1NTAxODcVAgASGBRGQjJCRjVCNDU1NzFGRkQ5MDdGNAA=")?,
    ))
}

fn template_with_components() -> Built {
    let text = |t: &str| TemplateParameter::Text { text: t.into() };
    let template = Template::new("order_shipped_v2", "en_GB")?
        .with_component(TemplateComponent::header(vec![TemplateParameter::Image {
            image: MediaObject::by_link("https://cdn.example.com/img/parcel.jpg")?,
        }]))
        .with_component(TemplateComponent::body(vec![
            text("Tomasz"),
            text("#58213"),
            TemplateParameter::Currency {
                currency: CurrencyParameter {
                    fallback_value: "£54.99".into(),
                    code: "GBP".into(),
                    amount_1000: 54_990,
                },
            },
            TemplateParameter::DateTime {
                date_time: DateTimeParameter {
                    fallback_value: "Monday 3 November".into(),
                },
            },
        ]))
        .with_component(TemplateComponent::button(
            ButtonSubType::QuickReply,
            0,
            vec![TemplateParameter::Payload {
                payload: "TRACK_58213".into(),
            }],
        )?)
        .with_component(TemplateComponent::button(
            ButtonSubType::Url,
            1,
            vec![text("58213")],
        )?);
    Ok(Outbound::from(SendMessage::template(
        "447700900812",
        template,
    )?))
}

fn interactive_buttons() -> Built {
    let interactive = Interactive::buttons(
        "Table for 2 at 19:30. Shall we confirm it?",
        vec![
            ReplyButton::new("booking_confirm_7731", "Confirm booking")?,
            ReplyButton::new("booking_change_7731", "Change time")?,
            ReplyButton::new("booking_cancel_7731", "Cancel")?,
        ],
    )?
    .with_header(InteractiveHeader::text("Booking for Sat 8 Nov")?)
    .with_footer("Reply within 2 hours")?;
    Ok(Outbound::from(SendMessage::interactive(
        "447700900461",
        interactive,
    )?))
}

fn interactive_list() -> Built {
    let interactive = Interactive::list(
        "Pick a time for your check-up.",
        "See slots",
        vec![
            ListSection::titled(
                "Monday",
                vec![
                    ListRow::new("slot_2025-11-03_1030", "Mon 3 Nov, 10:30")?
                        .with_description("Chair 2, with Dr. Okafor")?,
                    ListRow::new("slot_2025-11-03_1500", "Mon 3 Nov, 15:00")?
                        .with_description("Chair 1, with Dr. Lind")?,
                ],
            )?,
            ListSection::titled(
                "Tuesday",
                vec![ListRow::new("slot_2025-11-04_0900", "Tue 4 Nov, 09:00")?],
            )?,
        ],
    )?
    .with_header(InteractiveHeader::text("Available slots")?)
    .with_footer("Times are local")?;
    Ok(Outbound::from(SendMessage::interactive(
        "12025550187",
        interactive,
    )?))
}

fn image_by_link() -> Built {
    let image = MediaObject::by_link("https://cdn.example.com/img/lamp-green.jpg")?
        .with_caption("Here it is in green")?;
    Ok(Outbound::from(SendMessage::image("12025550166", image)?))
}

fn image_by_id() -> Built {
    Ok(Outbound::from(SendMessage::image(
        "12025550166",
        MediaObject::by_id("1479022368831457")?,
    )?))
}

fn reaction() -> Built {
    let reaction = ReactionBody::react(
        "wamid.HBgLNjE0OTE1NzAxNTgVAgASGBRCQ0Y4MzEwRTU3RDVBMjM4OTVEOQA=",
        "\u{1f64f}",
    )?;
    Ok(Outbound::from(SendMessage::reaction(
        "61491570158",
        reaction,
    )?))
}

fn mark_as_read() -> Built {
    Ok(Outbound::from(MarkRead::new(
        "wamid.HBgMNDQ3NzAwOTAwNDYxFQIAEhgUMUU5RTRFQ0IzMDMzOEU1Njk1NDQA",
    )?))
}

fn typing_indicator() -> Built {
    Ok(Outbound::from(
        MarkRead::new("wamid.HBgMNDQ3NzAwOTAwNDYxFQIAEhgUMUU5RTRFQ0IzMDMzOEU1Njk1NDQA")?
            .with_typing_indicator(),
    ))
}

/// One builder per `outbound_request` fixture; the coverage test checks the table is complete.
pub const REQUEST_BUILDERS: &[RequestCase] = &[
    ("outbound/requests/text_preview_url.json", text_preview_url),
    (
        "outbound/requests/text_reply_context.json",
        text_reply_context,
    ),
    (
        "outbound/requests/template_with_components.json",
        template_with_components,
    ),
    (
        "outbound/requests/interactive_buttons.json",
        interactive_buttons,
    ),
    ("outbound/requests/interactive_list.json", interactive_list),
    ("outbound/requests/image_by_link.json", image_by_link),
    ("outbound/requests/image_by_id.json", image_by_id),
    ("outbound/requests/reaction.json", reaction),
    ("outbound/requests/mark_as_read.json", mark_as_read),
    ("outbound/requests/typing_indicator.json", typing_indicator),
];

pub fn check_request(entry: &Value) {
    let file = file_of(entry);
    assert_eq!(entry["expect"]["semantically_equal_json"], true, "{file}");
    assert_eq!(entry["request"]["method"], "POST", "{file}");
    let url = entry["request"]["url"].as_str().expect("url");
    let api = switchboard_whatsapp::graph::types::messages_url(
        "https://graph.facebook.com",
        switchboard_whatsapp::graph::types::DEFAULT_API_VERSION,
        fixtures::manifest()["phone_number_id"]
            .as_str()
            .expect("phone_number_id"),
    );
    assert_eq!(url, api, "{file}: endpoint");
    let builder = REQUEST_BUILDERS
        .iter()
        .find(|(f, _)| *f == file)
        .unwrap_or_else(|| panic!("no builder for {file}"))
        .1;
    let built = builder().unwrap_or_else(|e| panic!("{file}: builder refused: {e}"));
    assert_eq!(built.to_json(), fixtures::read_json(file), "{file}");
}

#[test]
fn builders_serialise_to_the_fixtures() {
    for entry in entries_of("outbound_request") {
        check_request(entry);
    }
}

/// The specific decision each error fixture must produce (README section 5).
pub fn expected_decision(code: i64) -> RetryDecision {
    use BackoffKind::*;
    use NoRetryReason::*;
    let no = |reason| RetryDecision::NoRetry { reason };
    let backoff = |kind| RetryDecision::RetryBackoff { kind };
    match code {
        131047 => RetryDecision::WindowClosed,
        131026 => no(Undeliverable),
        100 | 131051 => no(InvalidRequest),
        132000 | 132015 => no(TemplateProblem),
        132001 => no(TemplateMissing),
        130429 => backoff(Throughput),
        131056 => backoff(PairRate),
        4 | 80007 => backoff(AppRate),
        190 => RetryDecision::ReauthOnce,
        368 => no(PolicyBlocked),
        other => panic!("no expectation for error code {other}"),
    }
}

pub fn check_response(entry: &Value) {
    let file = file_of(entry);
    let expect = &entry["expect"];
    let status = u16::try_from(expect["http_status"].as_u64().expect("http_status")).expect("u16");
    let body = fixtures::read(file);
    if expect["success"] == true {
        if expect.get("message_id").is_some() {
            let r: SendMessageResponse =
                parse_graph_response(status, &body).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(expect["message_id"].as_str(), r.message_id(), "{file}");
            assert_eq!(expect["wa_id"].as_str(), r.wa_id(), "{file}");
            let status = r.messages.first().and_then(|m| m.message_status.as_deref());
            assert_eq!(expect["message_status"].as_str(), status, "{file}");
        } else {
            let r: SuccessResponse =
                parse_graph_response(status, &body).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(r.success, "{file}");
        }
        return;
    }
    assert_eq!(expect["success"], false, "{file}");
    let err = match parse_graph_response::<SendMessageResponse>(status, &body) {
        Err(GraphCallError::Api { status: s, error }) => {
            assert_eq!(s, status);
            error
        }
        other => panic!("{file}: expected an API error, got {other:?}"),
    };
    assert_eq!(expect["error_code"].as_i64(), Some(err.code), "{file}");
    assert_eq!(
        expect["error_subcode"].as_i64(),
        err.error_subcode,
        "{file}: subcode"
    );
    let decision = err.classify();
    assert_eq!(decision, expected_decision(err.code), "{file}");
    let retry_ok = match expect["retry"].as_str() {
        Some("no") => !decision.is_retryable(),
        Some("yes") => matches!(decision, RetryDecision::RetryBackoff { .. }),
        Some("after_reauth") => decision == RetryDecision::ReauthOnce,
        other => panic!("{file}: unknown retry {other:?}"),
    };
    assert!(
        retry_ok,
        "{file}: {decision:?} vs retry {}",
        expect["retry"]
    );
    assert!(err.fbtrace_id.is_some(), "{file}: fbtrace_id");
}

#[test]
fn responses_decode_and_errors_classify() {
    for entry in entries_of("outbound_response") {
        check_response(entry);
    }
}

#[test]
fn limits_are_enforced_before_sending() {
    assert!(matches!(
        TextBody::new("x".repeat(4097)),
        Err(BuildError::TooLong { max: 4096, .. })
    ));
    let b = |i: u8| ReplyButton::new(format!("b{i}"), "ok");
    let four: Result<Vec<_>, _> = (0..4).map(b).collect();
    assert!(matches!(
        Interactive::buttons("body", four.expect("buttons")),
        Err(BuildError::TooMany { max: 3, .. })
    ));
    assert!(matches!(
        ReplyButton::new("id", "twenty-one characters"),
        Err(BuildError::TooLong { max: 20, .. })
    ));
    let rows: Result<Vec<_>, _> = (0..11)
        .map(|i| ListRow::new(format!("r{i}"), "row"))
        .collect();
    assert!(matches!(
        Interactive::list(
            "body",
            "open",
            vec![ListSection::untitled(rows.expect("rows"))]
        ),
        Err(BuildError::TooMany { max: 10, .. })
    ));
}

#[test]
fn removing_a_reaction_sends_an_empty_emoji() {
    let r = ReactionBody::remove("wamid.X").expect("valid");
    let v = json(SendMessage::reaction("1", r).expect("valid"));
    assert_eq!(v["reaction"]["emoji"], "");
}
