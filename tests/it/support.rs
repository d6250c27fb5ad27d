//! Shared test scaffolding: an engine on a temporary data directory and a server on port 0.

use std::sync::Arc;
use switchboard_api::ApiAuth;
use switchboard_core::secrets::{MemorySecrets, SecretName, SecretStore};
use switchboard_core::{Config, Secret, SystemClock};
use switchboard_engine::{Engine, EngineOptions};

pub const TOKEN: &str = "test-token-0123456789";

pub struct TestServer {
    pub engine: Engine,
    pub base: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(Config::default(), MemorySecrets::default()).await
    }

    /// A server in live mode with the fixture corpus's app secret and verify token.
    pub async fn start_live() -> TestServer {
        let mut config = Config::default();
        config.whatsapp.phone_number_id = "487120593306718".into();
        let secrets = MemorySecrets::default();
        for (name, value) in [
            (SecretName::WhatsAppAppSecret, "test-app-secret"),
            (SecretName::WhatsAppVerifyToken, "test-verify-token"),
            (SecretName::WhatsAppAccessToken, "test-access-token"),
        ] {
            secrets.set(&name, &Secret::new(value)).unwrap();
        }
        Self::start_with(config, secrets).await
    }

    pub async fn start_with(config: Config, secrets: MemorySecrets) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Self::start_with_listener(listener, config, secrets).await
    }

    /// Serves on the given listener (e.g. one with small socket buffers).
    pub async fn start_with_listener(
        listener: tokio::net::TcpListener,
        config: Config,
        secrets: MemorySecrets,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::start(EngineOptions {
            config,
            data_dir: dir.path().to_path_buf(),
            secrets: Arc::new(secrets),
            clock: Arc::new(SystemClock),
        })
        .expect("engine starts on an empty data directory");
        let app = switchboard_api::router(engine.clone(), ApiAuth::new(Secret::new(TOKEN)), None);
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(switchboard_api::serve(listener, app, async move {
            let _ = rx.await;
        }));
        TestServer {
            engine,
            base,
            client: reqwest::Client::new(),
            _dir: dir,
            _shutdown: tx,
        }
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }
}

/// The shared WhatsApp fixture corpus (`shared/fixtures/whatsapp` beside the repository).
pub fn fixtures_dir() -> std::path::PathBuf {
    std::env::var_os("SWITCHBOARD_FIXTURES")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/whatsapp")
        })
}

