//! `GET /api/messages/{id}/media` against a fake Graph API on loopback: downloaded on first
//! use (size and type checked), served from disk after that, with headers that keep a
//! hostile file from running in the console; and the sandbox's own Graph API serving a
//! simulated customer's image.

use crate::fake_graph::FakeGraph;
use crate::outbox::{live_server, signature};
use crate::support::TestServer;
use base64::Engine as _;
use serde_json::{json, Value};
use switchboard_core::ids::MessageId;

const IMAGE_MEDIA_ID: &str = "985370674324509";
const DOCUMENT_MEDIA_ID: &str = "1652941953760971";

fn jpeg() -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    bytes.extend((0..2_000u32).map(|i| (i % 251) as u8));
    bytes.extend([0xFF, 0xD9]);
    bytes
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// Posts a fixture webhook (optionally with its media id and wamid replaced) and processes
/// it; returns the id of the message it carried.
async fn receive(server: &TestServer, fixture: &str, media_id: Option<&str>) -> MessageId {
    let mut body: Value = serde_json::from_slice(
        &std::fs::read(crate::support::fixtures_dir().join(fixture)).unwrap(),
    )
    .unwrap();
    let message = &mut body["entry"][0]["changes"][0]["value"]["messages"][0];
    let kind = message["type"].as_str().unwrap().to_string();
    if let Some(id) = media_id {
        message[&kind]["id"] = json!(id);
        message["id"] = json!(format!("wamid.media-test.{id}"));
    }
    let wamid = message["id"].as_str().unwrap().to_string();
    let body = body.to_string();
    let response = server
        .client
        .post(format!("{}/webhooks/whatsapp", server.base))
        .header("X-Hub-Signature-256", signature(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.engine.process_inbox().await.unwrap();
    server
        .engine
        .store()
        .read_blocking(move |c| {
            Ok(
                c.query_row("SELECT id FROM messages WHERE wamid = ?1", [wamid], |r| {
                    r.get(0).map(MessageId)
                })?,
            )
        })
        .unwrap()
}

async fn media(server: &TestServer, id: MessageId) -> reqwest::Response {
    server
        .get(&format!("/api/messages/{}/media", id.0))
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"].as_str().unwrap().to_string(),
        body["error"]["message"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn an_image_is_downloaded_once_then_served_from_disk() {
    let fake = FakeGraph::start().await;
    let server = live_server(&fake, |_| {}).await;
    let bytes = jpeg();
    fake.add_media(IMAGE_MEDIA_ID, "image/jpeg", bytes.clone());
    let id = receive(&server, "inbound/image.json", None).await;

    let first = media(&server, id).await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "content-type"), "image/jpeg");
    assert!(header(&first, "content-disposition").starts_with("inline"));
    assert_eq!(header(&first, "x-content-type-options"), "nosniff");
    assert_eq!(first.bytes().await.unwrap().to_vec(), bytes);
    assert_eq!(
        fake.media_hits(),
        [
            format!("GET /v24.0/{IMAGE_MEDIA_ID}"),
            format!("GET /cdn/{IMAGE_MEDIA_ID}")
        ],
        "media id → URL → bytes, once"
    );

    let second = media(&server, id).await;
    assert_eq!(second.status(), 200);
    assert_eq!(second.bytes().await.unwrap().to_vec(), bytes);
    assert_eq!(
        fake.media_hits().len(),
        2,
        "the second request does not call Graph"
    );
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    assert_eq!(
        files_in(&server.engine.media_dir()),
        [format!("{sha}.jpeg")],
        "kept in <data_dir>/media, named by content, nothing else left"
    );

    let range = server
        .get(&format!("/api/messages/{}/media", id.0))
        .header("Range", "bytes=0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206, "players may ask for ranges");
    assert_eq!(range.bytes().await.unwrap().to_vec(), bytes[..4].to_vec());
}

#[tokio::test]
async fn documents_are_attachments_and_a_fake_image_is_not_shown_inline() {
    let fake = FakeGraph::start().await;
    let server = live_server(&fake, |_| {}).await;
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".to_vec();
    fake.add_media(DOCUMENT_MEDIA_ID, "application/pdf", pdf.clone());
    let document = receive(&server, "inbound/document.json", None).await;
    let response = media(&server, document).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/pdf");
    assert_eq!(
        header(&response, "content-disposition"),
        "attachment; filename=\"invoice-2025-10.pdf\"; filename*=UTF-8''invoice-2025-10.pdf",
        "saved under the name the customer gave it"
    );
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_eq!(response.bytes().await.unwrap().to_vec(), pdf);

    // Declared a JPEG, but the bytes are a script: never rendered by the browser.
    let hostile =
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    fake.add_media("777000111", "image/jpeg", hostile.clone());
    let image = receive(&server, "inbound/image.json", Some("777000111")).await;
    let response = media(&server, image).await;
    assert_eq!(response.status(), 200);
    assert!(
        header(&response, "content-disposition").starts_with("attachment"),
        "bytes that are not the image they claim to be are only offered as a download"
    );
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert!(header(&response, "content-security-policy").contains("sandbox"));
}

#[tokio::test]
async fn refusals_are_clear_and_leave_nothing_behind() {
    let fake = FakeGraph::start().await;
    let server = live_server(&fake, |c| c.whatsapp.media_max_bytes = 1_000).await;

    fake.add_media("100000001", "image/jpeg", jpeg());
    let large = receive(&server, "inbound/image.json", Some("100000001")).await;
    let (status, code, message) = error_of(media(&server, large).await).await;
    assert_eq!((status, code.as_str()), (422, "invalid_request"));
    assert!(message.contains("media_max_bytes"), "{message}");
    assert!(
        !fake.media_hits().iter().any(|h| h.contains("/cdn/")),
        "refused from the declared size, before any byte is fetched"
    );

    fake.add_media("100000002", "application/x-msdownload", b"MZ".to_vec());
    let exe = receive(&server, "inbound/document.json", Some("100000002")).await;
    let (status, _, message) = error_of(media(&server, exe).await).await;
    assert_eq!(status, 422);
    assert!(message.contains("application/x-msdownload") && message.contains("media_types"));

    // No media registered: the lookup answers Graph's "does not exist" (100/33).
    let expired = receive(&server, "inbound/image.json", Some("100000003")).await;
    let (status, code, message) = error_of(media(&server, expired).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    assert!(message.contains("no longer has this media"), "{message}");

    fake.media_lookup_error(
        "100000004",
        500,
        json!({"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1, "fbtrace_id": "X"}}),
    );
    let broken = receive(&server, "inbound/image.json", Some("100000004")).await;
    let (status, code, _) = error_of(media(&server, broken).await).await;
    assert_eq!((status, code.as_str()), (502, "upstream_unavailable"));

    let text = receive(&server, "inbound/text.json", None).await;
    let (status, _, message) = error_of(media(&server, text).await).await;
    assert_eq!(status, 404);
    assert!(message.contains("has no media"), "{message}");
    let (status, _, _) = error_of(media(&server, MessageId(987_654)).await).await;
    assert_eq!(status, 404);

    assert!(
        files_in(&server.engine.media_dir()).is_empty(),
        "no file and no partial download is left by a refusal"
    );
    let unauthenticated = server
        .client
        .get(format!("{}/api/messages/{}/media", server.base, large.0))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn the_sandbox_serves_a_simulated_customers_image() {
    let server = TestServer::start().await;
    let graph = format!("{}/sandbox/graph", server.base);
    server.engine.set_graph_base_url(graph.clone());
    let accepted = server
        .post("/api/sandbox/messages")
        .json(&json!({
            "from": "5215512345678", "name": "Lucía", "text": "Así llegó la caja",
            "media": {"mime_type": "image/png", "data_base64": base64::engine::general_purpose::STANDARD.encode(PNG)}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    server.engine.process_inbox().await.unwrap();
    let (id, media_id, caption): (i64, String, String) = server
        .engine
        .store()
        .read_blocking(|c| {
            Ok(c.query_row(
                "SELECT id, json_extract(content, '$.id'), text FROM messages WHERE kind = 'image'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        })
        .unwrap();
    assert_eq!(caption, "Así llegó la caja");

    let response = media(&server, MessageId(id)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "image/png");
    assert!(header(&response, "content-disposition").starts_with("inline"));
    assert_eq!(response.bytes().await.unwrap().to_vec(), PNG.to_vec());

    // The sandbox's Graph API guards media like Graph does, and still answers for its number.
    let no_token = server
        .client
        .get(format!("{graph}/v24.0/{media_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    let body: Value = no_token.json().await.unwrap();
    assert_eq!(body["error"]["code"], 190);
    let token = server.engine.channel().access_token.clone().unwrap();
    let number: Value = server
        .client
        .get(format!(
            "{graph}/v24.0/{}",
            switchboard_engine::sandbox::SANDBOX_PHONE_NUMBER_ID
        ))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        number["id"],
        switchboard_engine::sandbox::SANDBOX_PHONE_NUMBER_ID
    );

    let bad = server
        .post("/api/sandbox/messages")
        .json(&json!({"from": "5215512345678", "media": {"mime_type": "image/png", "data_base64": "***"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}
