//! The dashboard's figures through the API, over a seeded database, in a time zone whose
//! calendar day differs from UTC's.

use crate::support::TestServer;
use serde_json::Value;
use switchboard_core::secrets::MemorySecrets;
use switchboard_core::Config;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// Mexico City has kept UTC-6 all year since 2022, so its midnight is computed here
/// without the engine's calendar code.
const MEXICO_OFFSET: i64 = -6 * HOUR;

fn local_midnight(now: i64) -> i64 {
    let local = now + MEXICO_OFFSET;
    local - local.rem_euclid(DAY) - MEXICO_OFFSET
}

fn date_of(start: i64) -> String {
    switchboard_core::clock::to_rfc3339(start + MEXICO_OFFSET)[..10].to_string()
}

#[tokio::test]
async fn daily_metrics_are_computed_over_the_business_calendar() {
    let mut config = Config::default();
    config.business.timezone = "America/Mexico_City".into();
    let server = TestServer::start_with(config, MemorySecrets::default()).await;
    let today = local_midnight(server.engine.now_ms());
    let yesterday = today - DAY;
    let before = yesterday - DAY;

    // Yesterday: A is answered by the AI twice (30 s and 90 s); B escalates and a person
    // answers after 600 s; C writes at 23:30 local (05:30 UTC, already "today" in UTC) and
    // waits. D wrote one millisecond before yesterday began. Today: A is answered in 45 s.
    let (y, t) = (yesterday, today);
    let seed = format!(
        "INSERT INTO contacts (id, phone_number_id, wa_id, created_at, updated_at) VALUES
           (1, 'p', '1', 0, 0), (2, 'p', '2', 0, 0), (3, 'p', '3', 0, 0), (4, 'p', '4', 0, 0);
         INSERT INTO conversations (id, contact_id, phone_number_id, created_at, updated_at) VALUES
           (1, 1, 'p', 0, 0), (2, 2, 'p', 0, 0), (3, 3, 'p', 0, 0), (4, 4, 'p', 0, 0);
         INSERT INTO pipeline_runs (id, conversation_id, state, started_at) VALUES (1, 1, 'completed', {y});
         INSERT INTO actions (id, conversation_id, kind, params, state, idempotency_key, decided_by, decided_at,
                              original_params, edit_diff, created_at) VALUES
           (1, 1, 'reply', '{{}}', 'executed', 'k1', 'operator:owner', {y1}, NULL, NULL, {y}),
           (2, 1, 'reply', '{{}}', 'executed', 'k2', 'operator:2:ana', {y2}, '{{}}', '{{\"json_patch\":[]}}', {y}),
           (3, 2, 'reply', '{{}}', 'rejected', 'k3', 'operator:owner', {y3}, NULL, NULL, {y}),
           (4, 1, 'no_action', '{{}}', 'executed', 'k4', 'policy', {y3}, NULL, NULL, {y}),
           (5, 1, 'reply', '{{}}', 'executed', 'k5', 'operator:owner', {t1}, NULL, NULL, {t});
         INSERT INTO messages (id, conversation_id, direction, kind, text, status, sent_by, action_id, created_at) VALUES
           (1,  4, 'inbound',  'text', 'hola', 'received', NULL, NULL, {b_last}),
           (2,  1, 'inbound',  'text', 'a1', 'received', NULL, NULL, {a1}),
           (3,  1, 'outbound', 'text', 'r1', 'delivered', 'ai', 1, {a1r}),
           (4,  1, 'inbound',  'text', 'a2', 'received', NULL, NULL, {a2}),
           (5,  1, 'inbound',  'text', 'a2 again', 'received', NULL, NULL, {a2b}),
           (6,  1, 'outbound', 'text', 'r2', 'read', 'ai', 2, {a2r}),
           (7,  2, 'inbound',  'text', 'b1', 'received', NULL, NULL, {b1}),
           (8,  2, 'outbound', 'text', 'failed send', 'failed', 'ai', NULL, {b1f}),
           (9,  2, 'outbound', 'text', 'human', 'sent', 'operator:owner', NULL, {b1r}),
           (10, 3, 'inbound',  'text', 'c1', 'received', NULL, NULL, {c1}),
           (11, 1, 'inbound',  'text', 'a3', 'received', NULL, NULL, {a3}),
           (12, 1, 'outbound', 'text', 'r3', 'sent', 'ai', 5, {a3r});
         INSERT INTO escalations (conversation_id, source, reason, state, created_at) VALUES
           (2, 'model', 'wants a refund', 'taken', {b1e});
         INSERT INTO run_attempts (run_id, attempt, tier, provider, model, tokens_in, tokens_out, cost, started_at) VALUES
           (1, 1, 0, 'p', 'm', 100, 20, 0.001, {y1}),
           (1, 2, 1, 'p', 'm', 200, 40, 0.002, {y2}),
           (1, 3, 0, 'p', 'm', 50, 10, NULL, {t1});",
        b_last = y - 1,
        y1 = y + HOUR + 30_000,
        y2 = y + 2 * HOUR + 90_000,
        y3 = y + 3 * HOUR,
        t1 = t + 60_000 + 45_000,
        a1 = y + HOUR,
        a1r = y + HOUR + 30_000,
        a2 = y + 2 * HOUR,
        a2b = y + 2 * HOUR + 10_000,
        a2r = y + 2 * HOUR + 90_000,
        b1 = y + 3 * HOUR,
        b1e = y + 3 * HOUR + 10_000,
        b1f = y + 3 * HOUR + 20_000,
        b1r = y + 3 * HOUR + 600_000,
        c1 = y + 23 * HOUR + 30 * 60_000,
        a3 = t + 60_000,
        a3r = t + 60_000 + 45_000,
    );
    server
        .engine
        .store()
        .write(move |c| Ok(c.execute_batch(&seed)?))
        .await
        .unwrap();

    let response = server.get("/api/metrics?days=3").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["time_zone"], "America/Mexico_City");
    let days = body["days"].as_array().unwrap();
    let dates: Vec<&str> = days.iter().map(|d| d["date"].as_str().unwrap()).collect();
    assert_eq!(
        dates,
        [date_of(before), date_of(yesterday), date_of(today)],
        "oldest first, ending today"
    );

    let (d2, d1, d0) = (&days[0], &days[1], &days[2]);
    assert_eq!(
        d2["inbound_messages"], 1,
        "the message one millisecond before midnight is the day before"
    );
    assert_eq!(d2["unanswered"], 1);
    assert_eq!(d2["decisions"], 0);
    assert_eq!(
        d2["approvals_without_edits_share"],
        Value::Null,
        "no decisions: no share"
    );
    assert_eq!(d2["median_first_reply_ms"], Value::Null);
    assert_eq!(d2["cost_usd"], Value::Null);

    assert_eq!(
        d1["inbound_messages"], 5,
        "23:30 local counts on the local day, not UTC's"
    );
    assert_eq!(d1["conversations"], 3);
    assert_eq!(
        d1["resolved_without_human"], 1,
        "only A: B escalated and a person wrote, C waits"
    );
    assert_share(&d1["resolved_without_human_share"], 1.0 / 3.0);
    assert_eq!(d1["escalated_conversations"], 1);
    assert_eq!(d1["escalations_opened"], 1);
    assert_share(&d1["escalation_rate"], 1.0 / 3.0);
    assert_eq!(
        d1["decisions"], 3,
        "the policy's own approval is not an operator's decision"
    );
    assert_eq!(d1["approved_unedited"], 1);
    assert_eq!(d1["approved_edited"], 1);
    assert_eq!(d1["rejected"], 1);
    assert_share(&d1["approvals_without_edits_share"], 1.0 / 3.0);
    assert_eq!(
        d1["replies_measured"], 3,
        "A's second message is the same turn; a failed send is no reply"
    );
    assert_eq!(
        d1["median_first_reply_ms"], 90_000,
        "the median of 30 s, 90 s and 600 s"
    );
    assert_eq!(d1["unanswered"], 1);
    assert_eq!(d1["model_calls"], 2);
    assert_eq!(d1["tokens_in"], 300);
    assert_eq!(d1["tokens_out"], 60);
    assert!(
        (d1["cost_usd"].as_f64().unwrap() - 0.003).abs() < 1e-12,
        "{}",
        d1["cost_usd"]
    );

    assert_eq!(d0["inbound_messages"], 1);
    assert_eq!(d0["resolved_without_human"], 1);
    assert_eq!(d0["median_first_reply_ms"], 45_000);
    assert_eq!(d0["approved_unedited"], 1);
    assert_share(&d0["approvals_without_edits_share"], 1.0);
    assert_eq!(d0["tokens_in"], 50);
    assert_eq!(
        d0["cost_usd"],
        Value::Null,
        "a call without a price has no cost"
    );

    let default: Value = server
        .get("/api/metrics")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        default["days"].as_array().unwrap().len(),
        14,
        "two weeks by default"
    );
    for bad in ["days=0", "days=367"] {
        let response = server
            .get(&format!("/api/metrics?{bad}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("between 1 and 366"));
    }
    let response = server.get("/api/metrics?days=many").send().await.unwrap();
    assert_eq!(response.status(), 400);
}

fn assert_share(value: &Value, expected: f64) {
    let got = value
        .as_f64()
        .unwrap_or_else(|| panic!("a share, not {value}"));
    assert!(
        (got - expected).abs() < 1e-9,
        "share {got}, expected {expected}"
    );
}
