//! The stdio transport against raw bytes: whatever an editor writes, the server answers what it
//! can and goes on (a body that is not JSON, invalid UTF-8, a missing or wrong Content-Length, a
//! lone UTF-16 surrogate escape, a `$/` request), and the exit code follows the protocol.
//! Driven with hand-made frames through the real binary and the tiny model.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{TempDir, file_uri, tiny_model};

const PATIENCE: Duration = Duration::from_secs(60);

struct RawClient {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    /// Messages read while waiting for another one.
    seen: Vec<Value>,
}

impl RawClient {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_infill"))
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start infill");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(value) = line.strip_prefix("Content-Length: ") {
                        length = value.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.expect("the server always sends a length")];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let message = serde_json::from_slice(&body).expect("the server always sends JSON");
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        Self { child, stdin, messages, seen: Vec::new() }
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        self.send_bytes(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    /// The first message (in arrival order) that `accept` takes.
    fn expect(&mut self, what: &str, accept: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.seen.iter().position(&accept) {
            return self.seen.remove(i);
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .messages
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {what} within {PATIENCE:?}; seen: {:?}", self.seen));
            if accept(&message) {
                return message;
            }
            self.seen.push(message);
        }
    }

    fn response(&mut self, id: Value) -> Value {
        self.expect(&format!("response {id}"), |m| m["id"] == id && m.get("method").is_none())
    }

    /// Waits for the process to end; the exit code.
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(10)); // polling interval, not a timing
        }
    }

    fn initialize(&mut self, root: &std::path::Path) {
        self.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": null, "rootUri": file_uri(root), "capabilities": {},
            "initializationOptions": {"model": tiny_model(), "threads": 1, "trace": true,
                                      "maxTokens": 2, "debounceMs": 0}
        }}));
        let response = self.response(json!(1));
        assert!(response.get("error").is_none(), "{response}");
        self.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
        self.expect("infill/status ready", |m| {
            m["method"] == "infill/status" && m["params"]["state"] != "loading"
        });
    }
}

impl Drop for RawClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body);
    frame
}

#[test]
fn undecodable_messages_are_answered_and_the_session_goes_on() {
    let root = TempDir::new("transport");
    let mut client = RawClient::start();
    client.initialize(root.path());

    // Not JSON: a parse error for id null.
    client.send_bytes(&framed(b"hello, server"));
    let error = client.response(Value::Null);
    assert_eq!(error["error"]["code"], -32700, "{error}");

    // Invalid UTF-8 in a request: answered as that request.
    client.send_bytes(&framed(
        b"{\"jsonrpc\":\"2.0\",\"id\":50,\"method\":\"infill/indexStatus\",\"params\":{\"x\":\"\xff\"}}",
    ));
    assert_eq!(client.response(json!(50))["error"]["code"], -32700);

    // No Content-Length, then a length that is not a number: the JSON that follows is read.
    let body = json!({"jsonrpc": "2.0", "id": 51, "method": "infill/indexStatus", "params": {}});
    client.send_bytes(format!("Content-Type: application/vscode-jsonrpc\r\n\r\n{body}").as_bytes());
    assert!(client.response(json!(51)).get("result").is_some());
    let body = json!({"jsonrpc": "2.0", "id": 52, "method": "infill/indexStatus", "params": {}});
    client.send_bytes(format!("Content-Length: lots\r\n\r\n{body}").as_bytes());
    assert!(client.response(json!(52)).get("result").is_some());

    // A length too long swallows nothing: the request after it is answered too.
    let body = json!({"jsonrpc": "2.0", "id": 53, "method": "infill/indexStatus", "params": {}});
    let body = body.to_string();
    client.send_bytes(format!("Content-Length: {}\r\n\r\n{body}", body.len() + 40).as_bytes());
    client.send(json!({"jsonrpc": "2.0", "id": 54, "method": "infill/indexStatus", "params": {}}));
    assert!(client.response(json!(53)).get("result").is_some());
    assert!(client.response(json!(54)).get("result").is_some());

    // A request in the `$/` namespace the server does not know: MethodNotFound, not silence.
    client.send(json!({"jsonrpc": "2.0", "id": 55, "method": "$/unknown", "params": {}}));
    assert_eq!(client.response(json!(55))["error"]["code"], -32601);

    // A lone surrogate, as JavaScript's JSON.stringify writes it: the document opens with
    // U+FFFD in its place (one UTF-16 unit: positions after it stay right).
    let uri = root.uri("a.py");
    let open = format!(
        r#"{{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{{"textDocument":{{"uri":"{uri}","languageId":"python","version":1,"text":"s = '\ud800'\nx = "}}}}}}"#
    );
    client.send_bytes(&framed(open.as_bytes()));
    client.send(json!({"jsonrpc": "2.0", "id": 56, "method": "textDocument/inlineCompletion",
        "params": {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 4},
                   "context": {"triggerKind": 1}}}));
    let response = client.response(json!(56));
    assert!(response.get("error").is_none(), "{response}");
    let trace = client.expect("infill/trace", |m| m["method"] == "infill/trace");
    let prompt = trace["params"]["generation"]["prompt"].as_str().unwrap();
    assert!(prompt.contains("s = '\u{fffd}'\nx = "), "{prompt}");

    // A change whose version does not fit the protocol's integer: the crate would drop it
    // silently; the user is told.
    client.send(json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": uri, "version": 1u64 << 40}, "contentChanges": [{"text": "y"}]}}));
    let warning = client.expect("a warning", |m| m["method"] == "window/showMessage");
    assert!(warning["params"]["message"].as_str().unwrap().contains("didChange"), "{warning}");

    // `exit` without `shutdown`: the process ends with 1, as the protocol says.
    client.send(json!({"jsonrpc": "2.0", "method": "exit"}));
    assert_eq!(client.exit_code(), Some(1));
}

