//! Bad input never stops the server: each case gets an error or an empty result (plus one clear
//! message), and the server answers normally afterwards.

mod support;

use serde_json::{Value, json};
use support::{LspClient, TempDir, tiny_model};

const INVALID_PARAMS: i64 = -32602;

fn error_code(response: &Value) -> Option<i64> {
    response["error"]["code"].as_i64()
}

fn inline_items(response: &Value) -> usize {
    response["result"]["items"].as_array().map_or(0, Vec::len)
}

#[test]
fn bad_requests_are_answered_with_errors_and_the_server_stays_up() {
    let root = TempDir::new("bad");
    let mut client = LspClient::start(&[]);
    client.initialize(
        root.path(),
        json!({"model": tiny_model(), "threads": 1, "trace": true, "maxTokens": 4}),
        &["utf-16"],
    );
    client.wait_model_loaded();
    let uri = root.uri("a.py");
    client.open(&uri, "python", "x = 1\ny = \n");

    // Out-of-range line, past the end of line 0, past the end of line 1.
    for (line, character) in [(7, 0), (0, 6), (1, 5)] {
        let response = client.inline_completion(&uri, line, character);
        assert_eq!(error_code(&response), Some(INVALID_PARAMS), "({line},{character}): {response}");
        let message = response["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty());
    }
    // A request for a document that was never opened.
    let response = client.completion(&root.uri("never-opened.py"), 0, 0);
    assert_eq!(error_code(&response), Some(INVALID_PARAMS), "{response}");
    assert!(response["error"]["message"].as_str().unwrap().contains("not open"));

    // A change to an unopened document, then a change whose range is out of range: both are
    // reported, and the open document keeps its last good text.
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": root.uri("ghost.py"), "version": 2},
               "contentChanges": [{"text": "boo"}]}),
    );
    let warning = client.wait_notification("window/showMessage", |p| {
        p["message"].as_str().unwrap_or_default().contains("ghost.py")
    });
    assert_eq!(warning["params"]["type"], 2, "a warning: {warning}");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [
                   {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "# ok\n"},
                   {"range": {"start": {"line": 40, "character": 0}, "end": {"line": 40, "character": 1}}, "text": "bad"}
               ]}),
    );
    let about_a = |p: &Value| p["message"].as_str().unwrap_or_default().contains("a.py");
    client.wait_notification("window/showMessage", about_a);
    // More failures on the same document are not more popups; after a good change, the next
    // failure is shown again.
    let bad_range =
        json!({"start": {"line": 40, "character": 0}, "end": {"line": 40, "character": 1}});
    for version in 3..23 {
        client.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version},
                   "contentChanges": [{"range": bad_range, "text": "bad"}]}),
        );
    }
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 23},
               "contentChanges": [{"text": "x = 1\ny = \n"}]}),
    );
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 24},
               "contentChanges": [{"range": bad_range, "text": "bad"}]}),
    );
    client.wait_notification("window/showMessage", about_a);
    let more: Vec<String> =
        client.shown_messages().into_iter().filter(|m| m.contains("a.py")).collect();
    assert!(more.is_empty(), "one popup per streak of failures: {more:?}");

    // Malformed params and an unknown method get JSON-RPC errors.
    let response = client.request("textDocument/inlineCompletion", json!({"textDocument": 5}));
    assert!(response.get("error").is_some(), "{response}");
    let response = client.request("infill/noSuchMethod", json!({}));
    assert!(response.get("error").is_some(), "{response}");

    // Still serving, on the unchanged document.
    let response = client.inline_completion(&uri, 1, 4);
    assert!(response.get("error").is_none(), "{response}");
    let trace = client.wait_notification("infill/trace", |_| true);
    let prompt = trace["params"]["generation"]["prompt"].as_str().unwrap();
    assert!(prompt.contains("x = 1\ny = <fim_suffix>"), "{prompt}");
    assert!(!prompt.contains("# ok"), "a failed batch must change nothing: {prompt}");
    assert!(client.is_alive());
    assert!(client.shutdown().success());
}

