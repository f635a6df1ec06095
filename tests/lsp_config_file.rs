//! The settings files through the server: a project's `.infill.toml` and the user's
//! `config.toml` (under `$XDG_CONFIG_HOME`), read at `initialize`, with the tiny model.

mod support;

use serde_json::json;
use support::{LspClient, TempDir, tiny_model};

/// A server whose user config file is `user` (if any) and whose one workspace folder holds
/// `.infill.toml` with `project`; returns the messages shown and the model-loading end message.
fn start(user: Option<&str>, project: &str, options: serde_json::Value) -> (Vec<String>, String) {
    let dir = TempDir::new("config");
    let config = dir.path().join("config");
    if let Some(user) = user {
        std::fs::create_dir_all(config.join("infill")).unwrap();
        std::fs::write(config.join("infill/config.toml"), user).unwrap();
    }
    let root = dir.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join(".infill.toml"), project).unwrap();
    let mut client =
        LspClient::start_with_env(&[], &[("XDG_CONFIG_HOME", config.to_str().unwrap())]);
    client.initialize(&root, options, &["utf-16"]);
    let loaded = client.wait_model_loaded();
    // Settings warnings are shown right after `initialized`; a request round trip later they
    // are all in.
    client.request("infill/stats", json!(null));
    let shown = client.shown_messages();
    client.shutdown();
    (shown, loaded)
}

#[test]
fn a_project_file_cannot_choose_the_model_unless_the_user_file_allows_it() {
    let project = format!("threads = 1\nmodel = {:?}\n", tiny_model().to_str().unwrap());
    let (shown, loaded) = start(None, &project, json!({}));
    assert!(loaded.contains("not loaded"), "the project's model is not used: {loaded}");
    assert!(
        shown.iter().any(|m| m.contains(".infill.toml:2: setting `model` ignored")
            && m.contains("allowProjectModel = true")),
        "{shown:?}"
    );

    let (shown, loaded) = start(Some("allowProjectModel = true\n"), &project, json!({}));
    assert!(!loaded.contains("not loaded"), "allowed by the user: {loaded}");
    assert!(!shown.iter().any(|m| m.contains("ignored")), "{shown:?}");
}

#[test]
fn file_settings_are_checked_with_line_numbers_and_the_editor_outranks_them() {
    // The user file's model is replaced by initializationOptions' (a path that does not exist:
    // the load fails with that path, which shows whose model was taken).
    let user = format!("model = {:?}\nthreads = 1\n", tiny_model().to_str().unwrap());
    let project = "# project settings\nmaxTokenz = 3\n";
    let (shown, loaded) = start(Some(&user), project, json!({"model": "/elsewhere/m.gguf"}));
    assert!(loaded.contains("/elsewhere/m.gguf"), "{loaded}");
    assert!(
        shown.iter().any(|m| m.contains(
            ".infill.toml:2: setting `maxTokenz` ignored: no such setting; did you mean `maxTokens`?"
        )),
        "{shown:?}"
    );
    // Without the editor's, the user file's model loads.
    let (_, loaded) = start(Some(&user), project, json!({}));
    assert!(!loaded.contains("not loaded"), "{loaded}");
}
