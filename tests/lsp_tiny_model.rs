//! Editor round trip over stdio with the tiny StarCoder2-architecture model: initialize (UTF-16)
//! → didOpen → incremental didChange → inlineCompletion and completion → shutdown/exit, checking
//! the exact prompt the engine saw.

mod support;

use infill::prompt::TokenCounter;
use infill::prompt::hf_tokenizer::HfTokenCounter;
use serde_json::json;
use support::{LspClient, TempDir, file_uri, repo_path, test_gpu_layers, tiny_model};

const ORIGINAL: &str = "\
# a comment line that the prefix budget must cut away
import os


def add(a, b):
    return a + b


def main():
    print(\"😀 𝕏\", )
    return 0
# trailing comment the suffix budget must cut away
";

#[test]
fn round_trip_with_tiny_starcoder2_model() {
    // The workspace folder's name is the repository name the model sees.
    let tmp = TempDir::new("tiny");
    let root = tmp.path().join("proj");
    std::fs::create_dir_all(root.join("src")).unwrap();
    let uri = file_uri(&root.join("src/main.py"));

    // Budgets chosen from the model's own tokenizer so that exactly the lines we expect fit.
    let mut counter =
        HfTokenCounter::from_file(&repo_path("assets/tiny-starcoder2.tokenizer.json"))
            .expect("tokenizer");
    let cursor_line = "    print(\"😀 𝕏\", total";
    let prefix_budget = counter.count(cursor_line)
        + counter.count("def main():\n")
        + counter.count("\n")
        + counter.count("\n");
    let suffix_budget = counter.count(")\n") + counter.count("    return 0\n");

    let mut client = LspClient::start(&[]);
    let init = client.initialize(
        &root,
        json!({
            "model": tiny_model(), "threads": 1,
            // The tiny model is never sure of its guesses: the confidence gate would hide them.
            "minConfidence": 0,
            // Nor do they parse: one model call per request, no second opinion.
            "secondOpinion": false,
            "trace": true,
            "maxTokens": 6,
            "prefetch": false,
            "warmUp": false,
            "prefixTokens": prefix_budget,
            "suffixTokens": suffix_budget
        }),
        &["utf-16"],
    );
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-16");
    assert_eq!(init["capabilities"]["inlineCompletionProvider"], true);
    assert_eq!(init["capabilities"]["textDocumentSync"]["change"], 2);
    let loaded = client.wait_model_loaded();
    assert!(loaded.contains("starcoder2"), "progress end message: {loaded}");

    client.open(&uri, "python", ORIGINAL);
    // Type "total" after `print("😀 𝕏", ` — UTF-16: 4 spaces + `print("` = 11, emoji 2, space 1,
    // 𝕏 2, `", ` 3 → character 19 on line 9.
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [
                {"range": {"start": {"line": 9, "character": 19}, "end": {"line": 9, "character": 19}}, "text": "tot"},
                {"range": {"start": {"line": 9, "character": 22}, "end": {"line": 9, "character": 22}}, "text": "al"}
            ]
        }),
    );

    let response = client.inline_completion(&uri, 9, 24);
    let items = response["result"]["items"].as_array().expect("inline items").clone();
    assert_eq!(items.len(), 1, "one suggestion expected: {response}");
    let suggestion = items[0]["insertText"].as_str().unwrap().to_string();
    assert!(!suggestion.is_empty());
    assert!(!suggestion.contains('\n'), "mid-line completion is single-line: {suggestion:?}");
    assert_eq!(
        items[0]["range"],
        json!({"start": {"line": 9, "character": 24}, "end": {"line": 9, "character": 24}})
    );

    let trace = client.wait_notification("infill/trace", |_| true);
    // No other file is shown, so no repository header (`repoHeader: withContext`).
    let expected_prompt = "<fim_prefix>src/main.py\n\
        \n\ndef main():\n    print(\"😀 𝕏\", total<fim_suffix>)\n    return 0\n<fim_middle>";
    assert_eq!(trace["params"]["generation"]["prompt"], expected_prompt);
    assert_eq!(trace["params"]["suggestion"], suggestion.as_str());
    for special in ["<fim_", "<file_sep>", "<repo_name>", "<|endoftext|>"] {
        assert!(!suggestion.contains(special), "special token leaked: {suggestion:?}");
    }

    let calls = |client: &mut LspClient| {
        client.request("infill/stats", json!(null))["result"]["modelCalls"].as_u64().unwrap()
    };
    assert_eq!(calls(&mut client), 1);

    // `textDocument/completion` at the same place is answered from the suggestion cache.
    let response = client.completion(&uri, 9, 24);
    let list = &response["result"];
    assert_eq!(list["isIncomplete"], true);
    let item = &list["items"][0];
    assert_eq!(item["preselect"], true);
    assert_eq!(item["textEdit"]["newText"], format!("total{suggestion}"));
    assert_eq!(
        item["textEdit"]["range"],
        json!({"start": {"line": 9, "character": 19}, "end": {"line": 9, "character": 24}})
    );
    let trace = client.wait_notification("infill/trace", |_| true);
    assert_eq!(trace["params"]["generation"]["cached"], true, "{trace}");
    assert_eq!(calls(&mut client), 1, "no model call for a context already answered");

    // Typing the suggestion's first character: the rest of it comes back, without the engine.
    let first: String = suggestion.chars().take(1).collect();
    let rest: String = suggestion.chars().skip(1).collect();
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": uri, "version": 3},
            "contentChanges": [
                {"range": {"start": {"line": 9, "character": 24}, "end": {"line": 9, "character": 24}}, "text": first}
            ]
        }),
    );
    let after = 24 + first.encode_utf16().count() as u32;
    if !rest.is_empty() {
        let response = client.inline_completion(&uri, 9, after);
        assert_eq!(response["result"]["items"][0]["insertText"], rest.as_str(), "{response}");
        assert_eq!(calls(&mut client), 1, "typing-through must not reach the engine");
    }

    let status = client.shutdown();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn a_cursor_come_to_rest_warms_up_the_prompt_there() {
    let root = TempDir::new("rest");
    let mut client = LspClient::start(&[]);
    let options = json!({"model": tiny_model(), "threads": 1, "minConfidence": 0, "trace": true,
                         "maxTokens": 4, "prefetch": false, "debounceMs": 0});
    client.initialize(root.path(), options, &["utf-16"]);
    client.wait_model_loaded();
    let uri = root.uri("main.py");
    client.open(&uri, "python", ORIGINAL);
    let stats =
        |client: &mut LspClient| client.request("infill/stats", json!(null))["result"].clone();
    let background = |client: &mut LspClient| stats(client)["backgroundCalls"].as_u64().unwrap();

    // Hints the server cannot use are ignored: a document that is not open, a position past
    // the end. The session goes on.
    let elsewhere = root.uri("other.py");
    let rest = |uri: &str, line: u32, character: u32| {
        let position = json!({"line": line, "character": character});
        json!({"textDocument": {"uri": uri}, "position": position})
    };
    client.notify("infill/cursorMoved", rest(&elsewhere, 0, 0));
    client.notify("infill/cursorMoved", rest(&uri, 99, 0));
    client.notify("infill/cursorMoved", json!({"position": "nowhere"}));
    client.notify("infill/cursorMoved", json!(null));
    assert_eq!(background(&mut client), 0);

    // The cursor comes to rest inside `add`: the prompt there is evaluated without a request.
    client.notify("infill/cursorMoved", rest(&uri, 5, 4));
    // Generous: on a software Vulkan device (lavapipe 25, `.ci/gpu`) the first prompt of this
    // size compiles ggml's shaders on the CPU, about two minutes with a cold shader cache.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while background(&mut client) == 0 {
        assert!(std::time::Instant::now() < deadline, "no warm-up");
        std::thread::sleep(std::time::Duration::from_millis(20)); // polling interval, not a timing
    }
    // Once it has finished, a request there finds the whole prompt in the KV cache.
    let finished = |s: &serde_json::Value| {
        let n = |key: &str| s[key].as_u64().unwrap();
        n("completed") + n("cancelled") + n("failed") >= n("modelCalls")
    };
    while !finished(&stats(&mut client)) {
        assert!(std::time::Instant::now() < deadline, "the warm-up never ended");
        std::thread::sleep(std::time::Duration::from_millis(20)); // polling interval, not a timing
    }
    client.inline_completion(&uri, 5, 4);
    let trace = client.wait_notification("infill/trace", |_| true);
    let generation = &trace["params"]["generation"];
    let (prompt, reused) =
        (generation["promptTokens"].as_u64(), generation["reusedTokens"].as_u64());
    assert!(reused.unwrap() + 1 >= prompt.unwrap(), "the prompt was warm: {generation}");
    assert!(client.shutdown().success());
}