#[test]
fn exit_after_shutdown_ends_the_process_even_with_stdin_left_open() {
    let root = TempDir::new("exit");
    let mut client = RawClient::start();
    client.initialize(root.path());
    client.send(json!({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}));
    assert!(client.response(json!(2)).get("error").is_none());
    client.send(json!({"jsonrpc": "2.0", "method": "exit"}));
    // stdin stays open: the client has not closed its end of the pipe.
    assert_eq!(client.exit_code(), Some(0));
}

/// llama.cpp's OpenMP threads spin unless told otherwise, and spinning threads stall each other
/// on a busy machine: the server runs with `OMP_WAIT_POLICY=PASSIVE` unless the user chose a
/// policy (it starts itself again with the variable set; OpenMP reads it at load).
#[test]
fn the_server_runs_with_passive_openmp_threads_unless_told_otherwise() {
    let root = TempDir::new("omp");
    for (given, expected) in [(None, "PASSIVE"), (Some("ACTIVE"), "ACTIVE")] {
        let state = TempDir::new("state");
        let mut command = Command::new(env!("CARGO_BIN_EXE_infill"));
        command.arg("serve").env("XDG_STATE_HOME", state.path()).env_remove("INFILL_MODEL");
        match given {
            Some(policy) => command.env("OMP_WAIT_POLICY", policy),
            None => command.env_remove("OMP_WAIT_POLICY"),
        };
        let mut client = infill::lab::lsp_client::LspClient::spawn(command).unwrap();
        // Answering `initialize` means the process runs its final program.
        client.initialize(root.path(), json!({"model": tiny_model()}), &["utf-16"]).unwrap();
        let environ = std::fs::read(format!("/proc/{}/environ", client.pid())).unwrap();
        let policy = environ
            .split(|&b| b == 0)
            .filter_map(|entry| entry.strip_prefix(b"OMP_WAIT_POLICY="))
            .map(|value| String::from_utf8_lossy(value).into_owned())
            .collect::<Vec<_>>();
        assert_eq!(policy, [expected], "given {given:?}");
        client.shutdown().unwrap();
    }
}
