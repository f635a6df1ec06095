//! Round trip with a real FIM model (Qwen2.5-Coder-0.5B, fetched by assets/fetch-model.sh): the
//! suggestion for a recursive `fib` must be the right code, checked by running it.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{LspClient, TempDir, check_placement, real_model};

const PREFIX: &str = "def fib(n):\n    if n < 2:\n        return n\n    return ";
const SUFFIX: &str = "\n\n\nif __name__ == \"__main__\":\n    print(fib(10))\n";

#[test]
fn qwen_completes_fib_correctly() {
    fib_is_completed_correctly(json!({}));
}

/// With a quantized KV cache (`kvCacheType`, which needs flash attention) the model is as sure of
/// the fib hole.
#[test]
fn qwen_completes_fib_correctly_with_a_quantized_kv_cache() {
    fib_is_completed_correctly(json!({"flashAttention": "on", "kvCacheType": "q8_0"}));
}

/// The fib hole with `settings` added, through both completion requests: the suggestion makes
/// fib(10) 55.
fn fib_is_completed_correctly(settings: serde_json::Value) {
    // The folder name is the repository name in the prompt: with "fibproj", `fib` leads `else`
    // by 1.9 in log-probability and `(n` leads `(f` by 0.9 (with "fib", `else` wins by 0.02).
    let root = TempDir::new("fibproj");
    let uri = root.uri("fib.py");
    let mut client = LspClient::start(&[]);
    let mut options = json!({"model": real_model(), "trace": true});
    options.as_object_mut().unwrap().extend(settings.as_object().unwrap().clone());
    client.initialize(root.path(), options, &["utf-16"]);
    let loaded = client.wait_model_loaded();
    assert!(loaded.contains("qwen2.5-coder"), "{loaded}");
    check_placement(&loaded);
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
    // A lone file (no code from other files to show) gets the plain FIM prompt.
    assert!(generation["prompt"].as_str().unwrap().starts_with("<|fim_prefix|>"));

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

/// The user types what the model is still writing: the newer request waits for the running
/// job and gets the rest of its suggestion, instead of cancelling it and asking the model again.
#[test]
fn typing_what_the_model_is_writing_joins_the_running_job() {
    // A continuation the model is sure of, token by token: greedy decoding must pick the same
    // text on every CPU (CI's may differ from ours), and a function body is too close a call
    // (`print` vs `return` as the first token of an empty body: 0.03 apart in log-probability).
    // Each token of the ten remaining months leads the runner-up by at least 2.0, the closing
    // quote; the rest by 3.3 or more (assets/token_margins.py on this prompt).
    const CODE: &str =
        "MONTHS = [\n    \"January\",\n    \"February\",\n    \n]\n\nprint(len(MONTHS))\n";
    let root = TempDir::new("monthsproj");
    let uri = root.uri("months.py");
    // A long multi-line generation (no time budget, answered whole), nothing else running on
    // the engine.
    let options = json!({
        "model": real_model(), "trace": true, "maxTokens": 64, "generationBudgetMs": 0,
        "earlyLinesAfterMs": 0, "prefetch": false, "warmUp": false, "debounceMs": 0
    });
    let mut client = LspClient::start(&[]);
    client.initialize(root.path(), options.clone(), &["utf-16"]);
    check_placement(&client.wait_model_loaded());
    client.open(&uri, "python", CODE);

    // What the model writes on the empty line of the list (greedy: the same every time).
    let first = client.inline_completion(&uri, 3, 4);
    let full = first["result"]["items"][0]["insertText"].as_str().unwrap_or_default().to_string();
    let typed: String = full.chars().take(3).collect();
    println!("the model writes {full:?}");
    assert!(full.lines().count() > 2 && !typed.contains('\n'), "{full:?}");

    // Forget it (a settings change empties the suggestion cache; top-k plays no part in greedy
    // decoding) and ask again; once the model has written a few tokens, type the start of what
    // it writes, as a client would: the edit, a cancel for the old request, a new request.
    let mut changed = options.clone();
    changed["topK"] = json!(41);
    client.notify("workspace/didChangeConfiguration", json!({"settings": changed}));
    let stats =
        |client: &mut LspClient| client.request("infill/stats", json!(null))["result"].clone();
    let before = stats(&mut client);
    let generated = |s: &serde_json::Value| s["generatedTokens"].as_u64().unwrap();
    let asked = client.send_request(
        "textDocument/inlineCompletion",
        json!({"textDocument": {"uri": uri}, "position": {"line": 3, "character": 4},
               "context": {"triggerKind": 2}}),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while generated(&stats(&mut client)) < generated(&before) + 6 {
        assert!(Instant::now() < deadline, "the model wrote nothing");
        std::thread::sleep(Duration::from_millis(10)); // polling interval, not a timing
    }
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{
            "range": {"start": {"line": 3, "character": 4}, "end": {"line": 3, "character": 4}},
            "text": typed
        }]}),
    );
    client.cancel(asked);
    let response = client.inline_completion(&uri, 3, 7);
    let rest = response["result"]["items"][0]["insertText"].as_str().unwrap_or_default();
    assert_eq!(format!("{typed}{rest}"), full, "{response}");
    let trace = client.wait_notification("infill/trace", |params| {
        params["generation"]["joined"] == true || params["suggestion"] == rest
    });
    assert_eq!(trace["params"]["generation"]["joined"], true, "{trace}");
    let after = stats(&mut client);
    assert_eq!(after["modelCalls"], before["modelCalls"].as_u64().unwrap() + 1, "{after}");
    assert_eq!(after["cancelled"], before["cancelled"], "{after}");
    assert!(client.shutdown().success());
}