#[test]
fn utf8_is_chosen_when_offered() {
    let root = TempDir::new("utf8");
    let mut client = LspClient::start(&["--model", tiny_model().to_str().unwrap()]);
    let init = client.initialize(root.path(), json!({"threads": 1}), &["utf-16", "utf-8"]);
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-8");
    client.wait_model_loaded();
    let uri = root.uri("a.py");
    client.open(&uri, "python", "s = \"é\"\nx = ");
    // UTF-8: `s = "é"` is 8 bytes; the end of line 0 is character 8, not 7.
    let response = client.inline_completion(&uri, 0, 8);
    assert!(response.get("error").is_none(), "{response}");
    let response = client.inline_completion(&uri, 0, 9);
    assert!(response.get("error").is_some(), "character 9 is past the end: {response}");
    assert!(client.shutdown().success());
}

#[test]
fn secrets_files_are_never_completed() {
    let root = TempDir::new("secrets");
    let mut client = LspClient::start(&[]);
    client.initialize(
        root.path(),
        // One model call for the code file: the tiny model's guess gets no second opinion.
        json!({"model": tiny_model(), "threads": 1, "trace": true, "secondOpinion": false}),
        &["utf-16"],
    );
    client.wait_model_loaded();
    let env = root.uri(".env");
    client.open(&env, "dotenv", "API_KEY=sk-live-123\nDB_PASSWORD=");
    let response = client.inline_completion(&env, 1, 12);
    assert_eq!(response["result"]["items"], json!([]), "{response}");
    // The trace says why, and no prompt was built.
    let trace = client.wait_notification("infill/trace", |p| p["uri"] == env.as_str());
    assert_eq!(trace["params"]["reason"], "secretFile", "{trace}");
    assert_eq!(trace["params"]["generation"], json!({}), "{trace}");
    // A source-named link to the secret is the secret.
    let text = "API_KEY=sk-live-123\nDB_PASSWORD=";
    std::fs::write(root.path().join(".env"), text).unwrap();
    std::os::unix::fs::symlink(root.path().join(".env"), root.path().join("settings.py")).unwrap();
    let link = root.uri("settings.py");
    client.open(&link, "python", text);
    let response = client.inline_completion(&link, 1, 12);
    assert_eq!(response["result"]["items"], json!([]), "{response}");
    let trace = client.wait_notification("infill/trace", |p| p["uri"] == link.as_str());
    assert_eq!(trace["params"]["reason"], "secretFile", "{trace}");

    let code = root.uri("app.py");
    client.open(&code, "python", "x = ");
    client.inline_completion(&code, 0, 4);
    let trace = client.wait_notification("infill/trace", |p| p["uri"] == code.as_str());
    assert!(trace["params"]["generation"]["prompt"].is_string(), "{trace}");
    // Only ordinary code reached the engine; infill/stats counts each request's reason.
    let stats = client.request("infill/stats", json!(null));
    assert_eq!(stats["result"]["modelCalls"], 1, "{stats}");
    assert_eq!(stats["result"]["reasons"]["secretFile"], 2, "{stats}");
    assert!(client.shutdown().success());
}

