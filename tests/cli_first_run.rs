//! What a new user meets first, tried as one would: `infill complete` with a wrong position, a
//! wrong model path, settings given with `--options`, and the log a server leaves behind.

mod support;

use std::process::{Command, Output};

use serde_json::{Value, json};
use support::fake_remote::{FakeServer, Vocabulary};
use support::{LspClient, TempDir, file_uri, tiny_model};

const CODE: &str = "def add(a, b):\n    return a + b\n\n\ndef main():\n    print(add(1, 2))\n";

/// `infill ARGS` with private state, cache and config folders and no `$INFILL_MODEL`.
fn infill(dir: &TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_infill"))
        .args(args)
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("HF_HOME", dir.path().join("hf"))
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env_remove("INFILL_MODEL")
        .env_remove("INFILL_LOG")
        .output()
        .expect("run infill")
}

fn project(dir: &TempDir) -> String {
    let root = dir.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    let file = root.join("main.py");
    std::fs::write(&file, CODE).unwrap();
    file.to_str().unwrap().to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_position_past_the_end_is_told_in_the_users_numbers_before_any_model_is_read() {
    let dir = TempDir::new("position");
    let file = project(&dir);
    // The model path is wrong too: the position is checked first, so that is what is reported.
    let missing = dir.path().join("missing.gguf");
    let missing = missing.to_str().unwrap();
    let output = infill(&dir, &["--model", missing, "complete", &format!("{file}:99:1")]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!("infill: line 99 is past the end of {file} (it has 6 lines)\n")
    );

    let output = infill(&dir, &["--model", missing, "complete", &format!("{file}:2:40")]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output), "infill: column 40 is past the end of line 2 (16 characters)\n");
}

