//! What the editor integrations (editors/) rely on beyond a plain completion, with the tiny
//! StarCoder2-architecture model: `infill/status`, `workspace/didChangeConfiguration` (live keys
//! apply at once, restart keys are kept and reported), acceptance through the item's `command`
//! (`workspace/executeCommand`), and completion items shaped for Helix and Zed.

mod support;

use serde_json::{Value, json};
use support::{LspClient, TempDir, tiny_model};

fn start(root: &TempDir, options: Value) -> LspClient {
    let mut client = LspClient::start(&[]);
    // The tiny model is never sure of its guesses: the confidence gate would hide them all.
    let mut all = json!({"model": tiny_model(), "threads": 1, "minConfidence": 0});
    for (key, value) in options.as_object().unwrap() {
        all[key] = value.clone();
    }
    let init = client.initialize(root.path(), all, &["utf-16"]);
    assert_eq!(
        init["capabilities"]["executeCommandProvider"]["commands"],
        json!(["infill.accepted"]),
        "{init}"
    );
    client.wait_model_loaded();
    client
}

fn traces(client: &LspClient) -> usize {
    client.notifications().iter().filter(|n| n["method"] == "infill/trace").count()
}

#[test]
fn status_notifications_report_loading_then_ready() {
    let root = TempDir::new("status");
    let mut client = start(&root, json!({}));
    let loading = client.wait_notification("infill/status", |p| p["state"] == "loading");
    assert_eq!(loading["params"]["message"], "loading the model");
    let ready = client.wait_notification("infill/status", |_| true);
    assert_eq!(ready["params"]["state"], "ready", "{ready}");
    let message = ready["params"]["message"].as_str().unwrap();
    assert!(message.contains("tiny-starcoder2.gguf ready"), "{message}");
    assert!(client.shutdown().success());
}

#[test]
fn status_reports_a_model_that_cannot_load() {
    let root = TempDir::new("status-bad");
    let bogus = root.path().join("missing.gguf");
    let mut client = LspClient::start(&[]);
    client.initialize(root.path(), json!({"model": bogus}), &["utf-16"]);
    let status = client.wait_notification("infill/status", |p| p["state"] != "loading");
    assert_eq!(status["params"]["state"], "error", "{status}");
    assert!(status["params"]["message"].as_str().unwrap().contains("missing.gguf"), "{status}");
    assert!(client.shutdown().success());
}

#[test]
fn did_change_configuration_applies_live_settings_and_reports_restart_ones() {
    let root = TempDir::new("config");
    let uri = root.uri("a.py");
    let mut client = start(&root, json!({"maxTokens": 8, "multiline": "always"}));
    client.open(&uri, "python", "def f(x):\n    return ");

    // trace is off: no infill/trace for this completion.
    let response = client.inline_completion(&uri, 1, 11);
    assert!(response.get("error").is_none(), "{response}");
    assert_eq!(traces(&client), 0);

    // VS Code's shape: the settings under the section name. trace, maxTokens, the debounce and
    // the deny list apply at once; model and threads need a restart and keep their running
    // values.
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"infill": {
            "model": root.path().join("other.gguf"), "threads": 2,
            "trace": true, "maxTokens": 1, "multiline": "always",
            "debounceMs": 0, "contextDeny": ["build/**"]
        }}}),
    );
    let response = client.inline_completion(&uri, 1, 11);
    let items = response["result"]["items"].as_array().unwrap().clone();
    let trace = client.wait_notification("infill/trace", |_| true);
    let generation = &trace["params"]["generation"];
    assert!(generation["generatedTokens"].as_u64().unwrap() <= 1, "maxTokens 1: {generation}");
    assert!(
        trace["params"]["generation"]["prompt"].as_str().unwrap().contains("return "),
        "the same model still answers: {trace}"
    );
    if let Some(item) = items.first() {
        assert_eq!(item["insertText"], trace["params"]["suggestion"]);
    }
    let messages = client.shown_messages();
    let restart = messages.iter().find(|m| m.contains("restart")).expect("restart notice");
    assert!(restart.contains("`model`") && restart.contains("`threads`"), "{restart}");
    assert!(!restart.contains("debounceMs") && !restart.contains("contextDeny"), "{restart}");

    // A partial change merges onto the settings in force: trace stays on.
    client.notify("workspace/didChangeConfiguration", json!({"settings": {"maxTokens": 2}}));
    assert_eq!(traces(&client), 0);
    client.inline_completion(&uri, 1, 11);
    let trace = client.wait_notification("infill/trace", |_| true);
    assert_eq!(trace["params"]["uri"], uri.as_str(), "trace is still on");
    // Helix's shape: the same flat object as initializationOptions; a typo is reported, the rest
    // applies (trace off again).
    client.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"model": tiny_model(), "threads": 1, "maxTokenz": 3, "trace": false}}),
    );
    let before = traces(&client);
    client.inline_completion(&uri, 1, 11);
    assert_eq!(traces(&client), before, "trace is off again");
    assert!(client.shown_messages().iter().any(|m| m.contains("`maxTokenz`")));
    // Zed's shape: `settings` apart from `initialization_options`, without the model keys. Those
    // keep their running values without a restart notice.
    let restart_notices =
        |c: &LspClient| c.shown_messages().iter().filter(|m| m.contains("restart")).count();
    let notices_before = restart_notices(&client);
    client.notify("workspace/didChangeConfiguration", json!({"settings": {"maxTokens": 2}}));
    let response = client.inline_completion(&uri, 1, 11);
    assert!(response.get("error").is_none(), "the model still answers: {response}");
    assert_eq!(restart_notices(&client), notices_before, "{:?}", client.shown_messages());
    // A bare ping changes nothing.
    client.notify("workspace/didChangeConfiguration", json!({"settings": null}));
    assert!(client.is_alive());
    assert!(client.shutdown().success());
}