/// Prose is off by default; `disabledFiles` and `disabledLanguages` switch off more (live,
/// through `workspace/didChangeConfiguration`), and each switched-off request says why.
#[test]
fn switched_off_languages_and_files_are_never_completed() {
    let root = TempDir::new("switches");
    let mut client = LspClient::start(&[]);
    let options = json!({"model": tiny_model(), "threads": 1, "trace": true, "minConfidence": 0});
    client.initialize(root.path(), options, &["utf-16"]);
    client.wait_model_loaded();
    let asks = |client: &mut LspClient, uri: &str| {
        let response = client.inline_completion(uri, 0, 4);
        let trace = client.wait_notification("infill/trace", |p| p["uri"] == uri);
        (response["result"]["items"].clone(), trace["params"]["reason"].clone())
    };
    let notes = root.uri("notes.md");
    client.open(&notes, "markdown", "The ");
    assert_eq!(asks(&mut client, &notes), (json!([]), json!("switchedOff")));

    let generated = root.uri("gen/schema.py");
    let code = root.uri("app.py");
    client.open(&generated, "python", "x = ");
    client.open(&code, "python", "x = ");
    assert_ne!(asks(&mut client, &generated).1, json!("switchedOff"));
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"disabledFiles": ["gen/"], "disabledLanguages": []}}),
    );
    assert_eq!(asks(&mut client, &generated), (json!([]), json!("switchedOff")));
    assert_ne!(asks(&mut client, &code).1, json!("switchedOff"), "other files go on");
    assert_ne!(asks(&mut client, &notes).1, json!("switchedOff"), "markdown switched back on");
    let stats = client.request("infill/stats", json!(null));
    assert_eq!(stats["result"]["reasons"]["switchedOff"], 2, "{stats}");
    assert!(client.shutdown().success());
}

