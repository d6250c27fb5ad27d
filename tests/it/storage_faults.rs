//! The database's disk fills up or turns read-only under the running binary: webhooks are
//! refused with a clear error (so Meta redelivers them), operators see what is wrong, nothing
//! is acknowledged that was not stored, and the engine recovers once space is back.
//!
//! The data directory lives on a small tmpfs mounted for the test (this needs the mount
//! capability, which CI's root user has); without it the test says so loudly and stops.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const APP_SECRET: &str = "storage-app-secret";
const TOKEN: &str = "storage-token";

/// A tmpfs mounted for the life of the value.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some(Tmpfs(dir.to_path_buf()))
        } else {
            eprintln!(
                "\n!!! SKIPPED: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN); the disk-full and read-only tests did not run !!!\n"
            );
            None
        }
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount {mode}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

struct Engine {
    child: Child,
    address: String,
}

impl Engine {
    fn start(data: &Path, log: &Path) -> Engine {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .env("SWITCHBOARD_API_TOKEN", TOKEN)
            .env("SWITCHBOARD_WHATSAPP_APP_SECRET", APP_SECRET)
            .env("SWITCHBOARD_WHATSAPP_ACCESS_TOKEN", "storage-graph-token")
            .env("SWITCHBOARD_WHATSAPP_VERIFY_TOKEN", "storage-verify")
            .env("SWITCHBOARD_WHATSAPP__PHONE_NUMBER_ID", "487120593306718")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        let address = line
            .trim()
            .strip_prefix("switchboard: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Engine { child, address }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn webhook(i: usize, tag: &str) -> (String, String) {
    let wamid = format!("wamid.storage-{tag}-{i}");
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "318204957716342", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "12025550143", "phone_number_id": "487120593306718"},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": format!("52155500{:04}", i % 50)}],
            "messages": [{"from": format!("52155500{:04}", i % 50), "id": wamid, "timestamp": "1761903600",
                          "type": "text", "text": {"body": format!("mensaje {i} {}", "x".repeat(600))}}]
        }}]}]
    })
    .to_string();
    (wamid, body)
}

fn post(client: &reqwest::blocking::Client, address: &str, body: &str) -> (u16, serde_json::Value) {
    let signature = switchboard_whatsapp::webhook::sign(APP_SECRET.as_bytes(), body.as_bytes());
    match client
        .post(format!("{address}/webhooks/whatsapp"))
        .header("X-Hub-Signature-256", signature)
        .body(body.to_string())
        .send()
    {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().unwrap_or_default())
        }
        Err(_) => (0, serde_json::Value::Null),
    }
}

fn health(client: &reqwest::blocking::Client, address: &str) -> serde_json::Value {
    client
        .get(format!("{address}/api/health"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// Fills the file system until it refuses another byte.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    let small = [0u8; 512];
    while file.write_all(&small).is_ok() {}
    let _ = file.sync_all();
}

fn stored(db: &Path, prefix: &str) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare("SELECT wamid FROM messages WHERE wamid LIKE ?1")
        .unwrap();
    stmt.query_map([format!("{prefix}%")], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[test]
fn a_full_disk_refuses_webhooks_clearly_and_acknowledges_nothing_unstored() {
    let dir = tempfile::tempdir().unwrap();
    let Some(_tmpfs) = Tmpfs::mount(&dir.path().join("data"), "16m") else {
        return;
    };
    let data = dir.path().join("data");
    let log = dir.path().join("engine.log");
    let client = client();
    let engine = Engine::start(&data, &log);
    let (_, body) = webhook(0, "full");
    assert_eq!(post(&client, &engine.address, &body).0, 200);

    fill(&data.join("filler"));
    let mut acknowledged = vec!["wamid.storage-full-0".to_string()];
    let mut refused = Vec::new();
    for i in 1..400 {
        let (wamid, body) = webhook(i, "full");
        let (status, answer) = post(&client, &engine.address, &body);
        if status == 200 {
            acknowledged.push(wamid);
        } else {
            refused.push((wamid, body, status, answer));
            if refused.len() >= 5 {
                break;
            }
        }
    }
    assert!(
        !refused.is_empty(),
        "a full disk must refuse webhooks (engine log {})",
        log.display()
    );
    for (_, _, status, answer) in &refused {
        assert_eq!(*status, 503, "a full disk is a temporary outage: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("disk") || message.contains("full") || message.contains("storage"),
            "the refusal says what is wrong: {message}"
        );
    }
    let h = health(&client, &engine.address);
    assert_eq!(h["status"], "degraded", "operators see it: {h}");
    assert_ne!(h["database"], "ok", "operators see it: {h}");

    // Space comes back: Meta's redeliveries are accepted and the engine is healthy again.
    std::fs::remove_file(data.join("filler")).unwrap();
    for (wamid, body, _, _) in &refused {
        let (status, answer) = post(&client, &engine.address, body);
        assert_eq!(status, 200, "accepted once there is space again: {answer}");
        acknowledged.push(wamid.clone());
    }
    assert_eq!(health(&client, &engine.address)["database"], "ok");

    // Every acknowledged webhook survives a kill -9 and is processed exactly once.
    drop(engine);
    let engine = Engine::start(&data, &log);
    let db = data.join("switchboard.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let rows = loop {
        let rows = stored(&db, "wamid.storage-full-");
        if rows.len() >= acknowledged.len() || std::time::Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    for wamid in &acknowledged {
        assert_eq!(
            rows.iter().filter(|r| *r == wamid).count(),
            1,
            "{wamid} was acknowledged, so it is stored exactly once"
        );
    }
    drop(engine);
}

/// A read-only file system cannot be noticed under open file handles (the kernel checks
/// at open), so the read-only case is the one operators meet in practice: the app starts
/// on a database it cannot write. It must refuse to start, say why, and accept nothing.
#[test]
fn a_read_only_database_is_refused_at_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let Some(tmpfs) = Tmpfs::mount(&dir.path().join("data"), "32m") else {
        return;
    };
    let data = dir.path().join("data");
    let log = dir.path().join("engine.log");
    let client = client();
    let engine = Engine::start(&data, &log);
    let (_, first) = webhook(0, "ro");
    assert_eq!(post(&client, &engine.address, &first).0, 200);
    drop(engine);

    tmpfs.remount("ro");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("SWITCHBOARD_API_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the app must not run on a read-only database");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!status.success());
    assert!(
        !stdout.contains("listening"),
        "nothing may be accepted: {stdout}"
    );
    assert!(
        stderr.contains("cannot be written") && stderr.contains(&*data.to_string_lossy()),
        "the error names the directory and the problem: {stderr}"
    );

    // Fixed by the operator: the app starts and the acknowledged message is there.
    tmpfs.remount("rw");
    let engine = Engine::start(&data, &log);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while stored(&data.join("switchboard.db"), "wamid.storage-ro-").len() != 1 {
        assert!(std::time::Instant::now() < deadline, "the message survived");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(health(&client, &engine.address)["database"], "ok");
    drop(engine);
}
