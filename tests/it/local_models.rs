//! A local provider's model chosen in Settings: the models folder listed, the file checked
//! before anything is stored (clear 422s), the choice kept in the database across a
//! restart, loaded once and tested with a real generation, and the old model let go when
//! another is chosen. The real-model test uses the default model that `scripts/fetch-model`
//! installs and is skipped, loudly, without it.

use crate::support::{TestServer, TOKEN};
use serde_json::{json, Value};
#[cfg(feature = "local-model")]
use std::path::Path;
use std::path::PathBuf;

const DEFAULT_MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

async fn send(server: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", server.base);
    let request = match method {
        "GET" => server.client.get(url),
        "POST" => server.client.post(url),
        "PUT" => server.client.put(url),
        other => panic!("{other}"),
    }
    .bearer_auth(TOKEN);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn audit_kinds(server: &TestServer) -> Vec<String> {
    let (_, page) = send(server, "GET", "/api/audit?limit=500", None).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect()
}

fn models_dir(server: &TestServer) -> PathBuf {
    let dir = server.engine.data_dir().join("models");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn set_local(model: &str) -> Option<Value> {
    Some(json!({ "kind": "local", "model": model }))
}

#[tokio::test]
async fn a_model_file_is_checked_before_anything_is_stored() {
    let server = TestServer::start().await;
    let dir = models_dir(&server);
    std::fs::write(
        dir.join("notes.gguf"),
        "These are notes, not a model: the magic bytes are missing.",
    )
    .unwrap();
    std::fs::write(dir.join("cut.gguf"), b"GGUF\x03\x00").unwrap();
    std::fs::write(dir.join("readme.txt"), "not listed").unwrap();

    let (status, folder) = send(&server, "GET", "/api/models", None).await;
    assert_eq!(status, 200, "{folder}");
    assert_eq!(folder["dir"], dir.display().to_string());
    let names: Vec<_> = folder["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap(), f["valid"].as_bool().unwrap()))
        .collect();
    assert_eq!(names, [("cut.gguf", false), ("notes.gguf", false)]);

    let refused = |status: u16, body: &Value, needle: &str| {
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "invalid_request", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    };
    let (status, body) = send(
        &server,
        "PUT",
        "/api/providers/local",
        set_local("notes.gguf"),
    )
    .await;
    refused(status, &body, "is not a GGUF model file");
    let (status, body) = send(
        &server,
        "PUT",
        "/api/providers/local",
        set_local("cut.gguf"),
    )
    .await;
    refused(status, &body, "too small to be a model");
    let missing = dir.join("nowhere").join("gone.gguf");
    let (status, body) = send(
        &server,
        "PUT",
        "/api/providers/local",
        set_local(&missing.display().to_string()),
    )
    .await;
    refused(
        status,
        &body,
        &format!("{} does not exist", missing.display()),
    );
    let (status, body) = send(
        &server,
        "PUT",
        "/api/providers/local",
        set_local("../x.gguf"),
    )
    .await;
    refused(status, &body, "type an absolute path");
    let (status, body) = send(&server, "PUT", "/api/providers/local", set_local(" ")).await;
    refused(status, &body, "no model file is given");
    let (status, body) = send(
        &server,
        "PUT",
        "/api/providers/local",
        Some(json!({ "kind": "openai_compatible", "model": "gpt" })),
    )
    .await;
    refused(status, &body, "only local providers");
    let (status, body) = send(
        &server,
        "PUT",
        "/api/providers/my%20model",
        set_local("notes.gguf"),
    )
    .await;
    refused(status, &body, "letters, digits");

    // Nothing was stored or audited.
    let (_, list) = send(&server, "GET", "/api/providers", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["model"], DEFAULT_MODEL);
    assert_eq!(list["items"][0]["model_from_settings"], false);
    assert!(!audit_kinds(&server)
        .await
        .contains(&"provider.changed".to_string()));
}

/// The default model's file as `scripts/fetch-model` installs it, or `None` after a loud
/// notice.
#[cfg(feature = "local-model")]
fn installed_model(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("SWITCHBOARD_MODELS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share/switchboard/models"))
        })?;
    let path = dir.join(DEFAULT_MODEL);
    if path.is_file() {
        return Some(path);
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED {test}: local model {} is not installed; run scripts/fetch-model ***\n",
        path.display()
    );
    None
}

