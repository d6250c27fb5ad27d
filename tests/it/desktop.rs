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
    let engine = Engine::start(EngineOptions {
        config: Config::default(),
        data_dir: dir.to_path_buf(),
        secrets: Arc::new(MemorySecrets::default()),
        clock: Arc::new(SystemClock),
    })
    .unwrap();
    let app = configure(mock_builder(), Shell::new(engine, Secret::new(TOKEN), None))
        .build(tauri::generate_context!(test = true))
        .expect("the shell builds on the mock runtime");
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    (app, window)
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
