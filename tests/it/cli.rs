//! The real binary, as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `switchboard serve` on port 0 and returns it with the address it printed.
fn serve(args: &[&str], token: Option<&str>) -> (Running, String, Vec<String>) {
    serve_with_env(args, token, &[])
}

fn serve_with_env(
    args: &[&str],
    token: Option<&str>,
    env: &[(&str, &str)],
) -> (Running, String, Vec<String>) {
    let mut command = Command::new(BIN);
    command.envs(env.iter().copied());
    command
        .arg("serve")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("SWITCHBOARD_API_TOKEN")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env("SWITCHBOARD_API_TOKEN", token);
    }
    let mut child = command.spawn().expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    // Drain stderr for the process's whole life (a closed pipe would kill it on its next
    // log line) and pass the lines on.
    let (err_tx, err_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("a line on stdout");
    let address = line
        .trim()
        .strip_prefix("switchboard: listening on ")
        .unwrap_or_else(|| panic!("serve must announce its address, printed {line:?}"))
        .to_string();
    let mut stderr_lines = Vec::new();
    if token.is_none() {
        // Up to the line announcing the generated token (warnings may come first).
        while let Ok(line) = err_rx.recv_timeout(std::time::Duration::from_secs(10)) {
            let done = line.contains("this run's API token");
            stderr_lines.push(line);
            if done {
                break;
            }
        }
    }
    (Running(child), address, stderr_lines)
}

#[test]
fn help_explains_the_window_and_serve() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("serve"), "--help must mention serve: {text}");
    assert!(
        text.contains("desktop window"),
        "--help must explain the default (window): {text}"
    );
    let serve_help = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&serve_help.stdout);
    for flag in ["--config", "--data-dir", "--listen"] {
        assert!(
            text.contains(flag),
            "serve --help must document {flag}: {text}"
        );
    }
}

#[test]
fn serve_with_a_config_answers_health_with_the_token_and_401_without() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[business]\nname = \"Tienda Lupita\"\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    let (_running, address, _) = serve(
        &["--config", config.to_str().unwrap()],
        Some("cli-test-token"),
    );
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let ok = client
        .get(format!("{address}/api/health"))
        .bearer_auth("cli-test-token")
        .send()
        .unwrap();
    assert_eq!(
        ok.status(),
        200,
        "the token from SWITCHBOARD_API_TOKEN must be accepted"
    );
    let health: serde_json::Value = ok.json().unwrap();
    assert_eq!(health["mode"], "sandbox", "no credentials: sandbox");
    let denied = client.get(format!("{address}/api/health")).send().unwrap();
    assert_eq!(denied.status(), 401, "no token, no access");
    assert!(
        dir.path().join("data/switchboard.db").exists(),
        "data goes where the config says"
    );
}

