//! The outbox against a fake Graph API on loopback: a burst is paced by the number's limit,
//! a pair-rate error holds back that customer only, and a send in flight when the process
//! is killed is never resent blindly (the real binary, `kill -9`).

use crate::fake_graph::{Answer, FakeGraph, TOKEN as GRAPH_TOKEN};
use crate::fake_llm::{FakeLlm, Reply};
use crate::support::TestServer;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use switchboard_core::config::WhatsAppMode;
use switchboard_core::ids::{ActionId, ConversationId};
use switchboard_core::secrets::{MemorySecrets, SecretName, SecretStore};
use switchboard_core::{Config, Secret};

const APP_SECRET: &str = "test-app-secret";
const PHONE_NUMBER_ID: &str = "487120593306718";

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A customer's text message as Meta posts it.
fn customer_webhook(wa_id: &str, wamid: &str, text: &str) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "318204957716342", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "12025550143", "phone_number_id": PHONE_NUMBER_ID },
            "contacts": [{ "profile": { "name": format!("Customer {wa_id}") }, "wa_id": wa_id }],
            "messages": [{ "from": wa_id, "id": wamid, "timestamp": now_s().to_string(), "type": "text", "text": { "body": text } }]
        }}]}]
    })
    .to_string()
}

/// A status webhook for a message we sent, echoing our key as Meta does.
fn status_webhook(wamid: &str, to: &str, status: &str, callback: &str) -> String {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "318204957716342", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "12025550143", "phone_number_id": PHONE_NUMBER_ID },
            "statuses": [{ "id": wamid, "status": status, "timestamp": now_s().to_string(),
                           "recipient_id": to, "biz_opaque_callback_data": callback }]
        }}]}]
    })
    .to_string()
}

pub(crate) fn signature(body: &str) -> String {
    switchboard_whatsapp::webhook::sign(APP_SECRET.as_bytes(), body.as_bytes())
}

fn live_secrets() -> MemorySecrets {
    let secrets = MemorySecrets::default();
    for (name, value) in [
        (SecretName::WhatsAppAppSecret, APP_SECRET),
        (SecretName::WhatsAppVerifyToken, "test-verify-token"),
        (SecretName::WhatsAppAccessToken, GRAPH_TOKEN),
    ] {
        secrets.set(&name, &Secret::new(value)).unwrap();
    }
    secrets
}

/// A live-mode server whose Graph API is `fake`. No pipeline run starts: the tests approve
/// actions themselves.
pub(crate) async fn live_server(fake: &FakeGraph, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let mut config = Config::default();
    config.whatsapp.mode = WhatsAppMode::Live;
    config.whatsapp.phone_number_id = PHONE_NUMBER_ID.into();
    config.whatsapp.api_base_url = fake.base.clone();
    config.pipeline.quiet_period_ms = 3_600_000;
    tweak(&mut config);
    TestServer::start_with(config, live_secrets()).await
}

