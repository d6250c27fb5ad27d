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
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::start(EngineOptions {
            config,
            data_dir: dir.path().to_path_buf(),
            secrets: Arc::new(secrets),
            clock: Arc::new(SystemClock),
        })
        .expect("engine starts on an empty data directory");
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
