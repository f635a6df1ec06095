//! Models by name, downloaded from a local stand-in for the Hugging Face hub (`HF_ENDPOINT`)
//! into a private Hugging Face cache (`HF_HOME`): `infill models pull | list | rm` and
//! `infill complete --model hf:…`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use support::fake_hub::{COMMIT, FakeHub, Mode, sha256_hex};
use support::{TempDir, tiny_model};

const REPO: &str = "test-owner/Tiny-GGUF";
const FILE: &str = "tiny-starcoder2-Q4_K_M.gguf";

fn infill(dir: &TempDir, endpoint: &str, hf_home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infill"))
        .args(args)
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("HF_HOME", hf_home)
        .env("HF_ENDPOINT", endpoint)
        .env_remove("HF_TOKEN")
        .env_remove("INFILL_MODEL")
        .env_remove("INFILL_LOG")
        .output()
        .expect("run infill")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn model_bytes() -> Vec<u8> {
    std::fs::read(tiny_model()).unwrap()
}

/// Where the standard cache layout puts the file.
fn snapshot_path(hf_home: &Path) -> PathBuf {
    hf_home.join(format!("hub/models--test-owner--Tiny-GGUF/snapshots/{COMMIT}/{FILE}"))
}

/// Every file under `dir` that could be taken for a model: a snapshot's `.gguf` or a finished
/// blob (a download in progress is a `.part`, its lock a `.lock`; `refs/main` is text).
fn finished_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(finished_files(&path));
        } else if path.extension().is_none_or(|e| e == "gguf") && !path.ends_with("refs/main") {
            found.push(path);
        }
    }
    found
}

#[test]
fn pull_downloads_into_the_hugging_face_cache_and_checks_the_file() {
    let dir = TempDir::new("pull");
    let hub = FakeHub::start(REPO, FILE, model_bytes(), Mode::Normal);
    let hf_home = dir.path().join("hf");
    let spec = format!("hf:{REPO}/{FILE}");
    let output = infill(&dir, &hub.endpoint, &hf_home, &["models", "pull", &spec]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stored = snapshot_path(&hf_home);
    assert_eq!(std::fs::read(&stored).unwrap(), model_bytes());
    let blob = std::fs::canonicalize(&stored).unwrap();
    assert_eq!(blob.file_name().unwrap().to_str().unwrap(), sha256_hex(&model_bytes()));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&hub.endpoint) && stderr.contains("is ready"), "{stderr}");

    // A second pull needs no hub: the file is there.
    let output = infill(&dir, "http://127.0.0.1:9", &hf_home, &["models", "pull", &spec]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("is downloaded"));

    // By repository and quantisation, from the hub's file list; the cache answers offline.
    let by_quant = format!("hf:{REPO}:Q4_K_M");
    let output = infill(&dir, "http://127.0.0.1:9", &hf_home, &["models", "pull", &by_quant]);
    assert!(output.status.success(), "{}", text(&output.stderr));

    let output = infill(&dir, &hub.endpoint, &hf_home, &["models", "rm", &spec]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!stored.exists() && !blob.exists());
    let output = infill(&dir, &hub.endpoint, &hf_home, &["models", "rm", &spec]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("is not downloaded"));
}

