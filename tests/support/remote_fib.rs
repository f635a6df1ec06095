//! The fib round trip both real-server tests make through a remote engine: the suggestion at
//! `return ▮` must be the in-process engine's, from the very prompt it builds, and must run;
//! typing its start must be answered from infill's suggestion cache.

use std::process::Command;

use serde_json::{Value, json};

use super::{LspClient, TempDir, complete_in_process, insert_text, real_model};

pub const PREFIX: &str = "def fib(n):\n    if n < 2:\n        return n\n    return ";
pub const SUFFIX: &str = "\n\n\nif __name__ == \"__main__\":\n    print(fib(10))\n";

/// A project holding `fib.py` (the folder name is the repository name in the prompt: see
/// lsp_real_model.rs), opened in `client` once the engine is ready; returns the file's URI and
/// the ready message.
pub fn open(client: &mut LspClient, root: &TempDir, options: Value) -> (String, String) {
    std::fs::write(root.path().join("fib.py"), format!("{PREFIX}{SUFFIX}")).unwrap();
    let uri = root.uri("fib.py");
    client.initialize(root.path(), options, &["utf-16"]);
    let ready = client.wait_notification("infill/status", |p| p["state"] == "ready");
    let ready = ready["params"]["message"].as_str().unwrap().to_string();
    client.open(&uri, "python", &format!("{PREFIX}{SUFFIX}"));
    (uri, ready)
}

/// The remote suggestion at `return ▮`, checked against the in-process engine's (same prompt,
/// same answer) and run; returns it with its trace's `generation` and the in-process answer.
pub fn ask_like_in_process(
    client: &mut LspClient,
    root: &TempDir,
    uri: &str,
) -> (String, Value, Value) {
    let suggestion = insert_text(&client.inline_completion(uri, 3, 11));
    let trace = client.wait_notification("infill/trace", |_| true);
    let generation = trace["params"]["generation"].clone();
    let file = root.path().join("fib.py");
    let local = complete_in_process(root.path(), &format!("{}:4:12", file.display()));
    assert_eq!(generation["prompt"], local["prompt"], "the server received infill's prompt");
    assert_eq!(suggestion, local["suggestion"].as_str().unwrap(), "the same answer");
    println!("remote and local both suggest {suggestion:?}");
    let program = format!("{PREFIX}{suggestion}{SUFFIX}");
    let output = Command::new("python3").arg("-c").arg(&program).output().expect("python3");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "55", "{suggestion:?}");
    (suggestion, generation, local)
}

/// Types the suggestion's first 4 characters: the rest must come from infill's cache.
pub fn type_through(client: &mut LspClient, uri: &str, suggestion: &str) {
    let typed = &suggestion[..4];
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{
            "range": {"start": {"line": 3, "character": 11}, "end": {"line": 3, "character": 11}},
            "text": typed
        }]}),
    );
    let rest = insert_text(&client.inline_completion(uri, 3, 15));
    assert_eq!(format!("{typed}{rest}"), suggestion);
    let trace = client.wait_notification("infill/trace", |_| true);
    assert_eq!(trace["params"]["generation"]["cached"], true, "{trace}");
}

/// What `type_other_text` types at `return ▮`: not how the suggestion starts (`fib(n-1)`).
pub const TYPED: &str = "fib(n - 1";

/// After a first suggestion at `return ▮`, types `TYPED` there and asks again: the engine is
/// asked (the suggestion cache cannot answer), and its prompt continues the last one. Returns
/// the suggestion and its trace's `generation`.
pub fn type_other_text(client: &mut LspClient, uri: &str) -> (String, Value) {
    let first = insert_text(&client.inline_completion(uri, 3, 11));
    assert!(!first.starts_with(TYPED), "{first:?}");
    client.wait_notification("infill/trace", |_| true);
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{
            "range": {"start": {"line": 3, "character": 11}, "end": {"line": 3, "character": 11}},
            "text": TYPED
        }]}),
    );
    let suggestion = insert_text(&client.inline_completion(uri, 3, 11 + TYPED.len() as u32));
    let trace = client.wait_notification("infill/trace", |_| true);
    (suggestion, trace["params"]["generation"].clone())
}

/// `type_other_text` through a remote engine (`options`) and through the in-process one: the
/// typed text's last token is written again by the model (healed), and both give the same
/// prompt and answer, which runs. Returns the remote trace's `generation`.
pub fn type_other_text_like_in_process(options: Value) -> Value {
    let root = TempDir::new("fibproj");
    let mut client = LspClient::start(&[]);
    let (uri, _) = open(&mut client, &root, options);
    let (suggestion, generation) = type_other_text(&mut client, &uri);
    assert!(client.shutdown().success());
    println!("after {TYPED:?} the server suggests {suggestion:?}: {generation}");
    let healed = generation["healed"].as_str().unwrap_or_default();
    assert!(!healed.is_empty() && TYPED.ends_with(healed), "{generation}");

    let mut local = LspClient::start(&[]);
    let local_options = json!({"model": real_model(), "trace": true, "prefetch": false,
                               "warmUp": false, "debounceMs": 0});
    let (uri, _) = open(&mut local, &root, local_options);
    let (local_suggestion, local_generation) = type_other_text(&mut local, &uri);
    assert!(local.shutdown().success());
    assert_eq!(generation["prompt"], local_generation["prompt"], "the same prompt");
    assert_eq!(suggestion, local_suggestion, "the same answer");
    let program = format!("{PREFIX}{TYPED}{suggestion}{SUFFIX}");
    let output = Command::new("python3").arg("-c").arg(&program).output().expect("python3");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "55", "{program}");
    generation
}