#[test]
fn loading_progress_ends_even_when_the_model_was_ready_before_initialized() {
    let root = TempDir::new("early");
    let uri = root.uri("a.py");
    let mut client = LspClient::start(&[]);
    let response = client.request(
        "initialize",
        json!({
            "processId": null,
            "rootUri": file_uri(root.path()),
            "capabilities": {"window": {"workDoneProgress": true}},
            "initializationOptions": {"model": tiny_model(), "threads": 1, "minConfidence": 0}
        }),
    );
    assert!(response.get("error").is_none(), "{response}");
    client.open(&uri, "python", "x = ");
    // Ask until a suggestion comes back: from then on the model is loaded for certain.
    let ready = (0..100_000).any(|_| {
        let response = client.inline_completion(&uri, 0, 4);
        response["result"]["items"].as_array().is_some_and(|items| !items.is_empty())
    });
    assert!(ready, "the tiny model never answered");
    client.notify("initialized", json!({}));
    let message = client.wait_model_loaded();
    assert!(message.contains("ready"), "{message}");
    assert!(client.shutdown().success());
}

/// The model-loaded message says where the model runs; `gpuLayers` on a machine or build
/// without a GPU is a warning, not a failure: the model runs on the CPU.
#[test]
fn gpu_layers_without_a_gpu_run_on_the_cpu_and_say_so() {
    let root = TempDir::new("gpu");
    // No GPU, even on a GPU build on a machine with one (`.ci/gpu`): an empty list of visible
    // devices hides them from ggml's Vulkan and CUDA backends.
    let hidden = [("GGML_VK_VISIBLE_DEVICES", ""), ("CUDA_VISIBLE_DEVICES", "")];
    let mut client = LspClient::start_with_env(&[], &hidden);
    client.initialize(
        root.path(),
        json!({"model": tiny_model(), "threads": 1, "gpuLayers": 8}),
        &["utf-16"],
    );
    let loaded = client.wait_model_loaded();
    assert!(loaded.contains("CPU, 1 thread"), "{loaded}");
    let warning = client.wait_notification("window/showMessage", |p| p["type"] == 2);
    let message = warning["params"]["message"].as_str().unwrap();
    assert!(message.contains("gpuLayers is 8") && message.contains("CPU"), "{message}");
    let uri = root.uri("a.py");
    client.open(&uri, "python", "x = ");
    let response = client.inline_completion(&uri, 0, 4);
    assert!(response.get("error").is_none(), "still serving: {response}");
    assert!(client.shutdown().success());
}