/// Starts a server whose model cannot load, asks for completions twice, and checks the user is
/// told exactly once with a message containing `expected`, while the server keeps answering.
fn unloadable_model_is_reported_once(options: Value, expected: &str) {
    let root = TempDir::new("nomodel");
    let mut client = LspClient::start(&[]);
    client.initialize(root.path(), options, &["utf-16"]);
    let uri = root.uri("a.py");
    client.open(&uri, "python", "def f():\n    return ");
    let response = client.inline_completion(&uri, 1, 11);
    assert_eq!(inline_items(&response), 0, "{response}");
    assert!(response.get("error").is_none(), "{response}");
    let shown = client.wait_notification("window/showMessage", |p| p["type"] == 1);
    let message = shown["params"]["message"].as_str().unwrap().to_string();
    assert!(message.contains(expected), "message {message:?} should mention {expected:?}");

    let response = client.completion(&uri, 1, 11);
    assert_eq!(response["result"]["items"], json!([]), "{response}");
    let response = client.inline_completion(&uri, 1, 11);
    assert_eq!(inline_items(&response), 0);
    assert!(client.is_alive());
    let remaining = client.shown_messages();
    assert!(client.shutdown().success());
    assert!(!remaining.contains(&message), "shown more than once: {remaining:?}");
}

#[test]
fn missing_model_path() {
    unloadable_model_is_reported_once(
        json!({"model": "/nonexistent/models/starcoder2-3b.gguf"}),
        "/nonexistent/models/starcoder2-3b.gguf",
    );
}

#[test]
fn no_model_configured_explains_how_to_get_one() {
    // Offline (the test's hub refuses): what was tried, the default, how to give a path.
    unloadable_model_is_reported_once(json!({}), "fetch-model.sh");
    unloadable_model_is_reported_once(json!({}), "default model starcoder2-3b");
    unloadable_model_is_reported_once(json!({}), "cannot reach the hub");
    unloadable_model_is_reported_once(json!({}), "--model /path/to/model.gguf");
}

#[test]
fn file_that_is_not_gguf() {
    let dir = TempDir::new("corrupt");
    let path = dir.path().join("model.gguf");
    std::fs::write(&path, b"<!DOCTYPE html><html>rate limited</html>").unwrap();
    unloadable_model_is_reported_once(json!({"model": path}), "not a GGUF model");
}

#[test]
fn truncated_gguf() {
    let dir = TempDir::new("truncated");
    let path = dir.path().join("model.gguf");
    let bytes = std::fs::read(tiny_model()).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    unloadable_model_is_reported_once(json!({"model": path}), "corrupt");
}

#[test]
fn settings_typos_are_reported_not_fatal() {
    let root = TempDir::new("typo");
    let mut client = LspClient::start(&[]);
    client.initialize(
        root.path(),
        json!({"model": tiny_model(), "threads": 1, "maxTokns": 3, "temperature": "warm"}),
        &["utf-16"],
    );
    client.wait_model_loaded();
    let typo = client.wait_notification("window/showMessage", |p| {
        p["message"].as_str().unwrap_or_default().contains("maxTokns")
    });
    assert_eq!(typo["params"]["type"], 2);
    client.wait_notification("window/showMessage", |p| {
        p["message"].as_str().unwrap_or_default().contains("temperature")
    });
    let uri = root.uri("a.py");
    client.open(&uri, "python", "x = ");
    let response = client.inline_completion(&uri, 0, 4);
    assert!(response.get("error").is_none(), "{response}");
    assert!(client.shutdown().success());
}

/// A FIFO named like source code is never opened: neither by the background walk nor when its
/// document is closed (the index takes the disk copy back then). Opening one blocks until a
/// writer comes, which wedged the server.
#[test]
fn a_fifo_named_like_source_never_blocks_the_server() {
    let root = TempDir::new("fifo");
    let fifo = root.path().join("pipe.py");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let mut client = LspClient::start(&[]);
    client.initialize(
        root.path(),
        json!({"model": tiny_model(), "threads": 1, "maxTokens": 2, "debounceMs": 0}),
        &["utf-16"],
    );
    client.wait_model_loaded();
    let status = client.request("infill/indexStatus", json!({"wait": true}));
    assert_eq!(status["result"]["indexing"], false, "{status}");

    let pipe = root.uri("pipe.py");
    client.open(&pipe, "python", "x = 1\n");
    client.notify("textDocument/didClose", json!({"textDocument": {"uri": pipe}}));
    let uri = root.uri("a.py");
    client.open(&uri, "python", "x = ");
    let response = client.inline_completion(&uri, 0, 4);
    assert!(response.get("error").is_none(), "{response}");
    assert!(client.shutdown().success(), "exit ends the process");
}