/// A second name for the model file without copying 98 MB when the file system allows.
#[cfg(feature = "local-model")]
fn place(model: &Path, target: &Path) {
    if std::fs::hard_link(model, target).is_err() {
        std::fs::copy(model, target).unwrap();
    }
}

#[cfg(feature = "local-model")]
#[tokio::test]
async fn a_chosen_model_is_loaded_tested_kept_and_the_old_one_let_go() {
    use std::time::{Duration, Instant};
    use switchboard_engine::providers::loaded_local_models;

    let Some(model) =
        installed_model("a_chosen_model_is_loaded_tested_kept_and_the_old_one_let_go")
    else {
        return;
    };
    let server = TestServer::start().await;
    let dir = models_dir(&server);
    place(&model, &dir.join(DEFAULT_MODEL));
    place(&model, &dir.join("other.gguf"));
    let default_file = std::fs::canonicalize(dir.join(DEFAULT_MODEL)).unwrap();
    let other_file = std::fs::canonicalize(dir.join("other.gguf")).unwrap();

    let (status, folder) = send(&server, "GET", "/api/models", None).await;
    assert_eq!(status, 200, "{folder}");
    assert_eq!(
        folder["items"],
        json!([
            { "name": DEFAULT_MODEL, "path": dir.join(DEFAULT_MODEL).display().to_string(),
              "size_bytes": 98_362_432, "default": true, "valid": true },
            { "name": "other.gguf", "path": dir.join("other.gguf").display().to_string(),
              "size_bytes": 98_362_432, "default": false, "valid": true },
        ])
    );

    // The built-in provider takes the other file, by its name in the folder.
    let (status, provider) = send(
        &server,
        "PUT",
        "/api/providers/local",
        set_local("other.gguf"),
    )
    .await;
    assert_eq!(status, 200, "{provider}");
    assert_eq!(provider["name"], "local");
    assert_eq!(
        provider["model"],
        dir.join("other.gguf").display().to_string()
    );
    assert_eq!(provider["model_from_settings"], true);
    assert!(loaded_local_models().contains(&other_file));

    // The test button loads it and generates a few tokens.
    let (status, test) = send(&server, "POST", "/api/providers/local/test", None).await;
    assert_eq!(status, 200, "{test}");
    assert_eq!(test["ok"], true, "{test}");
    assert!(test["tokens_out"].as_u64().unwrap() > 0, "{test}");

    // An added provider, by absolute path, becomes a fallback after the built-in one.
    let (status, added) = send(
        &server,
        "PUT",
        "/api/providers/spare",
        set_local(&dir.join(DEFAULT_MODEL).display().to_string()),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    let (_, list) = send(&server, "GET", "/api/providers", None).await;
    let chain: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["configured"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(chain, [("local", false), ("spare", false)], "{list}");
    assert_eq!(server.engine.providers().len(), 2);

    // Switching the built-in provider back lets the other model go: nothing uses it now.
    let (status, _) = send(
        &server,
        "PUT",
        "/api/providers/local",
        set_local(DEFAULT_MODEL),
    )
    .await;
    assert_eq!(status, 200);
    let started = Instant::now();
    while loaded_local_models().contains(&other_file) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the replaced model is still loaded: {:?}",
            loaded_local_models()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(loaded_local_models().contains(&default_file));
    let changes = audit_kinds(&server)
        .await
        .into_iter()
        .filter(|k| k == "provider.changed")
        .count();
    assert_eq!(changes, 3);

    // Kept in the database: a restart builds the same chain.
    let data = server.stop();
    let server = TestServer::start_on(
        data,
        switchboard_core::Config::default(),
        switchboard_core::secrets::MemorySecrets::default(),
        std::sync::Arc::new(switchboard_core::SystemClock),
    )
    .await;
    let (_, list) = send(&server, "GET", "/api/providers", None).await;
    assert_eq!(
        list["items"][0]["model"],
        dir.join(DEFAULT_MODEL).display().to_string(),
        "{list}"
    );
    assert_eq!(list["items"][1]["name"], "spare");
    assert_eq!(server.engine.providers().len(), 2);
}
