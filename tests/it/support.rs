//! Shared test scaffolding: an engine on a temporary data directory and a server on port 0.

use std::sync::Arc;
use switchboard_api::ApiAuth;
use switchboard_core::secrets::MemorySecrets;
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
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::start(EngineOptions {
            config: Config::default(),
            data_dir: dir.path().to_path_buf(),
            secrets: Arc::new(MemorySecrets::default()),
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