#[test]
fn accepting_a_suggestion_runs_its_command_on_the_server() {
    let root = TempDir::new("accept");
    let uri = root.uri("a.py");
    let mut client = start(&root, json!({"maxTokens": 4}));
    client.open(&uri, "python", "def add(a, b):\n    return a");

    let response = client.inline_completion(&uri, 1, 12);
    let item = response["result"]["items"][0].clone();
    let text = item["insertText"].as_str().expect("a suggestion").to_string();
    let command = &item["command"];
    assert_eq!(command["command"], "infill.accepted", "{item}");
    assert_eq!(command["arguments"][0]["uri"], uri.as_str());
    assert_eq!(command["arguments"][0]["chars"], text.chars().count());

    // What an editor sends when the user accepts: the item's command, as it came.
    let run = client.request(
        "workspace/executeCommand",
        json!({"command": command["command"], "arguments": command["arguments"]}),
    );
    assert_eq!(run["result"], json!({"accepted": 1}), "{run}");

    let response = client.completion(&uri, 1, 12);
    let item = &response["result"]["items"][0];
    assert_eq!(item["command"]["command"], "infill.accepted", "{item}");
    let run = client.request("workspace/executeCommand", json!({"command": "infill.accepted"}));
    assert_eq!(run["result"], json!({"accepted": 2}), "{run}");

    let unknown = client.request("workspace/executeCommand", json!({"command": "rm -rf"}));
    assert!(unknown.get("error").is_some(), "{unknown}");
    assert!(client.shutdown().success());
}

#[test]
fn completion_items_suit_helix_and_zed() {
    let root = TempDir::new("items");
    let uri = root.uri("a.py");
    let mut client = start(&root, json!({"maxTokens": 6, "trace": true}));
    client.open(&uri, "python", "def add(a, b):\n    return a\n");

    let response = client.completion(&uri, 1, 12);
    let list = &response["result"];
    assert_eq!(list["isIncomplete"], true);
    let item = &list["items"][0];
    let trace = client.wait_notification("infill/trace", |_| true);
    let suggestion = trace["params"]["suggestion"].as_str().unwrap();
    // The edit replaces the word being typed ("a") with itself plus the suggestion.
    let new_text = format!("a{suggestion}");
    assert_eq!(item["textEdit"]["newText"], new_text.as_str());
    assert_eq!(
        item["textEdit"]["range"],
        json!({"start": {"line": 1, "character": 11}, "end": {"line": 1, "character": 12}})
    );
    assert_eq!(item["filterText"], new_text.as_str(), "filtered by what is typed");
    assert_eq!(item["insertTextFormat"], 1, "plain text, never a snippet");
    let label = item["label"].as_str().unwrap();
    assert!(!label.contains('\n') && !label.is_empty(), "{label:?}");
    assert!(item["detail"].as_str().unwrap().starts_with("infill"), "{item}");
    assert!(client.shutdown().success());
}

#[test]
fn an_unsure_suggestion_is_withheld_with_its_reason_in_the_trace() {
    let root = TempDir::new("confidence");
    let uri = root.uri("a.py");
    let options = json!({"trace": true, "maxTokens": 4, "prefetch": false, "warmUp": false});
    let mut client = start(&root, options);
    client.open(&uri, "python", "def f(x):\n    return ");

    // Gate off: the trace carries the shown text's confidence, three probabilities.
    client.inline_completion(&uri, 1, 11);
    let trace = client.wait_notification("infill/trace", |_| true);
    let generation = &trace["params"]["generation"];
    assert_ne!(trace["params"]["suggestion"], "", "the tiny model writes something here");
    let confidence = &generation["confidence"];
    let value = |name: &str| confidence[name].as_f64().expect("a probability");
    for name in ["first", "mean", "min"] {
        assert!((0.0..=1.0).contains(&value(name)), "{confidence}");
    }
    assert!(value("min") <= value("mean") && value("min") <= value("first"), "{confidence}");
    assert!(generation.get("withheld").is_none(), "{generation}");
    assert_eq!(trace["params"]["reason"], "model", "{trace}");

    // The strictest gate: the tiny model's guesses are never sure, so nothing is shown and the
    // trace says why.
    client.notify("workspace/didChangeConfiguration", json!({"settings": {"minConfidence": 1.0}}));
    let response = client.inline_completion(&uri, 1, 11);
    assert_eq!(response["result"]["items"], json!([]), "{response}");
    let trace = client.wait_notification("infill/trace", |_| true);
    assert_eq!(trace["params"]["suggestion"], "");
    assert_eq!(trace["params"]["generation"]["withheld"], "lowConfidence", "{trace}");
    assert_eq!(trace["params"]["reason"], "lowConfidence", "{trace}");
    let stats = client.request("infill/stats", json!(null));
    assert_eq!(stats["result"]["reasons"]["lowConfidence"], 1, "{stats}");
    assert!(client.shutdown().success());
}