#[test]
fn a_wrong_model_path_is_reported_once() {
    let dir = TempDir::new("model");
    let file = project(&dir);
    let missing = dir.path().join("missing.gguf");
    let output =
        infill(&dir, &["--model", missing.to_str().unwrap(), "complete", &format!("{file}:7:1")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr(&output);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("infill: cannot read model "), "{stderr}");
    assert!(stderr.contains("missing.gguf (from --model)"), "{stderr}");
    // The log file still has it, for a server's user who never sees stderr.
    let log = std::fs::read_to_string(dir.path().join("state/infill/infill.log")).unwrap();
    assert!(log.contains("model not loaded"), "{log}");
}

#[test]
fn options_give_any_setting_and_the_command_line_model_outranks_them() {
    let dir = TempDir::new("options");
    let file = project(&dir);
    let options = json!({
        "model": dir.path().join("not-this.gguf"),
        "threads": 1, "maxTokens": 2, "minConfidence": 0, "repoContext": false,
        "maxTokenz": 5,
    });
    let output = infill(
        &dir,
        &[
            "--model",
            tiny_model().to_str().unwrap(),
            "complete",
            &format!("{file}:7:1"),
            "--json",
            "--options",
            &options.to_string(),
        ],
    );
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    assert_eq!(report["model"].as_str(), tiny_model().to_str());
    let generated = report["generatedTokens"].as_u64().unwrap();
    assert!(generated <= 2, "maxTokens 2 from --options: {report}");
    assert_eq!(report["contextFiles"], json!([]), "repoContext false from --options: {report}");
    // A bad key costs only that key, and is named.
    assert!(stderr.contains("setting `maxTokenz` ignored"), "{stderr}");

    let output = infill(&dir, &["complete", &format!("{file}:7:1"), "--options", "[1]"]);
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(self::stderr(&output).contains("must be a JSON object"));
}

#[test]
fn a_large_log_is_rotated_when_infill_starts() {
    let dir = TempDir::new("rotate");
    let file = project(&dir);
    let logs = dir.path().join("state/infill");
    std::fs::create_dir_all(&logs).unwrap();
    let big = "x".repeat(infill::logging::ROTATE_BYTES as usize + 1);
    std::fs::write(logs.join("infill.log"), &big).unwrap();
    infill(&dir, &["complete", &format!("{file}:99:1")]);
    assert_eq!(std::fs::read_to_string(logs.join("infill.log.1")).unwrap().len(), big.len());
    let fresh = std::fs::metadata(logs.join("infill.log")).map_or(0, |m| m.len());
    assert!(fresh < 4096, "a new log was started: {fresh} bytes");
}

/// One `inlineCompletion` cancelled while it waits (a long fixed debounce keeps it waiting), on
/// a server logging at `log`; returns the server's stderr.
fn cancel_one_request(log: Option<&str>) -> String {
    let dir = TempDir::new("cancel");
    let root = dir.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    let uri = file_uri(&root.join("main.py"));
    let mut client = LspClient::start_logging(&[], &[], log);
    client.initialize(
        &root,
        json!({"model": tiny_model(), "threads": 1, "debounceMs": 60000, "prefetch": false,
               "warmUp": false}),
        &["utf-16"],
    );
    client.wait_model_loaded();
    client.open(&uri, "python", CODE);
    let id = client.send_request(
        "textDocument/inlineCompletion",
        infill::lab::lsp_client::LspClient::inline_completion_params(&uri, 6, 0),
    );
    client.cancel(id);
    let answer = client.wait_response(id);
    assert_eq!(answer["error"]["code"], -32800, "cancelled: {answer}");
    client.shutdown_for_stderr()
}

#[test]
fn cancelled_requests_are_not_logged_at_the_default_level() {
    let quiet = cancel_one_request(None);
    assert!(!quiet.contains("cancelled request"), "{quiet}");
    assert!(quiet.contains("model ready"), "the default level still logs: {quiet}");
    // The same at debug level logs the cancel: the check above is not vacuous.
    let verbose = cancel_one_request(Some("debug"));
    assert!(verbose.contains("cancelled request"), "{verbose}");
}

#[test]
fn version_names_the_commit_and_the_backends() {
    let dir = TempDir::new("version");
    let output = infill(&dir, &["--version"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with(&format!("infill {}\n", env!("CARGO_PKG_VERSION"))), "{stdout}");
    // Built from a git checkout (as here and in CI): its commit; from a tarball: "unknown".
    let head = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or("unknown".to_string(), |o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert!(stdout.contains(&format!("\ncommit: {head}\n")), "{stdout}");
    assert!(stdout.contains("llama.cpp backends: CPU"), "{stdout}");
    let short = infill(&dir, &["-V"]);
    let short = String::from_utf8_lossy(&short.stdout);
    assert_eq!(short.trim(), format!("infill {} (commit {head})", env!("CARGO_PKG_VERSION")));
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn doctor_checks_a_good_setup_end_to_end() {
    let dir = TempDir::new("doctor-good");
    let file = project(&dir);
    let model = tiny_model();
    let output = infill(&dir, &["--model", model.to_str().unwrap(), "doctor", &file]);
    let out = stdout(&output);
    assert!(output.status.success(), "{out}{}", stderr(&output));
    for line in [
        "OK       infill: ",
        "OK       settings: defaults",
        "OK       model file: ",
        "OK       workspace index: ",
        "OK       model load: starcoder2 format (FIM tokens found)",
        "OK       completion: ",
    ] {
        assert!(out.contains(line), "{line:?} missing in:\n{out}");
    }
    assert!(!out.contains("PROBLEM"), "{out}");
}

#[test]
fn doctor_names_a_missing_or_corrupt_model_with_the_fix() {
    let dir = TempDir::new("doctor-bad");
    let file = project(&dir);
    let output = infill(&dir, &["doctor", &file]);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("PROBLEM  model file: no model found"), "{out}");
    assert!(out.contains("fix: infill models pull starcoder2-3b, or --model PATH"), "{out}");

    let corrupt = dir.path().join("corrupt.gguf");
    let bytes = std::fs::read(tiny_model()).unwrap();
    std::fs::write(&corrupt, &bytes[..bytes.len() / 2]).unwrap();
    let output = infill(&dir, &["--model", corrupt.to_str().unwrap(), "doctor", &file]);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("OK       model file: "), "{out}");
    assert!(out.contains("PROBLEM  model load: ") && out.contains("fix: download"), "{out}");
}

/// A chat-only model: the tiny model with its FIM token texts renamed (same length, so the GGUF
/// layout is unchanged), as a chat/instruct GGUF without FIM tokens looks to infill.
#[test]
fn doctor_warns_about_a_model_without_fim_tokens() {
    let dir = TempDir::new("doctor-chat");
    let file = project(&dir);
    let mut bytes = std::fs::read(tiny_model()).unwrap();
    let mut renamed = 0;
    for at in 0..bytes.len().saturating_sub(5) {
        if &bytes[at..at + 5] == b"<fim_" {
            bytes[at..at + 5].copy_from_slice(b"<chat");
            renamed += 1;
        }
    }
    assert!(renamed >= 4, "the tiny model's FIM tokens were not found");
    let chat = dir.path().join("chat-only.gguf");
    std::fs::write(&chat, &bytes).unwrap();
    let output = infill(&dir, &["--model", chat.to_str().unwrap(), "doctor", &file]);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("PROBLEM  model load: ") && out.contains("fill-in-the-middle"), "{out}");
    assert!(out.contains("chat/instruct-only model"), "{out}");
}

/// `doctor --options` layers as `complete --options` does (files < --options < --model) and
/// names the layer each changed setting came from.
#[test]
fn doctor_takes_options_and_says_where_each_setting_came_from() {
    let dir = TempDir::new("doctor-options");
    let file = project(&dir);
    let user = dir.path().join("config/infill");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(user.join("config.toml"), "debounceMs = 10\nmaxTokens = 7\n").unwrap();
    std::fs::write(dir.path().join("proj/.infill.toml"), "maxTokens = 5\nmultiline = \"never\"\n")
        .unwrap();
    let options = json!({
        "model": dir.path().join("not-this.gguf"),
        "maxTokens": 2, "threads": 1, "maxTokenz": 5,
    });
    let model = tiny_model();
    let output = infill(
        &dir,
        &["--model", model.to_str().unwrap(), "doctor", &file, "--options", &options.to_string()],
    );
    let out = stdout(&output);
    for line in [
        "debounceMs = 10 (user file)",
        "multiline = \"never\" (project file)",
        "maxTokens = 2 (--options)",
        "threads = 1 (--options)",
        &format!("OK       model file: {} (from --model)", model.display()),
        "OK       completion: ",
    ] {
        assert!(out.contains(line), "{line:?} missing in:\n{out}");
    }
    // A bad key in --options is a problem of its own, with its fix; the run goes on.
    assert!(out.contains("PROBLEM  settings: setting `maxTokenz` ignored"), "{out}");
    assert!(out.contains("fix: correct that key in --options"), "{out}");
    assert_eq!(output.status.code(), Some(1), "{out}");

    let output = infill(&dir, &["doctor", &file, "--options", "[1]"]);
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(stderr(&output).contains("must be a JSON object"));
}

/// `infill doctor FILE --options OPTIONS`, its exit code and what it printed.
fn doctor_with(dir: &TempDir, file: &str, options: &Value) -> (Option<i32>, String) {
    let output = infill(dir, &["doctor", file, "--options", &options.to_string()]);
    (output.status.code(), format!("{}{}", stdout(&output), stderr(&output)))
}

/// A remote engine: the server is probed instead of a model file looked for, and the model's
/// FIM family is named with where it came from.
#[test]
fn doctor_checks_a_remote_engine_and_its_models_family() {
    let dir = TempDir::new("doctor-remote");
    let file = project(&dir);
    let server = FakeServer::on_free_port();
    let url = server.url();
    let (code, out) =
        doctor_with(&dir, &file, &json!({"engine": {"kind": "llama-server", "url": url}}));
    assert_eq!(code, Some(0), "{out}");
    for line in [
        &format!(
            "OK       remote engine: llama-server at {url} answers, model \
             /models/fake-starcoder2.gguf"
        ),
        "OK       model family: starcoder2 (from the server's vocabulary: FIM tokens found)",
        "OK       completion: ",
    ] {
        assert!(out.contains(line), "{line:?} missing in:\n{out}");
    }
    assert!(!out.contains("model file") && !out.contains("PROBLEM"), "{out}");

    // Ollama shows no vocabulary: the family comes from the name or the setting, or it is a
    // problem with the fix.
    let ollama = |model: &str| json!({"kind": "ollama", "url": url, "model": model});
    let (code, out) = doctor_with(&dir, &file, &json!({"engine": ollama("starcoder2:3b")}));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("OK       model family: starcoder2 (from the model's name;"), "{out}");
    let (code, out) = doctor_with(&dir, &file, &json!({"engine": ollama("mystery:7b")}));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("OK       remote engine: Ollama at {url} answers")), "{out}");
    assert!(
        out.contains("PROBLEM  model family: ")
            && out.contains("cannot tell the prompt format of model \"mystery:7b\""),
        "{out}"
    );
    assert!(out.contains("fix: set `family` to the model's prompt format"), "{out}");
    let options = json!({"engine": ollama("mystery:7b"), "family": "starcoder2"});
    let (code, out) = doctor_with(&dir, &file, &options);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("OK       model family: starcoder2 (from the `family` setting)"), "{out}");
}

