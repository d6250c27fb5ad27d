//! The console as `switchboard serve` hands it to a browser: every UI response carries the
//! strict policy and the headers that keep it from being sniffed, framed or leaking referrers.

use crate::support::TOKEN;
use std::sync::Arc;
use switchboard_api::ApiAuth;
use switchboard_core::secrets::MemorySecrets;
use switchboard_core::{Config, Secret, SystemClock};
use switchboard_engine::{Engine, EngineOptions};

#[tokio::test]
async fn every_ui_response_carries_the_strict_policy() {
    let data = tempfile::tempdir().unwrap();
    let ui = tempfile::tempdir().unwrap();
    std::fs::write(
        ui.path().join("index.html"),
        "<!doctype html><title>Switchboard</title>",
    )
    .unwrap();
    std::fs::create_dir(ui.path().join("assets")).unwrap();
    std::fs::write(ui.path().join("assets/app.js"), "console.log(1)").unwrap();
    let engine = Engine::start(EngineOptions {
        config: Config::default(),
        data_dir: data.path().to_path_buf(),
        secrets: Arc::new(MemorySecrets::default()),
        clock: Arc::new(SystemClock),
    })
    .unwrap();
    let app = switchboard_api::router(
        engine,
        ApiAuth::new(Secret::new(TOKEN)),
        Some(ui.path().to_path_buf()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(switchboard_api::serve(
        listener,
        app,
        std::future::pending(),
    ));

    let client = reqwest::Client::new();
    // The page, an asset, a client-side route (answered with index.html) and a missing asset.
    for (path, status) in [
        ("/", 200),
        ("/index.html", 200),
        ("/assets/app.js", 200),
        ("/conversations/12", 200),
        ("/assets/missing.js", 200),
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .unwrap_or_else(|| panic!("{path} has no {name}"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        let csp = header("content-security-policy");
        assert_eq!(csp, switchboard_api::ui::CONTENT_SECURITY_POLICY, "{path}");
        let directives: Vec<&str> = csp.split("; ").collect();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'none'",
        ] {
            assert!(
                directives.contains(&directive),
                "{path}: {directive} in {csp}"
            );
        }
        assert!(
            !csp.contains("unsafe-eval") && !csp.contains("ipc:"),
            "{csp}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
    }

    // The policy is the window's (tauri.conf.json), with the engine on this origin.
    let conf: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tauri.conf.json")).unwrap(),
    )
    .unwrap();
    let window = conf["app"]["security"]["csp"].as_object().unwrap();
    let served: std::collections::BTreeMap<&str, &str> =
        switchboard_api::ui::CONTENT_SECURITY_POLICY
            .split("; ")
            .map(|d| d.split_once(' ').unwrap())
            .collect();
    for (directive, value) in window {
        let expected = if directive == "connect-src" {
            "'self'"
        } else {
            value.as_str().unwrap()
        };
        assert_eq!(
            served.get(directive.as_str()),
            Some(&expected),
            "{directive}"
        );
    }
    assert_eq!(
        served.len(),
        window.len(),
        "no directive beyond the window's"
    );

    // The API keeps answering JSON behind its token, unaffected by the UI's fallback.
    let health = client
        .get(format!("{base}/api/health"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
