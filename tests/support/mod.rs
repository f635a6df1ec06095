//! A minimal LSP client that drives the real `infill` binary over stdio, as an editor would.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// Generous safety net so a broken server fails the test instead of hanging CI; no assertion
/// depends on it.
const PATIENCE: Duration = Duration::from_secs(300);

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn tiny_model() -> PathBuf {
    repo_path("assets/tiny-starcoder2.gguf")
}

/// The real small model: `$INFILL_TEST_MODEL`, else where `assets/fetch-model.sh` puts it.
pub fn real_model() -> PathBuf {
    if let Some(path) = std::env::var_os("INFILL_TEST_MODEL") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
    let path = cache.join("infill/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
    assert!(
        path.is_file(),
        "{} is missing: run assets/fetch-model.sh (or set INFILL_TEST_MODEL)",
        path.display()
    );
    path
}

/// A fresh temporary folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let unique = format!(
            "infill-test-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn uri(&self, relative: &str) -> String {
        file_uri(&self.0.join(relative))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display()).replace(' ', "%20")
}

pub struct LspClient {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
    /// Notifications received so far, in order.
    pub notifications: Vec<Value>,
    stderr: Arc<Mutex<String>>,
    _state: TempDir,
}

impl LspClient {
    /// Starts `infill` with `args`, a private log folder and an empty cache folder (so no model
    /// is found by accident).
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let state = TempDir::new("state");
        let mut command = Command::new(env!("CARGO_BIN_EXE_infill"));
        command
            .args(args)
            .env("XDG_STATE_HOME", state.path())
            .env("XDG_CACHE_HOME", state.path())
            .env_remove("INFILL_MODEL")
            .env("INFILL_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start infill");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr_pipe = child.stderr.take().unwrap();
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if tx.send(message).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr_pipe);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Self {
            child,
            stdin,
            incoming,
            next_id: 1,
            notifications: Vec::new(),
            stderr,
            _state: state,
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())
            .expect("write to infill");
        self.stdin.flush().unwrap();
    }

    pub fn send_raw(&mut self, body: &str) {
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())
            .expect("write to infill");
        self.stdin.flush().unwrap();
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns the whole response message (`result` or `error`).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.wait_response(id)
    }

    pub fn send_request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    pub fn wait_response(&mut self, id: i64) -> Value {
        loop {
            let message = self.next_message();
            if message.get("method").is_none() && message["id"] == json!(id) {
                return message;
            }
        }
    }

    /// Waits for a notification matching `method` and `accept`, among those not yet consumed.
    pub fn wait_notification(&mut self, method: &str, accept: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) =
            self.notifications.iter().position(|n| n["method"] == method && accept(&n["params"]))
        {
            return self.notifications.remove(i);
        }
        loop {
            let message = self.next_message();
            if message["method"] == method && accept(&message["params"]) {
                self.notifications.retain(|n| n != &message);
                return message;
            }
        }
    }

    /// Every `window/showMessage` text received so far.
    pub fn shown_messages(&self) -> Vec<String> {
        self.notifications
            .iter()
            .filter(|n| n["method"] == "window/showMessage")
            .map(|n| n["params"]["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Next message; answers server-to-client requests (progress tokens) on the way and files
    /// notifications.
    fn next_message(&mut self) -> Value {
        let message = self
            .incoming
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("no message from infill; its stderr:\n{}", self.stderr()));
        if message.get("method").is_some() {
            if message.get("id").is_some() {
                let id = message["id"].clone();
                self.send(json!({"jsonrpc": "2.0", "id": id, "result": null}));
            } else {
                self.notifications.push(message.clone());
            }
        }
        message
    }

    /// Standard initialize → initialized handshake; returns the initialize result.
    pub fn initialize(&mut self, root: &Path, options: Value, encodings: &[&str]) -> Value {
        let response = self.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": file_uri(root),
                "workspaceFolders": [{"uri": file_uri(root), "name": "root"}],
                "capabilities": {
                    "general": {"positionEncodings": encodings},
                    "window": {"workDoneProgress": true},
                    "textDocument": {"inlineCompletion": {}}
                },
                "initializationOptions": options
            }),
        );
        assert!(response.get("error").is_none(), "initialize failed: {response}");
        self.notify("initialized", json!({}));
        response["result"].clone()
    }

    /// Waits for the model-loading progress to end; returns its final message.
    pub fn wait_model_loaded(&mut self) -> String {
        let end = self.wait_notification("$/progress", |p| p["value"]["kind"] == "end");
        end["params"]["value"]["message"].as_str().unwrap_or_default().to_string()
    }

    pub fn open(&mut self, uri: &str, language: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}),
        );
    }

    pub fn inline_completion(&mut self, uri: &str, line: u32, character: u32) -> Value {
        self.request(
            "textDocument/inlineCompletion",
            json!({
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": character},
                "context": {"triggerKind": 2}
            }),
        )
    }

    pub fn completion(&mut self, uri: &str, line: u32, character: u32) -> Value {
        self.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}),
        )
    }

    /// shutdown → exit; returns the process's exit status.
    pub fn shutdown(mut self) -> ExitStatus {
        let response = self.request("shutdown", Value::Null);
        assert!(response.get("error").is_none(), "shutdown failed: {response}");
        self.notify("exit", Value::Null);
        self.child.wait().expect("infill exits")
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for LspClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("Content-Length:") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}
