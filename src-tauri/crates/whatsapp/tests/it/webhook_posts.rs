//! Every `webhook_post` entry: signature over the exact file bytes, then the full pipeline,
//! compared with `expect` (outcome, HTTP status, events, dropped).

use serde_json::Value;
use switchboard_whatsapp::webhook::{self, ParseOutcome, RejectedPost};

use crate::fixtures::{self, assert_dropped, assert_events, entries_of, file_of};

/// Runs one entry and checks it against its `expect`.
pub fn check(entry: &Value) {
    let file = file_of(entry);
    let body = fixtures::read(file);
    let expect = &entry["expect"];
    let header = entry["x_hub_signature_256"].as_str();
    let outcome = webhook::receive(fixtures::secret(), header, &body);

    let want_status = expect["http_status"].as_u64().expect("http_status");
    let got_status = match &outcome {
        Ok(o) => o.http_status(),
        Err(e) => e.http_status(),
    };
    assert_eq!(
        u64::from(got_status),
        want_status,
        "{file}: status, outcome {outcome:?}"
    );

    match (expect["outcome"].as_str(), &outcome) {
        (Some("process"), Ok(ParseOutcome::Processed(parsed))) => {
            assert_events(file, &expect["events"], &parsed.events);
            assert_dropped(file, expect.get("dropped"), &parsed.dropped);
        }
        (Some("ignore"), Ok(ParseOutcome::Ignored(_))) => {
            assert_eq!(expect["events"].as_array().map(Vec::len), Some(0), "{file}");
        }
        (Some("reject"), Err(RejectedPost::Payload(_) | RejectedPost::TooLarge { .. })) => {
            assert_eq!(expect["events"].as_array().map(Vec::len), Some(0), "{file}");
        }
        (want, got) => panic!("{file}: expected outcome {want:?}, got {got:?}"),
    }
}

#[test]
fn every_webhook_post_matches_its_expectation() {
    for entry in entries_of("webhook_post") {
        check(entry);
    }
}

#[test]
fn oversized_body_is_refused_before_the_signature_is_checked() {
    let body = vec![b' '; webhook::MAX_BODY_BYTES + 1];
    let out = webhook::receive(fixtures::secret(), None, &body);
    assert!(matches!(out, Err(RejectedPost::TooLarge { .. })), "{out:?}");
    assert!(webhook::check_body_size(webhook::MAX_BODY_BYTES).is_ok());
}

#[test]
fn unsigned_fixture_is_refused_before_parsing() {
    // A body that would be a 400 if parsed must be a 401 without a signature.
    let body = fixtures::read("malformed/truncated.json");
    let out = webhook::receive(fixtures::secret(), None, &body);
    assert_eq!(out.map(|_| ()).map_err(|e| e.http_status()), Err(401));
}

#[test]
fn batch_joins_contacts_by_wa_id_not_index() {
    // The batch fixture orders contacts differently from messages; the names must follow
    // the sender ids. Reversing the contacts array must not change anything.
    let mut doc = fixtures::read_json("inbound/batch_multi_message_multi_contact.json");
    let contacts = doc
        .pointer_mut("/entry/0/changes/0/value/contacts")
        .and_then(Value::as_array_mut)
        .expect("contacts array");
    contacts.reverse();
    let body = serde_json::to_vec(&doc).expect("serialise");
    let header = webhook::sign(fixtures::secret(), &body);
    let out = webhook::receive(fixtures::secret(), Some(&header), &body).expect("accepted");
    let entry = entries_of("webhook_post")
        .into_iter()
        .find(|e| fixtures::file_of(e) == "inbound/batch_multi_message_multi_contact.json")
        .expect("batch entry");
    assert_events(
        "batch (contacts reversed)",
        &entry["expect"]["events"],
        out.events(),
    );
}

#[test]
fn dedup_keys_and_routes() {
    use switchboard_whatsapp::webhook::payload::{DedupKey, DeliveryStatus};
    let body = fixtures::read("inbound/multi_entry.json");
    let out = webhook::parse(webhook::VerifiedBody::assume_verified(&body)).expect("parses");
    let keys: Vec<_> = out.events().iter().map(|e| e.dedup_key()).collect();
    assert!(matches!(
        &keys[..],
        [
            Some(DedupKey::Message(_)),
            Some(DedupKey::Status(_, DeliveryStatus::Delivered))
        ]
    ));
    let routes: Vec<_> = out
        .events()
        .iter()
        .map(|e| e.route().phone_number_id.as_str())
        .collect();
    assert_eq!(routes, ["487120593306718", "592330417768105"]);
}
