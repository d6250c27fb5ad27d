//! The desktop shell through Tauri's IPC, on the mock runtime with the real configuration
//! and capabilities, so a command is checked against the ACL as in the window.

use crate::support::TOKEN;
use serde_json::{json, Value};
use std::sync::Arc;
use switchboard::desktop::{configure, Shell};
use switchboard_core::secrets::MemorySecrets;
use switchboard_core::{Config, Secret, SystemClock};
use switchboard_engine::{Engine, EngineOptions};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{WebviewWindow, WebviewWindowBuilder};

fn window(dir: &std::path::Path) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let (app, window, _engine) = window_and_engine(dir);
    (app, window)
}

fn window_and_engine(
    dir: &std::path::Path,
) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>, Engine) {
    let engine = Engine::start(EngineOptions {
        config: Config::default(),
        data_dir: dir.to_path_buf(),
        secrets: Arc::new(MemorySecrets::default()),
        clock: Arc::new(SystemClock),
    })
    .unwrap();
    let app = configure(
        mock_builder(),
        Shell::new(engine.clone(), Secret::new(TOKEN), None),
    )
    .build(tauri::generate_context!(test = true))
    .expect("the shell builds on the mock runtime");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, window, engine)
}

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, body: Value) -> Result<Value, Value> {
    invoke_from(window, "tauri://localhost", cmd, body)
}

/// On Linux the app's own origin is `tauri://localhost`; anything else is remote.
fn invoke_from(
    window: &WebviewWindow<MockRuntime>,
    origin: &str,
    cmd: &str,
    body: Value,
) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: origin.parse().unwrap(),
            body: InvokeBody::Json(body),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|r| r.deserialize::<Value>().unwrap())
}

#[test]
fn api_request_goes_through_the_same_router_as_http() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, window) = window(dir.path());
    let health = invoke(
        &window,
        "api_request",
        json!({"request": {"method": "GET", "path": "/api/health"}}),
    )
    .expect("the window may call api_request");
    assert_eq!(health["status"], 200);
    assert_eq!(health["body"]["mode"], "sandbox");

    let missing = invoke(
        &window,
        "api_request",
        json!({"request": {"method": "GET", "path": "/api/conversations/77"}}),
    )
    .unwrap();
    assert_eq!(
        missing["status"], 404,
        "API errors come back as status and body, like HTTP"
    );
    assert_eq!(missing["body"]["error"]["code"], "not_found");

    let outside = invoke(
        &window,
        "api_request",
        json!({"request": {"method": "GET", "path": "/etc/passwd"}}),
    );
    assert!(outside.is_err(), "only /api/ paths may be requested");
}

#[test]
fn a_remote_page_cannot_call_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (_app, window) = window(dir.path());
    let request = json!({"request": {"method": "GET", "path": "/api/health"}});
    assert!(
        invoke(&window, "api_request", request.clone()).is_ok(),
        "the app's own page may call it"
    );
    let remote = invoke_from(&window, "https://evil.example", "api_request", request);
    assert!(
        remote.is_err(),
        "the capability covers the app's own pages only, got {remote:?}"
    );
}

#[test]
fn every_registered_command_has_a_permission_in_the_capability() {
    let capability: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/capabilities/main-window.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let permissions: Vec<&str> = capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for command in ["api_request", "subscribe_events"] {
        let permission = format!("allow-{}", command.replace('_', "-"));
        assert!(
            permissions.contains(&permission.as_str()),
            "capability must grant {permission}"
        );
    }
    let build = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src-tauri/build.rs"))
        .unwrap();
    assert!(
        build.contains(r#"&["api_request", "subscribe_events"]"#),
        "build.rs app manifest lists exactly these commands"
    );
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

#[test]
fn media_crosses_ipc_byte_for_byte() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let dir = tempfile::tempdir().unwrap();
    let (_app, window, engine) = window_and_engine(dir.path());
    // The sandbox's Graph API is the engine's own HTTP route, as when the shell serves on
    // loopback; the media download goes through it.
    let served = engine.clone();
    let base = tauri::async_runtime::block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = switchboard_api::router(
            served,
            switchboard_api::ApiAuth::new(Secret::new(TOKEN)),
            None,
        );
        tauri::async_runtime::spawn(switchboard_api::serve(
            listener,
            router,
            std::future::pending(),
        ));
        base
    });
    engine.set_graph_base_url(format!("{base}/sandbox/graph"));

    // A document holding every byte value: lossy text would mangle half of them.
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend(0..=255u8);
    for (from, mime, bytes) in [
        ("5215500000001", "image/png", PNG.to_vec()),
        ("5215500000002", "application/pdf", pdf),
    ] {
        let sent = invoke(
            &window,
            "api_request",
            json!({"request": {"method": "POST", "path": "/api/sandbox/messages", "body": {
                "from": from, "name": "Lucía", "text": "adjunto",
                "media": {"mime_type": mime, "data_base64": b64.encode(&bytes)}
            }}}),
        )
        .unwrap();
        assert_eq!(sent["status"], 202, "{sent}");
        tauri::async_runtime::block_on(engine.process_inbox()).unwrap();
        let id: i64 = engine
            .store()
            .read_blocking(move |c| {
                Ok(c.query_row(
                    "SELECT m.id FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
                     JOIN contacts ct ON ct.id = cv.contact_id WHERE ct.wa_id = ?1",
                    [from],
                    |r| r.get(0),
                )?)
            })
            .unwrap();

        let media = invoke(
            &window,
            "api_request",
            json!({"request": {"method": "GET", "path": format!("/api/messages/{id}/media")}}),
        )
        .unwrap();
        assert_eq!(media["status"], 200, "{media}");
        assert_eq!(media["content_type"], mime);
        assert_eq!(media["body"], Value::Null);
        let received = b64.decode(media["base64"].as_str().unwrap()).unwrap();
        assert_eq!(received, bytes, "{mime} arrives byte for byte");
    }
}