/// Each customer writes once; returns their conversations in the same order.
async fn customers(server: &TestServer, wa_ids: &[String]) -> Vec<ConversationId> {
    for (i, wa_id) in wa_ids.iter().enumerate() {
        let body = customer_webhook(wa_id, &format!("wamid.in.{wa_id}.{i}"), "Hola");
        let response = server
            .client
            .post(format!("{}/webhooks/whatsapp", server.base))
            .header("X-Hub-Signature-256", signature(&body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    server.engine.process_inbox().await.unwrap();
    let mut conversations = Vec::new();
    for wa_id in wa_ids {
        let wa_id = wa_id.clone();
        let id = server
            .engine
            .store()
            .read_blocking(move |c| {
                Ok(c.query_row(
                    "SELECT cv.id FROM conversations cv JOIN contacts ct ON ct.id = cv.contact_id WHERE ct.wa_id = ?1",
                    [wa_id],
                    |r| r.get(0).map(ConversationId),
                )?)
            })
            .unwrap();
        conversations.push(id);
    }
    conversations
}

/// An approved reply, handed to the executor as an operator's approval would.
async fn queue_reply(server: &TestServer, conversation: ConversationId, text: &str) -> ActionId {
    let (text, key) = (text.to_string(), format!("test-{}-{text}", conversation.0));
    let id = server
        .engine
        .store()
        .write(move |c| {
            c.execute(
                "INSERT INTO actions (conversation_id, kind, params, state, idempotency_key, created_at)
                 VALUES (?1, 'reply', ?2, 'approved', ?3, 0)",
                switchboard_store::rusqlite::params![conversation.0, json!({"text": text}).to_string(), key],
            )?;
            Ok(ActionId(c.last_insert_rowid()))
        })
        .await
        .unwrap();
    server.engine.execute_action(id).await.unwrap();
    id
}

async fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn count(server: &TestServer, sql: &'static str) -> i64 {
    server
        .engine
        .store()
        .read_blocking(move |c| Ok(c.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_paced_by_the_numbers_limit() {
    let fake = FakeGraph::start().await;
    let (rate, burst) = (10usize, 2usize);
    let server = live_server(&fake, |c| {
        c.whatsapp.throughput_per_second = rate as u32;
        c.whatsapp.throughput_burst = Some(burst as u32);
    })
    .await;
    let wa_ids: Vec<String> = (0..30).map(|i| format!("52155500{i:05}")).collect();
    let conversations = customers(&server, &wa_ids).await;
    server.engine.spawn_workers();
    for (i, conversation) in conversations.iter().enumerate() {
        queue_reply(&server, *conversation, &format!("reply {i}")).await;
    }
    wait_until(
        "every reply to reach Graph",
        Duration::from_secs(30),
        || fake.sends().len() >= wa_ids.len(),
    )
    .await;

    let sends = fake.sends();
    assert_eq!(sends.len(), wa_ids.len(), "each reply is sent once");
    for wa_id in &wa_ids {
        assert_eq!(
            fake.sends_to(wa_id).len(),
            1,
            "{wa_id} gets exactly one message"
        );
    }
    // The limiter admits at most `burst + rate × t` sends in any span t. Arrival jitter on
    // loopback is allowed two more; an unpaced burst would put all 30 in well under a second.
    let times: Vec<Instant> = sends.iter().map(|s| s.at).collect();
    let busiest = times
        .iter()
        .map(|start| {
            times
                .iter()
                .filter(|t| **t >= *start && **t < *start + Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap();
    assert!(
        busiest <= rate + burst + 2,
        "at most {} sends in any second, saw {busiest}",
        rate + burst
    );
    let span = *times.iter().max().unwrap() - *times.iter().min().unwrap();
    let paced = Duration::from_secs_f64((wa_ids.len() - burst) as f64 / rate as f64 * 0.8);
    assert!(
        span >= paced,
        "30 sends at 10/s take about 2.8 s, took {span:?}"
    );
    wait_until("every entry to be settled", Duration::from_secs(10), || {
        count(&server, "SELECT count(*) FROM outbox WHERE state = 'sent'") == 30
    })
    .await;
    assert_eq!(
        count(
            &server,
            "SELECT count(*) FROM actions WHERE state = 'executed'"
        ),
        30
    );

    // Only a send whose outcome was lost can be settled by an operator.
    let sent: Value = server
        .get("/api/outbox?state=sent&limit=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = sent["items"][0]["id"].as_i64().unwrap();
    let resolve = |id: i64, body: Value| {
        let request = server
            .post(&format!("/api/outbox/{id}/resolve"))
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let conflict = resolve(id, json!({"outcome": "not_sent"})).await;
    assert_eq!(conflict.status(), 409);
    let error: Value = conflict.json().await.unwrap();
    assert_eq!(error["error"]["code"], "conflict");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not unknown"));
    assert_eq!(resolve(id, json!({"outcome": "maybe"})).await.status(), 422);
    assert_eq!(
        resolve(999_999, json!({"outcome": "sent"})).await.status(),
        404
    );
    let bad_state = server.get("/api/outbox?state=lost").send().await.unwrap();
    assert_eq!(bad_state.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_rate_error_holds_back_that_customer_only() {
    let fake = FakeGraph::start().await;
    let server = live_server(&fake, |_| {}).await;
    let (a, b, c) = ("447700900001", "447700900002", "447700900003");
    fake.script(
        a,
        [Answer::Error {
            status: 400,
            fixture: "error_131056_pair_rate_limit.json",
        }],
    );
    let wa_ids = [a, b, c].map(String::from);
    let conversations = customers(&server, &wa_ids).await;
    server.engine.spawn_workers();
    queue_reply(&server, conversations[0], "A1").await;
    queue_reply(&server, conversations[1], "B1").await;
    queue_reply(&server, conversations[1], "B2").await;
    queue_reply(&server, conversations[2], "C1").await;
    wait_until("five requests at Graph", Duration::from_secs(40), || {
        fake.sends().len() >= 5
    })
    .await;

    let (to_a, to_b, to_c) = (fake.sends_to(a), fake.sends_to(b), fake.sends_to(c));
    let text = |s: &crate::fake_graph::Send| s.body["text"]["body"].as_str().unwrap().to_string();
    assert_eq!(to_a.len(), 2, "A1 was refused once (131056), then sent");
    assert!(to_a.iter().all(|s| text(s) == "A1"));
    assert!(
        to_a[1].at - to_a[0].at >= Duration::from_secs(6),
        "after a 131056 the customer waits at least the 6 s pair interval, waited {:?}",
        to_a[1].at - to_a[0].at
    );
    assert_eq!(to_c.len(), 1);
    assert!(
        to_c[0].at < to_a[1].at && to_c[0].at - to_a[0].at < Duration::from_secs(3),
        "another customer is not held back by A's pair limit"
    );
    assert_eq!(
        to_b.iter().map(text).collect::<Vec<_>>(),
        ["B1", "B2"],
        "one customer's messages go in order"
    );
    assert!(to_b[0].at - to_a[0].at < Duration::from_secs(3));
    assert!(
        to_b[1].at - to_b[0].at >= Duration::from_millis(5_500),
        "two messages to one customer are spaced by the pair limit, were {:?} apart",
        to_b[1].at - to_b[0].at
    );
    wait_until("every entry to be settled", Duration::from_secs(10), || {
        count(&server, "SELECT count(*) FROM outbox WHERE state = 'sent'") == 4
    })
    .await;
    assert_eq!(
        count(&server, "SELECT max(attempts) FROM outbox"),
        2,
        "only A1 needed a second attempt"
    );
}

// ---------------------------------------------------------------------------------------
// kill -9 with a send in flight

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const API_TOKEN: &str = "kill-test-token";

struct Serve {
    child: Child,
    address: String,
    client: reqwest::blocking::Client,
}

impl Serve {
    fn start(data: &std::path::Path, env: &[(String, String)]) -> Serve {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--data-dir",
                data.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("SWITCHBOARD_API_TOKEN", API_TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        // Drained for the process's life: a closed pipe would kill it on its next log line.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[serve] {line}");
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .trim()
            .strip_prefix("switchboard: listening on ")
            .unwrap_or_else(|| panic!("serve must announce its address, printed {line:?}"))
            .to_string();
        Serve {
            child,
            address,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    fn kill_9(mut self) {
        // SIGKILL: no shutdown handler runs, nothing is flushed.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn get(&self, path: &str) -> Value {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .bearer_auth(API_TOKEN)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().unwrap()
    }

    fn post(&self, path: &str, body: Value) -> reqwest::blocking::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .bearer_auth(API_TOKEN)
            .json(&body)
            .send()
            .unwrap()
    }

    fn webhook(&self, body: String) {
        let response = self
            .client
            .post(format!("{}/webhooks/whatsapp", self.address))
            .header("X-Hub-Signature-256", signature(&body))
            .body(body)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    /// Approves every pending action once `count` are pending.
    fn approve_pending(&self, count: usize) {
        let pending = wait_for(&format!("{count} pending actions"), || {
            let page = self.get("/api/actions?state=pending");
            let items = page["items"].as_array().unwrap().clone();
            (items.len() == count).then_some(items)
        });
        for action in pending {
            let id = action["id"].as_i64().unwrap();
            assert_eq!(
                self.post(&format!("/api/actions/{id}/approve"), json!({}))
                    .status(),
                200
            );
        }
    }

    /// The outbox entry to `to`.
    fn entry_to(&self, to: &str) -> Value {
        self.get("/api/outbox?limit=500")["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["recipient"] == to)
            .unwrap_or_else(|| panic!("no outbox entry to {to}"))
            .clone()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_send_in_flight_at_kill_9_is_unknown_never_resent_and_reconciled() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let graph = runtime.block_on(FakeGraph::start());
    graph.answer_all(Answer::Hold);
    let llm = FakeLlm::default();
    for text in ["Hola X", "Hola Y", "Hola Z"] {
        llm.push(Reply::Stream(
            json!({"actions": [{"type": "reply", "text": text}], "reasoning": "greeting", "confidence": 0.9})
                .to_string(),
        ));
    }
    let llm_base = runtime.block_on(llm.clone().start());
    let env: Vec<(String, String)> = [
        ("SWITCHBOARD_WHATSAPP_APP_SECRET", APP_SECRET.to_string()),
        ("SWITCHBOARD_WHATSAPP_ACCESS_TOKEN", GRAPH_TOKEN.to_string()),
        ("SWITCHBOARD_WHATSAPP_VERIFY_TOKEN", "test-verify-token".to_string()),
        ("SWITCHBOARD_WHATSAPP__PHONE_NUMBER_ID", PHONE_NUMBER_ID.to_string()),
        ("SWITCHBOARD_WHATSAPP__API_BASE_URL", graph.base.clone()),
        ("SWITCHBOARD_PIPELINE__QUIET_PERIOD_MS", "0".to_string()),
        (
            "SWITCHBOARD_LLM__PROVIDERS",
            format!(
                r#"[{{name="fake", kind="openai_compatible", base_url="{llm_base}", model="fake-model", api_key_env="SWITCHBOARD_TEST_UNSET_KEY"}}]"#
            ),
        ),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .to_vec();
    let dir = tempfile::tempdir().unwrap();
    let (x, y, z) = ("447700900011", "447700900012", "447700900013");

    // 1. Two approved replies are in flight (the fake holds both requests) when the process
    //    is killed.
    let serve = Serve::start(dir.path(), &env);
    serve.webhook(customer_webhook(x, "wamid.in.x", "Hola, soy X"));
    serve.webhook(customer_webhook(y, "wamid.in.y", "Hola, soy Y"));
    serve.approve_pending(2);
    wait_for("both sends in flight at Graph", || {
        (graph.sends().len() == 2).then_some(())
    });
    serve.kill_9();

    // 2. After a restart both are `unknown`, and neither is sent again: a later send to
    //    another customer goes through first, and Graph still has one request for each.
    graph.answer_all(Answer::Accept);
    let serve = Serve::start(dir.path(), &env);
    wait_for("the interrupted sends to become unknown", || {
        let unknown = serve.get("/api/outbox?state=unknown");
        (unknown["items"].as_array().unwrap().len() == 2).then_some(())
    });
    serve.webhook(customer_webhook(z, "wamid.in.z", "Hola, soy Z"));
    serve.approve_pending(1);
    wait_for("the new send to reach Graph", || {
        (graph.sends_to(z).len() == 1).then_some(())
    });
    assert_eq!(graph.sends_to(x).len(), 1, "X's message is not resent");
    assert_eq!(graph.sends_to(y).len(), 1, "Y's message is not resent");
    for to in [x, y] {
        let entry = serve.entry_to(to);
        assert_eq!(entry["state"], "unknown");
        let messages = serve.get(&format!(
            "/api/conversations/{}/messages",
            entry["conversation_id"]
        ));
        let outbound = messages["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == entry["message_id"])
            .unwrap()
            .clone();
        assert_eq!(outbound["status"], "unknown", "the operator sees the doubt");
    }

    // 3. A status webhook for X's message (matched by the key we sent as
    //    biz_opaque_callback_data, the wamid never having reached us) settles it as sent.
    let key = graph.sends_to(x)[0].body["biz_opaque_callback_data"]
        .as_str()
        .expect("the send carries its idempotency key")
        .to_string();
    serve.webhook(status_webhook("wamid.late.x", x, "delivered", &key));
    let settled = wait_for("X to be reconciled", || {
        let entry = serve.entry_to(x);
        (entry["state"] == "sent").then_some(entry)
    });
    let action = serve.get(&format!("/api/actions/{}", settled["action_id"]));
    assert_eq!(action["state"], "executed", "the action gets its outcome");

    // 4. An operator says Y's message never reached WhatsApp: it is sent again, once. That
    //    send is interrupted by a kill too; a second "not sent" is then refused, so a lost
    //    outcome never becomes a stream of duplicates.
    graph.script(y, [Answer::Hold]);
    let y_entry = serve.entry_to(y);
    let requeued = serve.post(
        &format!("/api/outbox/{}/resolve", y_entry["id"]),
        json!({"outcome": "not_sent"}),
    );
    assert_eq!(requeued.status(), 200);
    assert_eq!(requeued.json::<Value>().unwrap()["state"], "queued");
    wait_for("Y's second send at Graph", || {
        (graph.sends_to(y).len() == 2).then_some(())
    });
    serve.kill_9();

    let serve = Serve::start(dir.path(), &env);
    let again = wait_for("Y to be unknown again", || {
        let entry = serve.entry_to(y);
        (entry["state"] == "unknown").then_some(entry)
    });
    assert!(again["requeued_at"].is_string());
    let refused = serve.post(
        &format!("/api/outbox/{}/resolve", again["id"]),
        json!({"outcome": "not_sent"}),
    );
    assert_eq!(refused.status(), 409);
    assert!(refused.text().unwrap().contains("already sent again once"));
    let confirmed = serve.post(
        &format!("/api/outbox/{}/resolve", again["id"]),
        json!({"outcome": "sent"}),
    );
    assert_eq!(confirmed.status(), 200);
    assert_eq!(confirmed.json::<Value>().unwrap()["state"], "sent");
    let action = serve.get(&format!("/api/actions/{}", again["action_id"]));
    assert_eq!(action["state"], "executed");
    assert_eq!(serve.get("/api/audit/verify")["intact"], true);
    serve.kill_9();

    assert_eq!(graph.sends_to(x).len(), 1, "X: one request in all");
    assert_eq!(
        graph.sends_to(y).len(),
        2,
        "Y: the original and the one resend an operator asked for"
    );
    assert_eq!(graph.sends_to(z).len(), 1);
    let db = rusqlite::Connection::open(dir.path().join("switchboard.db")).unwrap();
    let kinds = |kind: &str| -> i64 {
        db.query_row(
            "SELECT count(*) FROM audit_events WHERE kind = ?1",
            [kind],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(
        kinds("outbox.unknown"),
        3,
        "two at the first restart, Y again at the second"
    );
    assert_eq!(kinds("outbox.reconciled"), 1);
    assert_eq!(
        kinds("outbox.resolved"),
        2,
        "both operator decisions are audited"
    );
    let who: String = db
        .query_row(
            "SELECT actor FROM audit_events WHERE kind = 'outbox.resolved' ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        who.starts_with("operator:"),
        "attributed to the operator: {who}"
    );
}