#[test]
fn serve_without_a_token_prints_a_generated_one_that_works() {
    let dir = tempfile::tempdir().unwrap();
    let (_running, address, stderr) = serve(&["--data-dir", dir.path().to_str().unwrap()], None);
    let token = stderr
        .iter()
        .find_map(|l| l.split("this run's API token is ").nth(1))
        .unwrap_or_else(|| panic!("serve must print the generated token once, stderr: {stderr:?}"))
        .trim()
        .to_string();
    assert_eq!(
        token.len(),
        64,
        "a generated token is 32 random bytes in hex"
    );
    let client = reqwest::blocking::Client::new();
    let ok = client
        .get(format!("{address}/api/health"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[test]
fn a_bad_config_file_is_reported_with_file_key_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("broken.toml");
    std::fs::write(&config, "[pipeline]\nquiet_period_ms = \"soon\"\n").unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a bad config must stop the start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.toml"),
        "the error names the file: {err}"
    );
    assert!(
        err.contains("pipeline.quiet_period_ms"),
        "the error names the key: {err}"
    );
    assert!(
        err.contains("expected"),
        "the error says what was expected: {err}"
    );
}

#[test]
fn audit_verify_reports_an_intact_trail() {
    let dir = tempfile::tempdir().unwrap();
    drop(switchboard_store::Store::open(&dir.path().join("switchboard.db")).unwrap());
    let out = Command::new(BIN)
        .args([
            "audit",
            "verify",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact"));
}

/// The live-mode environment of the fixture corpus.
const LIVE_ENV: &[(&str, &str)] = &[
    ("SWITCHBOARD_WHATSAPP_APP_SECRET", "test-app-secret"),
    ("SWITCHBOARD_WHATSAPP_ACCESS_TOKEN", "test-access-token"),
    ("SWITCHBOARD_WHATSAPP_VERIFY_TOKEN", "test-verify-token"),
    ("SWITCHBOARD_WHATSAPP__PHONE_NUMBER_ID", "487120593306718"),
];

#[test]
fn every_webhook_answered_200_survives_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let template =
        std::fs::read_to_string(crate::support::fixtures_dir().join("inbound/text.json")).unwrap();
    let original_id = "wamid.HBgMNDQ3NzAwOTAwNDYxFQIAEhgUMUU5RTRFQ0IzMDMzOEU1Njk1NDQA";
    assert!(template.contains(original_id));
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut acknowledged = Vec::new();
    let mut sent = 0;
    for round in 0..3 {
        let (mut running, address, _) =
            serve_with_env(&["--data-dir", &data], Some("tok"), LIVE_ENV);
        // Kill at a different point each round, in the middle of a stream of webhooks.
        let kill_after = 5 + round * 7;
        for i in 0..40 {
            let wamid = format!("wamid.kill-test-{round}-{i}");
            let body = template.replace(original_id, &wamid);
            let signature =
                switchboard_whatsapp::webhook::sign(b"test-app-secret", body.as_bytes());
            sent += 1;
            let response = client
                .post(format!("{address}/webhooks/whatsapp"))
                .header("X-Hub-Signature-256", signature)
                .body(body)
                .send();
            if matches!(&response, Ok(r) if r.status() == 200) {
                acknowledged.push(wamid);
            }
            if i == kill_after {
                // SIGKILL: no shutdown handler, no flush.
                running.0.kill().unwrap();
                running.0.wait().unwrap();
                break;
            }
        }
    }
    assert!(
        acknowledged.len() >= 20 && sent > acknowledged.len() - 1,
        "the test must really interrupt a stream"
    );
    // A last start processes whatever was stored but not yet processed.
    let (_running, address, _) = serve_with_env(&["--data-dir", &data], Some("tok"), LIVE_ENV);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let stored: Vec<String> = loop {
        let conn = rusqlite::Connection::open(dir.path().join("switchboard.db")).unwrap();
        let pending: i64 = conn
            .query_row(
                "SELECT count(*) FROM webhook_inbox WHERE state = 'pending'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let mut stmt = conn
            .prepare("SELECT wamid FROM messages WHERE wamid LIKE 'wamid.kill-test-%'")
            .unwrap();
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        if pending == 0 || std::time::Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for wamid in &acknowledged {
        assert_eq!(
            stored.iter().filter(|s| *s == wamid).count(),
            1,
            "{wamid} got a 200, so it must be stored exactly once"
        );
    }
    let health = client
        .get(format!("{address}/api/health"))
        .bearer_auth("tok")
        .send()
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[test]
fn the_webhook_url_names_the_port_serve_really_listens_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = format!("{:?}", dir.path().join("data"));
    let config = dir.path().join("switchboard.toml");
    std::fs::write(&config, format!("data_dir = {data}\n")).unwrap();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let whatsapp = |address: &str| -> serde_json::Value {
        client
            .get(format!("{address}/api/whatsapp"))
            .bearer_auth("cli-test-token")
            .send()
            .unwrap()
            .json()
            .unwrap()
    };

    let (running, address, _) = serve(
        &["--config", config.to_str().unwrap()],
        Some("cli-test-token"),
    );
    assert!(!address.ends_with(":0"), "{address}");
    let view = whatsapp(&address);
    assert_eq!(view["webhook_url"], format!("{address}/webhooks/whatsapp"));
    assert_eq!(view["webhook_url_is_public"], false);
    drop(running);

    // A configured public URL (behind a tunnel or proxy) is what Meta must be given.
    std::fs::write(
        &config,
        format!("data_dir = {data}\n[server]\npublic_url = \"https://switchboard.example.org/\"\n"),
    )
    .unwrap();
    let (_running, address, _) = serve(
        &["--config", config.to_str().unwrap()],
        Some("cli-test-token"),
    );
    let view = whatsapp(&address);
    assert_eq!(
        view["webhook_url"],
        "https://switchboard.example.org/webhooks/whatsapp"
    );
    assert_eq!(view["webhook_url_is_public"], true);
}