#[test]
fn a_repository_and_quantisation_find_the_file_in_the_hubs_list() {
    let dir = TempDir::new("quant");
    let hub = FakeHub::start(REPO, FILE, model_bytes(), Mode::Normal);
    let hf_home = dir.path().join("hf");
    let output = infill(&dir, &hub.endpoint, &hf_home, &["models", "pull", &format!("hf:{REPO}")]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(snapshot_path(&hf_home).is_file());
    let output =
        infill(&dir, &hub.endpoint, &hf_home, &["models", "pull", &format!("hf:{REPO}:Q8_0")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no single GGUF file with Q8_0") && stderr.contains(FILE), "{stderr}");
}

#[test]
fn an_interrupted_download_resumes_where_it_stopped() {
    let dir = TempDir::new("resume");
    let hub = FakeHub::start(REPO, FILE, model_bytes(), Mode::DropHalfOnce);
    let hf_home = dir.path().join("hf");
    let spec = format!("hf:{REPO}/{FILE}");
    let output = infill(&dir, &hub.endpoint, &hf_home, &["models", "pull", &spec]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("again to resume"), "{}", text(&output.stderr));
    assert!(!snapshot_path(&hf_home).exists());
    assert!(finished_files(&hf_home).is_empty(), "{:?}", finished_files(&hf_home));

    let output = infill(&dir, &hub.endpoint, &hf_home, &["models", "pull", &spec]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(std::fs::read(snapshot_path(&hf_home)).unwrap(), model_bytes());
    let half = model_bytes().len() / 2;
    assert_eq!(hub.ranges(), vec!["bytes=0-".to_string(), format!("bytes={half}-")]);
}

#[test]
fn a_wrong_checksum_leaves_no_model_behind() {
    let dir = TempDir::new("checksum");
    let hub = FakeHub::start(REPO, FILE, model_bytes(), Mode::WrongChecksum);
    let hf_home = dir.path().join("hf");
    let output =
        infill(&dir, &hub.endpoint, &hf_home, &["models", "pull", &format!("hf:{REPO}/{FILE}")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("does not match the hub's checksum"), "{stderr}");
    assert!(!snapshot_path(&hf_home).exists());
    assert!(finished_files(&hf_home).is_empty(), "{:?}", finished_files(&hf_home));
}

/// A blob in the cache is trusted only once infill has checked it: a copy changed since its
/// check (or never checked, as when a process stops between hf-hub's move into `blobs/` and the
/// check) is checked before use, and a wrong one is downloaded again.
#[test]
fn a_cached_file_is_checked_before_its_first_use() {
    let dir = TempDir::new("recheck");
    let hub = FakeHub::start(REPO, FILE, model_bytes(), Mode::Normal);
    let hf_home = dir.path().join("hf");
    let spec = format!("hf:{REPO}/{FILE}");
    let output = infill(&dir, &hub.endpoint, &hf_home, &["models", "pull", &spec]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let blob = std::fs::canonicalize(snapshot_path(&hf_home)).unwrap();
    let record = dir.path().join("cache/infill/checked").join(sha256_hex(&model_bytes()));
    assert!(record.is_file(), "the passed check is recorded");

    // Not checked by this infill (its record gone): checked now, offline, and used.
    std::fs::remove_file(&record).unwrap();
    let output = infill(&dir, "http://127.0.0.1:9", &hf_home, &["models", "pull", &spec]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("is downloaded"), "{}", text(&output.stderr));
    assert!(record.is_file());

    // Changed since its check: offline, the wrong copy is deleted, not used.
    let mut wrong = model_bytes();
    let middle = wrong.len() / 2;
    wrong[middle] ^= 0xff;
    std::fs::write(&blob, &wrong).unwrap();
    let output = infill(&dir, "http://127.0.0.1:9", &hf_home, &["models", "pull", &spec]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("cannot reach the hub"), "{}", text(&output.stderr));
    assert!(finished_files(&hf_home).is_empty(), "{:?}", finished_files(&hf_home));

    // A wrong copy with the hub there: downloaded again before the completion runs.
    std::fs::write(&blob, &wrong).unwrap();
    std::os::unix::fs::symlink(&blob, snapshot_path(&hf_home)).unwrap();
    let root = dir.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    let file = root.join("main.py");
    std::fs::write(&file, "def add(a, b):\n    return a + b\n").unwrap();
    let location = format!("{}:2:5", file.display());
    let output = infill(&dir, &hub.endpoint, &hf_home, &["--model", &spec, "complete", &location]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(std::fs::read(snapshot_path(&hf_home)).unwrap(), model_bytes());
    assert_eq!(hub.ranges(), vec!["bytes=0-".to_string(), "bytes=0-".to_string()]);
}

#[test]
fn refusals_unreachable_hubs_and_unwritable_caches_are_explained() {
    let dir = TempDir::new("errors");
    let spec = format!("hf:{REPO}/{FILE}");
    let hub = FakeHub::start(REPO, FILE, model_bytes(), Mode::Unauthorized);
    let hf_home = dir.path().join("hf");
    let output = infill(&dir, &hub.endpoint, &hf_home, &["models", "pull", &spec]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("HF_TOKEN"), "{}", text(&output.stderr));

    // A port that was just free: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let output = infill(&dir, &closed, &hf_home, &["models", "pull", &spec]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("cannot reach the hub") && stderr.contains("--model"), "{stderr}");

    // A cache under a regular file cannot be made, even by root.
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, "").unwrap();
    let good = FakeHub::start(REPO, FILE, model_bytes(), Mode::Normal);
    let output = infill(&dir, &good.endpoint, &blocker.join("hf"), &["models", "pull", &spec]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("cannot write") && stderr.contains("model cache"), "{stderr}");
}

#[test]
fn list_shows_the_catalogue_and_where_models_go() {
    let dir = TempDir::new("list");
    let hf_home = dir.path().join("hf");
    let output = infill(&dir, "http://127.0.0.1:9", &hf_home, &["models", "list"]);
    assert!(output.status.success());
    let stdout = text(&output.stdout);
    assert!(stdout.contains("starcoder2-3b") && stdout.contains("(default)"), "{stdout}");
    assert!(stdout.contains("qwen2.5-coder-1.5b") && stdout.contains(hf_home.to_str().unwrap()));
}

#[test]
fn complete_downloads_a_hub_model_first() {
    let dir = TempDir::new("complete");
    let hub = FakeHub::start(REPO, FILE, model_bytes(), Mode::Normal);
    let hf_home = dir.path().join("hf");
    let root = dir.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    let file = root.join("main.py");
    std::fs::write(&file, "def add(a, b):\n    return a + b\n").unwrap();
    let location = format!("{}:2:5", file.display());
    let spec = format!("hf:{REPO}/{FILE}");
    let output = infill(&dir, &hub.endpoint, &hf_home, &["--model", &spec, "complete", &location]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("is ready"), "{}", text(&output.stderr));
    assert!(snapshot_path(&hf_home).is_file());
}

fn lsp_with_hub(dir: &TempDir, endpoint: &str) -> (support::LspClient, PathBuf) {
    let hf_home = dir.path().join("hf");
    let client = support::LspClient::start_with_env(
        &[],
        &[("HF_HOME", hf_home.to_str().unwrap()), ("HF_ENDPOINT", endpoint), ("HF_TOKEN", "")],
    );
    (client, hf_home)
}

#[test]
fn the_server_downloads_a_hub_model_in_the_background_then_completes() {
    let dir = TempDir::new("lsp");
    let hub = FakeHub::start(REPO, FILE, model_bytes(), Mode::Normal);
    let (mut client, hf_home) = lsp_with_hub(&dir, &hub.endpoint);
    let root = dir.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    let options = json!({"model": format!("hf:{REPO}/{FILE}"), "threads": 1, "minConfidence": 0,
        "maxTokens": 4, "prefetch": false, "warmUp": false});
    client.initialize(&root, options, &["utf-16"]);
    let downloading = client.wait_notification("$/progress", |p| {
        p["value"]["kind"] == "report" && p["value"]["percentage"] == 100
    });
    let message = downloading["params"]["value"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("downloading") && message.contains("100%"), "{message}");
    let status = client.wait_notification("infill/status", |p| {
        p["message"].as_str().is_some_and(|m| m.contains("downloading") && m.contains('%'))
    });
    assert_eq!(status["params"]["state"], "loading");
    let loaded = client.wait_model_loaded();
    assert!(loaded.contains("ready"), "{loaded}");
    assert!(snapshot_path(&hf_home).is_file());

    let uri = support::file_uri(&root.join("main.py"));
    client.open(&uri, "python", "def add(a, b):\n    return ");
    let response = client.inline_completion(&uri, 1, 11);
    assert!(response["result"]["items"].is_array(), "{response}");
    assert!(client.shutdown().success());
}

#[test]
fn a_failed_download_is_one_message_and_the_server_stays_up() {
    let dir = TempDir::new("lsp-401");
    let hub = FakeHub::start(REPO, FILE, model_bytes(), Mode::Unauthorized);
    let (mut client, _) = lsp_with_hub(&dir, &hub.endpoint);
    let root = dir.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    client.initialize(&root, json!({"model": format!("hf:{REPO}/{FILE}")}), &["utf-16"]);
    let ended = client.wait_model_loaded();
    assert!(ended.contains("HF_TOKEN"), "{ended}");
    let shown = client.wait_notification("window/showMessage", |_| true);
    let message = shown["params"]["message"].as_str().unwrap();
    assert!(message.contains("HF_TOKEN") && message.contains("refused"), "{message}");
    let uri = support::file_uri(&root.join("main.py"));
    client.open(&uri, "python", "x = ");
    let response = client.inline_completion(&uri, 0, 4);
    assert!(response.get("error").is_none(), "{response}");
    // Told once: not again on the request.
    let again = client.shown_messages();
    assert!(again.iter().all(|m| !m.contains("HF_TOKEN")), "{again:?}");
    assert!(client.is_alive());
    assert!(client.shutdown().success());
}

#[test]
fn with_no_model_configured_the_default_is_fetched_and_used() {
    let dir = TempDir::new("default");
    let hub = FakeHub::start(
        "second-state/StarCoder2-3B-GGUF",
        "starcoder2-3b-Q4_K_M.gguf",
        model_bytes(),
        Mode::Normal,
    );
    let (mut client, hf_home) = lsp_with_hub(&dir, &hub.endpoint);
    let root = dir.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    client.initialize(&root, json!({"threads": 1}), &["utf-16"]);
    let status = client.wait_notification("infill/status", |p| {
        p["message"].as_str().is_some_and(|m| m.starts_with("downloading starcoder2-3b into"))
    });
    let message = status["params"]["message"].as_str().unwrap();
    assert!(message.contains(hf_home.to_str().unwrap()), "{message}");
    let loaded = client.wait_model_loaded();
    assert!(loaded.contains("ready"), "{loaded}");
    assert!(client.shutdown().success());
    let stored = hf_home.join(format!(
        "hub/models--second-state--StarCoder2-3B-GGUF/snapshots/{COMMIT}/starcoder2-3b-Q4_K_M.gguf"
    ));
    assert!(stored.is_file());
}