pub fn manifest() -> serde_json::Value {
    let path = fixtures_dir().join("MANIFEST.json");
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// An OpenAI-compatible provider entry pointing at a fake server.
pub fn model_entry(name: &str, base: &str) -> switchboard_core::config::ProviderEntry {
    switchboard_core::config::ProviderEntry {
        name: name.into(),
        kind: switchboard_core::config::ProviderKind::OpenaiCompatible,
        base_url: base.into(),
        model: format!("{name}-model"),
        api_key_env: Some("SWITCHBOARD_TEST_UNSET_KEY".into()),
        json_schema: false,
        tools: false,
        json_mode: false,
        context_length: Some(8192),
        price_in_per_mtok: Some(1.0),
        price_out_per_mtok: Some(2.0),
    }
}

/// A sandbox server (no quiet period) whose model chain is the given fake servers, after
/// `tweak` adjusted the configuration.
pub async fn server_with_models(
    chain: &[(&str, &crate::fake_llm::FakeLlm)],
    tweak: impl FnOnce(&mut Config),
    secrets: MemorySecrets,
) -> TestServer {
    let mut config = Config::default();
    config.pipeline.quiet_period_ms = 0;
    config.llm.first_token_timeout_ms = 5_000;
    config.llm.idle_timeout_ms = 5_000;
    for (name, fake) in chain {
        let base = (*fake).clone().start().await;
        config.llm.providers.push(model_entry(name, &base));
    }
    tweak(&mut config);
    TestServer::start_with(config, secrets).await
}

/// A simulated customer writes (sandbox) and the inbox is processed; returns the conversation.
pub async fn customer_says(
    server: &TestServer,
    from: &str,
    text: &str,
) -> switchboard_core::ids::ConversationId {
    server
        .engine
        .sandbox_customer_writes(switchboard_engine::sandbox::SimulatedMessage {
            from: from.into(),
            name: Some("Lucía".into()),
            text: text.into(),
        })
        .await
        .expect("the sandbox takes the message");
    server
        .engine
        .process_inbox()
        .await
        .expect("inbox processed");
    let wa_id: String = from.chars().filter(char::is_ascii_digit).collect();
    server
        .engine
        .store()
        .read_blocking(move |c| {
            Ok(c.query_row(
                "SELECT cv.id FROM conversations cv JOIN contacts ct ON ct.id = cv.contact_id WHERE ct.wa_id = ?1",
                [wa_id],
                |r| r.get(0).map(switchboard_core::ids::ConversationId),
            )?)
        })
        .expect("the customer has a conversation")
}

/// A client of `/api/events`: Server-Sent Events parsed from the raw HTTP body.
pub struct SseClient {
    response: reqwest::Response,
    buffer: String,
}

impl SseClient {
    pub async fn connect(server: &TestServer) -> SseClient {
        let response = server
            .get("/api/events")
            .send()
            .await
            .expect("the event stream answers");
        assert_eq!(response.status(), 200);
        SseClient {
            response,
            buffer: String::new(),
        }
    }

    /// The next event as (name, JSON data); keep-alive comments are skipped.
    pub async fn next(&mut self) -> Option<(String, serde_json::Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Some((
                    name,
                    serde_json::from_str(&data).expect("event data is JSON"),
                ));
            }
            let bytes = self.response.chunk().await.ok()??;
            self.buffer
                .push_str(std::str::from_utf8(&bytes).expect("SSE is UTF-8"));
        }
    }

    /// Waits (at most `within`) for an event named `name`, returning it and what came before.
    pub async fn until(
        &mut self,
        name: &str,
        within: std::time::Duration,
    ) -> (serde_json::Value, Vec<(String, serde_json::Value)>) {
        let mut before = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let next = tokio::time::timeout_at(deadline, self.next())
                .await
                .unwrap_or_else(|_| panic!("no {name} event within {within:?}; got {before:?}"))
                .unwrap_or_else(|| panic!("the stream ended before {name}; got {before:?}"));
            if next.0 == name {
                return (next.1, before);
            }
            before.push(next);
        }
    }
}

impl TestServer {
    /// A server on `dir` (an earlier server's, to test a restart) with the given clock.
    pub async fn start_on(
        dir: tempfile::TempDir,
        config: Config,
        secrets: MemorySecrets,
        clock: Arc<dyn switchboard_core::Clock>,
    ) -> TestServer {
        let engine = Engine::start(EngineOptions {
            config,
            data_dir: dir.path().to_path_buf(),
            secrets: Arc::new(secrets),
            clock,
        })
        .expect("engine starts");
        let app = switchboard_api::router(engine.clone(), ApiAuth::new(Secret::new(TOKEN)), None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(switchboard_api::serve(listener, app, async move {
            let _ = rx.await;
        }));
        TestServer {
            engine,
            base,
            client: reqwest::Client::new(),
            _dir: dir,
            _shutdown: tx,
        }
    }

    /// Stops the server and gives back its data directory, for a restart on it.
    pub fn stop(self) -> tempfile::TempDir {
        let TestServer { _dir, .. } = self;
        _dir
    }

    /// A request with another bearer token (an operator's).
    pub fn request_as(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
    }
}

/// The single integer a SQL query over the test server's database returns (a count).
pub fn count(server: &TestServer, sql: &'static str) -> i64 {
    server
        .engine
        .store()
        .read_blocking(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}
