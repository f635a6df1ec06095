//! Repository context through the real server with the tiny StarCoder2-architecture model:
//! the workspace is indexed in the background, the prompt carries the defining file in
//! StarCoder2's repository layout, secrets never appear, file events and settings are followed.

mod support;

use serde_json::json;
use support::{LspClient, TempDir, file_uri, tiny_model};

const MAIN: &str = "from .util import helper_total\n\n\ndef run(values):\n    return \n";

fn prompt_at(client: &mut LspClient, uri: &str, line: u32, character: u32) -> String {
    let response = client.inline_completion(uri, line, character);
    assert!(response.get("error").is_none(), "{response}");
    let trace = client.wait_notification("infill/trace", |_| true);
    trace["params"]["generation"]["prompt"].as_str().expect("prompt in trace").to_string()
}

#[test]
fn the_prompt_shows_the_defining_file_and_never_a_secret() {
    let tmp = TempDir::new("repo-context");
    let root = tmp.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("util.py"), "def helper_total(values):\n    return sum(values)\n")
        .unwrap();
    std::fs::write(root.join(".env"), "helper_total=SECRET_VALUE\n").unwrap();
    std::fs::write(root.join("main.py"), MAIN).unwrap();
    let main_uri = file_uri(&root.join("main.py"));

    let mut client = LspClient::start(&[]);
    client.initialize(
        &root,
        json!({
            "model": tiny_model(), "threads": 1, "trace": true, "maxTokens": 2,
            "prefetch": false, "warmUp": false, "debounceMs": 0
        }),
        &["utf-16"],
    );
    client.wait_model_loaded();
    let status = client.request("infill/indexStatus", json!({"wait": true}));
    assert_eq!(status["result"]["indexing"], false, "{status}");
    assert_eq!(status["result"]["walk"]["files"], 2, "util.py and main.py: {status}");

    client.open(&main_uri, "python", MAIN);
    let prompt = prompt_at(&mut client, &main_uri, 4, 11);
    assert_eq!(
        prompt,
        "<repo_name>proj<file_sep>util.py\ndef helper_total(values):\n    return sum(values)\n\
         <file_sep><fim_prefix>main.py\nfrom .util import helper_total\n\n\ndef run(values):\n    return \
         <fim_suffix>\n<fim_middle>"
    );
    assert!(!prompt.contains("SECRET_VALUE"));

    // A file created outside the editor comes in through didChangeWatchedFiles.
    std::fs::write(root.join("extra.py"), "def helper_extra(values):\n    return max(values)\n")
        .unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": file_uri(&root.join("extra.py")), "type": 1}]}),
    );
    // The server handles messages concurrently: a request sent right after the notification
    // may be answered before the file is read. Wait until the index holds it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while client.request("infill/indexStatus", json!({}))["result"]["files"] != 3 {
        assert!(std::time::Instant::now() < deadline, "extra.py never indexed");
        std::thread::sleep(std::time::Duration::from_millis(10)); // polling interval, not a timing
    }
    let edited = MAIN.replace("return \n", "helper_extra(values)\n    return \n");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main_uri, "version": 2}, "contentChanges": [{"text": edited}]}),
    );
    let prompt = prompt_at(&mut client, &main_uri, 5, 11);
    assert!(prompt.contains("<file_sep>extra.py\ndef helper_extra(values):\n"), "{prompt}");

    // Switched off in the settings: no other file is shown.
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {
            "model": tiny_model(), "threads": 1, "trace": true, "maxTokens": 2,
            "prefetch": false, "warmUp": false, "repoContext": false
        }}),
    );
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main_uri, "version": 3}, "contentChanges": [{"text": MAIN}]}),
    );
    let prompt = prompt_at(&mut client, &main_uri, 4, 11);
    // Nothing from other files, so no repository header either (`repoHeader: withContext`).
    assert!(prompt.starts_with("<fim_prefix>main.py\n"), "{prompt}");

    // Back on with a deny list, no restart: the index is rebuilt without the denied file.
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {
            "model": tiny_model(), "threads": 1, "trace": true, "maxTokens": 2,
            "prefetch": false, "warmUp": false, "repoContext": true, "contextDeny": ["util.py"]
        }}),
    );
    let status = client.request("infill/indexStatus", json!({"wait": true}));
    assert_eq!(status["result"]["walk"]["files"], 2, "extra.py and main.py: {status}");
    let prompt = prompt_at(&mut client, &main_uri, 4, 11);
    assert!(!prompt.contains("util.py") && !prompt.contains("sum(values)"), "{prompt}");
    assert!(prompt.starts_with("<repo_name>proj<file_sep>"), "{prompt}");
    client.shutdown();
}
