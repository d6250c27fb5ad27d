//! The thread as the console reads it: a reply carries what it quotes, a reaction sits on the
//! message it reacts to, and a reaction whose target we do not have stays visible.

use crate::support::{fixtures_dir, TestServer};
use serde_json::Value;
use switchboard_store::queries::{contacts, conversations};

/// Meta's wamids of our own messages that the fixtures reply and react to.
const REACTED_TO: &str = "wamid.HBgLNjE0OTE1NzAxNTgVAgARGBI2Q0Y4Qjc3MTdEMUE3ODBGMDkA";
const QUOTED: &str = "wamid.HBgLMTIwMjU1NTAxODcVAgARGBIyNzlBNDlBOTE1NjJBQjRDMzEA";

fn fixture(file: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixtures_dir().join(file)).unwrap()).unwrap()
}

/// Posts a signed webhook body and applies it.
async fn deliver(server: &TestServer, body: &Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let signature = switchboard_whatsapp::webhook::sign(b"test-app-secret", &bytes);
    let response = server
        .client
        .post(format!("{}/webhooks/whatsapp", server.base))
        .header("content-type", "application/json")
        .header("X-Hub-Signature-256", signature)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server.engine.process_inbox().await.unwrap();
}

/// The fixture's single message, with its wamid and (for a reaction) emoji or target changed.
fn variant(file: &str, wamid: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut body = fixture(file);
    let message = &mut body["entry"][0]["changes"][0]["value"]["messages"][0];
    message["id"] = wamid.into();
    edit(message);
    body
}

/// One of our sent messages, as the outbox leaves it once Meta accepted it.
async fn our_message(
    server: &TestServer,
    wa_id: &'static str,
    wamid: &'static str,
    text: &'static str,
) -> (i64, i64) {
    server
        .engine
        .store()
        .write(move |c| {
            let contact = contacts::upsert(
                c,
                &contacts::ContactKey {
                    phone_number_id: "487120593306718".into(),
                    wa_id: Some(wa_id.into()),
                    user_id: None,
                },
                None,
                false,
                1,
            )?;
            let conversation = conversations::ensure_for_contact(c, &contact, 1)?;
            c.execute(
                "INSERT INTO messages (conversation_id, direction, wamid, kind, text, status, created_at)
                 VALUES (?1, 'outbound', ?2, 'text', ?3, 'delivered', 1)",
                switchboard_store::rusqlite::params![conversation.0, wamid, text],
            )?;
            Ok((conversation.0, c.last_insert_rowid()))
        })
        .await
        .unwrap()
}

async fn thread(server: &TestServer, conversation: i64) -> Vec<Value> {
    let page: Value = server
        .get(&format!("/api/conversations/{conversation}/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn reactions_sit_on_their_message_and_the_latest_one_wins() {
    let server = TestServer::start_live().await;
    let (conversation, ours) = our_message(
        &server,
        "61491570158",
        REACTED_TO,
        "Your table for 4 is booked.",
    )
    .await;

    deliver(&server, &fixture("inbound/reaction.json")).await;
    let items = thread(&server, conversation).await;
    assert_eq!(
        items.len(),
        1,
        "the reaction is not a bubble of its own: {items:#?}"
    );
    assert_eq!(items[0]["id"], ours);
    assert_eq!(items[0]["wamid"], REACTED_TO);
    assert_eq!(
        items[0]["reactions"],
        serde_json::json!([{"emoji": "👍", "from": "customer"}])
    );

    // A new reaction from the same customer replaces the first; an empty one removes it.
    deliver(
        &server,
        &variant("inbound/reaction.json", "wamid.test.reaction.2", |m| {
            m["reaction"]["emoji"] = "❤️".into();
        }),
    )
    .await;
    let items = thread(&server, conversation).await;
    assert_eq!(
        items[0]["reactions"],
        serde_json::json!([{"emoji": "❤️", "from": "customer"}])
    );
    deliver(
        &server,
        &variant("inbound/reaction.json", "wamid.test.reaction.3", |m| {
            m["reaction"]["emoji"] = "".into();
        }),
    )
    .await;
    let items = thread(&server, conversation).await;
    assert_eq!(
        items.len(),
        1,
        "a removal is not a bubble either: {items:#?}"
    );
    assert_eq!(items[0]["reactions"], serde_json::json!([]));

    // A reaction to a message we do not have is never dropped: it stays a line of its own.
    deliver(
        &server,
        &variant("inbound/reaction.json", "wamid.test.reaction.4", |m| {
            m["reaction"]["message_id"] = "wamid.not.ours".into();
            m["reaction"]["emoji"] = "😮".into();
        }),
    )
    .await;
    let items = thread(&server, conversation).await;
    assert_eq!(items.len(), 2, "{items:#?}");
    assert_eq!(items[1]["kind"], "reaction");
    assert_eq!(items[1]["wamid"], "wamid.test.reaction.4");
    assert_eq!(items[1]["content"]["emoji"], "😮");
    assert_eq!(items[1]["content"]["message_id"], "wamid.not.ours");
    assert_eq!(items[0]["reactions"], serde_json::json!([]));
}

#[tokio::test]
async fn a_reply_names_the_message_it_quotes_when_we_have_it() {
    let server = TestServer::start_live().await;
    let (conversation, ours) = our_message(
        &server,
        "12025550187",
        QUOTED,
        "We can come on Thursday between 9:00 and 12:00. Does that suit you? Reply and we will confirm the exact time with the technician.",
    )
    .await;

    deliver(&server, &fixture("inbound/reply_with_context.json")).await;
    let items = thread(&server, conversation).await;
    assert_eq!(items.len(), 2, "{items:#?}");
    assert_eq!(items[0]["reply_to"], Value::Null);
    assert_eq!(items[0]["reactions"], serde_json::json!([]));
    let reply = &items[1];
    assert_eq!(reply["text"], "Yes, Thursday works for me.");
    assert_eq!(
        reply["wamid"],
        "wamid.HBgLMTIwMjU1NTAxODcVAgASGBRGQjJCRjVCNDU1NzFGRkQ5MDdGNAA="
    );
    assert_eq!(reply["reply_to"]["wamid"], QUOTED);
    assert_eq!(reply["reply_to"]["message_id"], ours);
    let preview = reply["reply_to"]["preview"].as_str().unwrap();
    assert!(
        preview.starts_with("We can come on Thursday between 9:00 and 12:00.")
            && preview.chars().count() == 100,
        "a short preview of the quoted text: {preview:?}"
    );

    // Quoting a message we never had still says it is a reply, without inventing its text.
    deliver(
        &server,
        &variant(
            "inbound/reply_with_context.json",
            "wamid.test.reply.2",
            |m| {
                m["context"]["id"] = "wamid.not.ours".into();
            },
        ),
    )
    .await;
    let items = thread(&server, conversation).await;
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[2]["reply_to"],
        serde_json::json!({"wamid": "wamid.not.ours", "message_id": null, "preview": null})
    );
}
