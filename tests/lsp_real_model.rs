//! Round trip with a real FIM model (Qwen2.5-Coder-0.5B, fetched by assets/fetch-model.sh): the
//! suggestion for a recursive `fib` must be the right code, checked by running it.

mod support;

use std::process::Command;

use serde_json::json;
use support::{LspClient, TempDir, real_model};

const PREFIX: &str = "def fib(n):\n    if n < 2:\n        return n\n    return ";
const SUFFIX: &str = "\n\n\nif __name__ == \"__main__\":\n    print(fib(10))\n";

#[test]
fn qwen_completes_fib_correctly() {
    let root = TempDir::new("fibproj");
    let uri = root.uri("fib.py");
    let mut client = LspClient::start(&[]);
    client.initialize(root.path(), json!({"model": real_model(), "trace": true}), &["utf-16"]);
    let loaded = client.wait_model_loaded();
    assert!(loaded.contains("qwen2.5-coder"), "{loaded}");
    client.open(&uri, "python", &format!("{PREFIX}{SUFFIX}"));

    let response = client.inline_completion(&uri, 3, 11);
    let suggestion = response["result"]["items"][0]["insertText"]
        .as_str()
        .unwrap_or_else(|| panic!("no suggestion: {response}"))
        .to_string();
    let trace = client.wait_notification("infill/trace", |_| true);
    let generation = &trace["params"]["generation"];
    println!(
        "suggestion {suggestion:?}: prompt {} tokens ({} ms), generated {} tokens ({} ms)",
        generation["promptTokens"],
        generation["promptMs"],
        generation["generatedTokens"],
        generation["generationMs"]
    );
    assert!(generation["prompt"].as_str().unwrap().starts_with("<|repo_name|>"));

    // The right code is code that runs: fib(10) == 55.
    let program = format!("{PREFIX}{suggestion}{SUFFIX}");
    let output = Command::new("python3").arg("-c").arg(&program).output().expect("python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.trim(),
        "55",
        "suggestion {suggestion:?} gives {stdout:?}, stderr {}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Helix/Zed path: the same suggestion as a completion item.
    let response = client.completion(&uri, 3, 11);
    assert_eq!(response["result"]["items"][0]["textEdit"]["newText"], suggestion.as_str());
    assert!(client.shutdown().success());
}
