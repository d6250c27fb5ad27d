//! `webhook_post_sequence` entries: each array element is POSTed in order, signed over its
//! compact serialisation; events are deduplicated and statuses applied monotonically.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Value};
use switchboard_whatsapp::webhook::{
    self,
    payload::{DeliveryStatus, WebhookEvent},
    ParseOutcome,
};

use crate::fixtures::{self, assert_events, entries_of, file_of};

pub fn check(entry: &Value) {
    let file = file_of(entry);
    let expect = &entry["expect"];
    let items = fixtures::compact_array_elements(&fixtures::read(file));
    let want_items = expect["items"].as_array().expect("items");
    assert_eq!(items.len(), want_items.len(), "{file}: item count");

    let mut seen = HashSet::new();
    let mut kept: Vec<WebhookEvent> = Vec::new();
    let mut final_status: BTreeMap<String, DeliveryStatus> = BTreeMap::new();
    for (i, (body, want)) in items.iter().zip(want_items).enumerate() {
        let ctx = format!("{file}[{i}]");
        assert_eq!(json!(i), want["index"], "{ctx}: index");
        assert_eq!(
            json!(body.len()),
            want["compact_bytes"],
            "{ctx}: compact length"
        );
        let header = want["x_hub_signature_256"].as_str();
        assert_eq!(
            header,
            Some(webhook::sign(fixtures::secret(), body).as_str()),
            "{ctx}: signature"
        );

        let outcome = webhook::receive(fixtures::secret(), header, body)
            .unwrap_or_else(|e| panic!("{ctx}: refused: {e}"));
        assert_eq!(
            json!(outcome.http_status()),
            expect["http_status_each"],
            "{ctx}"
        );
        let ParseOutcome::Processed(parsed) = outcome else {
            panic!("{ctx}: ignored")
        };
        assert!(
            parsed.dropped.is_empty(),
            "{ctx}: dropped {:?}",
            parsed.dropped
        );

        for event in parsed.events {
            // Dedupe durably before side effects: here, a set standing in for the store.
            let Some(key) = event.dedup_key() else {
                continue;
            };
            if !seen.insert(key) {
                continue;
            }
            if let WebhookEvent::Status(s) = &event {
                let apply = final_status
                    .get(&s.wamid)
                    .is_none_or(|current| s.status.supersedes(current));
                if apply {
                    final_status.insert(s.wamid.clone(), s.status.clone());
                }
            }
            kept.push(event);
        }
    }
    assert_eq!(expect["outcome"], "process", "{file}");
    assert_events(
        &format!("{file} (after dedup)"),
        &expect["events_after_dedup"],
        &kept,
    );
    let got: BTreeMap<_, _> = final_status
        .iter()
        .map(|(k, v)| (k.clone(), json!(v.as_str())))
        .collect();
    let want: BTreeMap<_, _> = expect["final_status_by_message_id"]
        .as_object()
        .expect("final_status_by_message_id")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(got, want, "{file}: final statuses");
}

#[test]
fn every_sequence_matches_its_expectation() {
    for entry in entries_of("webhook_post_sequence") {
        check(entry);
    }
}

#[test]
fn file_signature_covers_the_pretty_array_not_the_items() {
    // The manifest's file-level signature is over the whole pretty file; the items must be
    // re-cut, not posted as one body.
    for entry in entries_of("webhook_post_sequence") {
        let bytes = fixtures::read(file_of(entry));
        let header = entry["x_hub_signature_256"].as_str();
        let out = webhook::receive(fixtures::secret(), header, &bytes);
        // A JSON array is not a webhook envelope.
        assert_eq!(out.map(|_| ()).map_err(|e| e.http_status()), Err(400));
    }
}