/// On a GPU (`.ci/gpu` sets `INFILL_TEST_GPU_LAYERS`; skipped elsewhere): `gpuLayers` left out
/// puts every layer there, the output layer included, and a number puts that many; the
/// model-loaded message counts them.
#[test]
fn the_model_loaded_message_counts_the_layers_on_the_gpu() {
    if test_gpu_layers() == Some(0) {
        println!("skipped: INFILL_TEST_GPU_LAYERS is not set");
        return;
    }
    let root = TempDir::new("gpu");
    let layers = |options: serde_json::Value| {
        let mut client = LspClient::start(&[]);
        client.initialize(root.path(), options, &["utf-16"]);
        let loaded = client.wait_model_loaded();
        println!("{loaded}");
        assert!(client.shutdown().success());
        let (counts, _) = loaded.split_once(" layers").unwrap_or_else(|| panic!("{loaded}"));
        let counts = counts.rsplit(' ').next().unwrap();
        let (on_gpu, total) = counts.split_once('/').unwrap_or_else(|| panic!("{loaded}"));
        (on_gpu.parse::<u32>().unwrap(), total.parse::<u32>().unwrap())
    };
    let (on_gpu, total) = layers(json!({"model": tiny_model(), "threads": 1}));
    assert_eq!(on_gpu, total);
    assert!(total >= 2, "the model's layers and its output layer: {total}");
    assert_eq!(layers(json!({"model": tiny_model(), "threads": 1, "gpuLayers": 1})), (1, total));
}

/// A multi-line suggestion still being written after `earlyLinesAfterMs` is answered with its
/// whole lines so far; typing them finds the rest, written meanwhile by the same model call.
/// The file's first 100 lines make the prompt take longer to evaluate than that 1 ms, so the
/// lines are due before the first one is written: the tiny model writes its 32 tokens in about
/// 1 ms, and from a 21-token prompt it sometimes finished its first line before the due time
/// and answered whole.
#[test]
fn a_long_suggestion_shows_its_first_lines_and_the_rest_follows() {
    let tmp = TempDir::new("tiny-early");
    let root = tmp.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    let uri = file_uri(&root.join("add.py"));
    let mut client = LspClient::start(&[]);
    let options = json!({
        "model": tiny_model(), "threads": 1,
        // The tiny model is never sure of its guesses, nor do they parse.
        "minConfidence": 0, "secondOpinion": false,
        "prefetch": false, "warmUp": false, "quickAnswerAfterMs": 0,
        "maxTokens": 32, "earlyLinesAfterMs": 1
    });
    client.initialize(&root, options, &["utf-16"]);
    client.wait_model_loaded();
    let notes: String = (0..100).map(|i| format!("# note {i}: numbers add up\n")).collect();
    let hole_line = 100 + 1;
    client.open(&uri, "python", &format!("{notes}def add(a, b):\n    \n"));

    let response = client.inline_completion(&uri, hole_line, 4);
    let lines = response["result"]["items"][0]["insertText"].as_str().unwrap_or_default();
    assert!(!lines.trim().is_empty(), "{response}");
    let typed_lines = lines.split('\n').count();
    client.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"range": {"start": {"line": hole_line, "character": 4}, "end": {"line": hole_line, "character": 4}}, "text": lines}]
        }),
    );
    let last = lines.rsplit('\n').next().unwrap();
    let line = hole_line + typed_lines as u32 - 1;
    let character = last.encode_utf16().count() as u32;
    let character = if typed_lines == 1 { 4 + character } else { character };
    let response = client.inline_completion(&uri, line, character);
    let rest = response["result"]["items"][0]["insertText"].as_str().unwrap_or_default();
    assert!(rest.starts_with('\n') && !rest.trim().is_empty(), "the next lines: {response}");
    let stats = client.request("infill/stats", json!(null));
    assert_eq!(stats["result"]["modelCalls"], 1, "one model call wrote both: {stats}");

    let status = client.shutdown();
    assert!(status.success(), "exit status {status:?}");
}