/// A server whose model has no FIM tokens (a chat model), also with `family` forced, and a
/// server that is not there: each a problem with its own fix.
#[test]
fn doctor_warns_about_a_remote_chat_model_and_an_absent_server() {
    let dir = TempDir::new("doctor-remote-chat");
    let file = project(&dir);
    let chat = FakeServer::on_free_port_with(Vocabulary::Chat);
    let engine = json!({"kind": "llama-server", "url": chat.url()});
    let (code, out) = doctor_with(&dir, &file, &json!({"engine": engine}));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("PROBLEM  model family: ")
            && out.contains("\"/models/fake-chat.gguf\" has no fill-in-the-middle tokens"),
        "{out}"
    );
    assert!(out.contains("fix: the server runs a chat/instruct-only model"), "{out}");
    let (code, out) = doctor_with(&dir, &file, &json!({"engine": engine, "family": "starcoder2"}));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("(family `starcoder2` needs \"<fim_prefix>\")"), "{out}");
    assert!(out.contains("setting `family` cannot add the tokens"), "{out}");

    // A port with nothing listening: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let engine = json!({"kind": "llama-server", "url": format!("http://127.0.0.1:{port}")});
    let (code, out) = doctor_with(&dir, &file, &json!({"engine": engine}));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("PROBLEM  remote engine: "), "{out}");
    assert!(out.contains("fix: start the server"), "{out}");
    assert!(!out.contains("model family"), "{out}");
}
