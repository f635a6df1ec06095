//! A small blocking LSP client that drives an `infill` server over stdio exactly as an editor
//! would. Used by `infill eval`, `infill bench` and the integration tests.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

/// How long to wait for any one message before declaring the server stuck.
const DEFAULT_PATIENCE: Duration = Duration::from_secs(300);

pub struct LspClient {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    next_id: i64,
    /// Notifications received and not yet consumed, in order.
    pub notifications: Vec<Value>,
    stderr: Arc<Mutex<String>>,
    pub patience: Duration,
}

/// `file://` URI of a local path.
pub fn file_uri(path: &Path) -> String {
    url::Url::from_file_path(path)
        .map(String::from)
        .unwrap_or_else(|_| format!("file://{}", path.display()))
}

impl LspClient {
    /// Starts `command` (an `infill` binary with its arguments and environment) with piped stdio.
    pub fn spawn(mut command: Command) -> anyhow::Result<Self> {
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().context("cannot start the infill server")?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let stderr_pipe = child.stderr.take().context("no stderr")?;
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
                if let Ok(mut sink) = sink.lock() {
                    sink.push_str(&line);
                }
                line.clear();
            }
        });
        Ok(Self {
            child,
            stdin,
            incoming,
            next_id: 1,
            notifications: Vec::new(),
            stderr,
            patience: DEFAULT_PATIENCE,
        })
    }

    /// What the server wrote to stderr so far (its log).
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Reads the server's stderr later, e.g. after `shutdown` consumed the client.
    pub fn stderr_handle(&self) -> impl Fn() -> String + use<> {
        let stderr = self.stderr.clone();
        move || stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Writes one framed message body as is (also for deliberately malformed input).
    pub fn send_raw(&mut self, body: &str) -> anyhow::Result<()> {
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len())?;
        self.stdin.flush()?;
        Ok(())
    }

    fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        self.send_raw(&message.to_string())
    }

    pub fn notify(&mut self, method: &str, params: Value) -> anyhow::Result<()> {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
    }

    /// Sends a request without waiting; returns its id.
    pub fn send_request(&mut self, method: &str, params: Value) -> anyhow::Result<i64> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        Ok(id)
    }

    /// Sends a request and returns the whole response message (`result` or `error`).
    pub fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.send_request(method, params)?;
        self.wait_response(id)
    }

    pub fn cancel(&mut self, id: i64) -> anyhow::Result<()> {
        self.notify("$/cancelRequest", json!({"id": id}))
    }

    pub fn wait_response(&mut self, id: i64) -> anyhow::Result<Value> {
        loop {
            let message = self.next_message(self.patience)?;
            if message.get("method").is_none() && message["id"] == json!(id) {
                return Ok(message);
            }
        }
    }

    /// Waits for a notification matching `method` and `accept`; earlier unconsumed ones count.
    pub fn wait_notification(
        &mut self,
        method: &str,
        accept: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let matches = |n: &Value| n["method"] == method && accept(&n["params"]);
        if let Some(i) = self.notifications.iter().position(matches) {
            return Ok(self.notifications.remove(i));
        }
        loop {
            let message = self.next_message(self.patience)?;
            if matches(&message) {
                if let Some(i) = self.notifications.iter().rposition(|n| n == &message) {
                    self.notifications.remove(i);
                }
                return Ok(message);
            }
        }
    }

    /// The next message within `timeout`. Server-to-client requests (progress tokens) are
    /// answered on the way; notifications are also kept in `notifications`.
    pub fn next_message(&mut self, timeout: Duration) -> anyhow::Result<Value> {
        match self.try_next_message(timeout)? {
            Some(message) => Ok(message),
            None => bail!("no message from infill within {timeout:?}; its log:\n{}", self.stderr()),
        }
    }

    /// Like `next_message`, but a quiet `timeout` is `Ok(None)`: for polling between keystrokes.
    pub fn try_next_message(&mut self, timeout: Duration) -> anyhow::Result<Option<Value>> {
        let message = match self.incoming.recv_timeout(timeout) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => return Ok(None),
            Err(RecvTimeoutError::Disconnected) => {
                bail!("infill closed its output; its log:\n{}", self.stderr())
            }
        };
        if message.get("method").is_some() {
            if message.get("id").is_some() {
                let id = message["id"].clone();
                self.send(&json!({"jsonrpc": "2.0", "id": id, "result": null}))?;
            } else {
                self.notifications.push(message.clone());
            }
        }
        Ok(Some(message))
    }

    /// Every `window/showMessage` text received and not consumed.
    pub fn shown_messages(&self) -> Vec<String> {
        self.notifications
            .iter()
            .filter(|n| n["method"] == "window/showMessage")
            .map(|n| n["params"]["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// initialize → initialized, as VS Code and Neovim do; returns the initialize result.
    pub fn initialize(
        &mut self,
        root: &Path,
        options: Value,
        encodings: &[&str],
    ) -> anyhow::Result<Value> {
        let root_uri = file_uri(root);
        let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let response = self.request(
            "initialize",
            json!({
                "processId": std::process::id(),
                "rootUri": root_uri,
                "workspaceFolders": [{"uri": root_uri, "name": name}],
                "capabilities": {
                    "general": {"positionEncodings": encodings},
                    "window": {"workDoneProgress": true},
                    "textDocument": {"inlineCompletion": {}}
                },
                "initializationOptions": options
            }),
        )?;
        if let Some(error) = response.get("error") {
            bail!("initialize failed: {error}");
        }
        self.notify("initialized", json!({}))?;
        Ok(response["result"].clone())
    }

    /// Waits for the model-loading progress to end; returns its final message.
    pub fn wait_model_loaded(&mut self) -> anyhow::Result<String> {
        let end = self.wait_notification("$/progress", |p| p["value"]["kind"] == "end")?;
        Ok(end["params"]["value"]["message"].as_str().unwrap_or_default().to_string())
    }

    pub fn open(&mut self, uri: &str, language: &str, text: &str) -> anyhow::Result<()> {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}}),
        )
    }

    pub fn inline_completion_params(uri: &str, line: u32, character: u32) -> Value {
        json!({
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": character},
            "context": {"triggerKind": 2}
        })
    }

    pub fn inline_completion(
        &mut self,
        uri: &str,
        line: u32,
        character: u32,
    ) -> anyhow::Result<Value> {
        self.request(
            "textDocument/inlineCompletion",
            Self::inline_completion_params(uri, line, character),
        )
    }

    pub fn completion(&mut self, uri: &str, line: u32, character: u32) -> anyhow::Result<Value> {
        self.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}),
        )
    }

    /// shutdown → exit; returns the process's exit status.
    pub fn shutdown(mut self) -> anyhow::Result<ExitStatus> {
        let response = self.request("shutdown", Value::Null)?;
        if let Some(error) = response.get("error") {
            bail!("shutdown failed: {error}");
        }
        self.notify("exit", Value::Null)?;
        let deadline = Instant::now() + self.patience;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(anyhow!("infill did not exit after `exit`"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
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
