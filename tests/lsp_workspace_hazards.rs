//! Workspace hazards through the real binary and the tiny model: what a workspace can hold
//! besides source files, named like source: a UNIX socket, a FIFO, device files (a node, and
//! links to /dev/zero and /dev/urandom), symlink loops, links out of the workspace and to
//! secrets, files deleted or replaced (by a FIFO, by a link to a secret) while open, an unreadable
//! file; and a 10,000-file tree. No hang (the walk ends, every request is answered, `exit`
//! ends the process), no secret or outside text in any prompt (read from `infill/trace`),
//! bounded memory. (The FIFO opened and closed in the editor is `lsp_bad_input.rs`'s.)

mod support;

use std::os::unix::fs::symlink;
use std::path::Path;

use serde_json::{Value, json};
use support::{LspClient, TempDir, file_uri, peak_rss_mib, tiny_model};

const OUTSIDE: &str = "OUTSIDE_MARKER";
const SECRET: &str = "SECRET_MARKER";
const LOCKED: &str = "LOCKED_MARKER";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(made.success());
}

fn assert_clean(prompt: &str, what: &str) {
    for marker in [OUTSIDE, SECRET] {
        assert!(!prompt.contains(marker), "{what}: {marker} in the prompt:\n{prompt}");
    }
}

#[test]
fn hazards_named_like_source_never_block_leak_or_crash() {
    let tmp = TempDir::new("hazards");
    let root = tmp.path().join("proj");
    let outside = tmp.path().join("outside");
    write(&outside.join("outside.py"), &format!("def outside_helper():\n    return '{OUTSIDE}'\n"));
    write(
        &outside.join("secret_lib.py"),
        &format!("def secret_helper():\n    return '{OUTSIDE}'\n"),
    );
    write(&root.join(".env"), &format!("secret_helper={SECRET}\n"));
    write(&root.join("util.py"), "def helper_total(values):\n    return sum(values)\n");
    let main = "from util import helper_total\nfrom outside import outside_helper\n\
                from settings_link import secret_helper\nfrom locked import locked_helper\n\n\
                def run(values):\n    return ";
    write(&root.join("main.py"), main);
    write(&root.join("gone.py"), "def gone_helper():\n    return 1\n");
    write(&root.join("swap_fifo.py"), "def swap_helper():\n    return 2\n");
    write(&root.join("swap_secret.py"), "def swap_secret():\n    return 3\n");

    // Named like source, not regular files.
    mkfifo(&root.join("pipe.py"));
    let _socket = std::os::unix::net::UnixListener::bind(root.join("sock.py")).expect("socket");
    symlink("/dev/zero", root.join("zero.py")).unwrap();
    symlink("/dev/urandom", root.join("urandom.py")).unwrap();
    let node = std::process::Command::new("mknod")
        .arg(root.join("null.py"))
        .args(["c", "1", "3"])
        .status();
    match node {
        Ok(status) if status.success() => {}
        other => eprintln!("skipped: a device node in the workspace (mknod: {other:?})"),
    }
    // Loops, links out, links to secrets.
    symlink(root.join("loop_b.py"), root.join("loop_a.py")).unwrap();
    symlink(root.join("loop_a.py"), root.join("loop_b.py")).unwrap();
    std::fs::create_dir_all(root.join("sub")).unwrap();
    symlink("..", root.join("sub/up")).unwrap();
    symlink(outside.join("outside.py"), root.join("outside.py")).unwrap();
    symlink(&outside, root.join("linked_dir")).unwrap();
    symlink(root.join(".env"), root.join("settings_link.py")).unwrap();
    // Unreadable (mode 000): meaningful only where that stops this process's reads; root with
    // CAP_DAC_OVERRIDE reads it all the same (then the file is ordinary source, and skipped
    // here with the reason printed).
    write(&root.join("locked.py"), &format!("def locked_helper():\n    return '{LOCKED}'\n"));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode_000 = std::fs::Permissions::from_mode(0o000);
        std::fs::set_permissions(root.join("locked.py"), mode_000).unwrap();
    }
    let unreadable = std::fs::read(root.join("locked.py")).is_err();
    if !unreadable {
        eprintln!("skipped: the unreadable-file check (this process reads mode-000 files: root)");
    }
    let mut client = LspClient::start(&[]);
    client.initialize(
        &root,
        json!({"model": tiny_model(), "threads": 1, "trace": true, "maxTokens": 2,
               "debounceMs": 0, "prefetch": false, "warmUp": false}),
        &["utf-16"],
    );
    client.wait_model_loaded();
    let status = client.request("infill/indexStatus", json!({"wait": true}));
    let walk = &status["result"]["walk"];
    assert_eq!(status["result"]["indexing"], false, "the walk ends: {status}");
    // Regular source files only: util, main, gone, swap_fifo, swap_secret, and locked when it
    // can be read.
    let expected = if unreadable { 5 } else { 6 };
    assert_eq!(walk["files"], expected, "{status}");

    let main_uri = file_uri(&root.join("main.py"));
    client.open(&main_uri, "python", main);
    let lines = main.lines().count() as u32;
    let response = client.inline_completion(&main_uri, lines - 1, 11);
    assert!(response.get("error").is_none(), "{response}");
    let trace = client.wait_notification("infill/trace", |p| p["generation"]["prompt"].is_string());
    let prompt = trace["params"]["generation"]["prompt"].as_str().unwrap().to_string();
    assert!(prompt.contains("<file_sep>util.py\n"), "the ordinary import is shown: {prompt}");
    assert_clean(&prompt, "main.py");
    if unreadable {
        assert!(!prompt.contains(LOCKED), "an unreadable file in the prompt: {prompt}");
    }

    // Each hazard opened in the editor, completed in, and closed (the index then reads the disk
    // copy back: it must refuse every one of them, without blocking).
    for name in [
        "sock.py",
        "zero.py",
        "urandom.py",
        "null.py",
        "loop_a.py",
        "outside.py",
        "linked_dir/outside.py",
        "sub/up/util.py",
        "settings_link.py",
    ] {
        let uri = file_uri(&root.join(name));
        client.open(&uri, "python", "x = ");
        let response = client.inline_completion(&uri, 0, 4);
        assert!(response.get("error").is_none(), "{name}: {response}");
        client.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}));
    }
    // And announced as created/changed files: read through the same filter.
    let events: Vec<Value> = [
        "pipe.py",
        "sock.py",
        "zero.py",
        "urandom.py",
        "null.py",
        "loop_a.py",
        "outside.py",
        "linked_dir/secret_lib.py",
        "settings_link.py",
        "locked.py",
    ]
    .iter()
    .map(|name| json!({"uri": file_uri(&root.join(name)), "type": 2}))
    .collect();
    client.notify("workspace/didChangeWatchedFiles", json!({"changes": events}));

    // Files deleted or replaced while open.
    let gone = file_uri(&root.join("gone.py"));
    let swap_fifo = file_uri(&root.join("swap_fifo.py"));
    let swap_secret = file_uri(&root.join("swap_secret.py"));
    for uri in [&gone, &swap_fifo, &swap_secret] {
        client.open(uri, "python", "def f():\n    return ");
    }
    std::fs::remove_file(root.join("gone.py")).unwrap();
    std::fs::remove_file(root.join("swap_fifo.py")).unwrap();
    mkfifo(&root.join("swap_fifo.py"));
    std::fs::remove_file(root.join("swap_secret.py")).unwrap();
    symlink(root.join(".env"), root.join("swap_secret.py")).unwrap();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": gone, "type": 3}, {"uri": swap_fifo, "type": 2},
                           {"uri": swap_secret, "type": 2}]}),
    );
    for uri in [&gone, &swap_fifo] {
        let response = client.inline_completion(uri, 1, 11);
        assert!(response.get("error").is_none(), "{uri}: {response}");
    }
    // The document now leads to a secret: not completed at all.
    let response = client.inline_completion(&swap_secret, 1, 11);
    assert_eq!(response["result"]["items"], json!([]), "{response}");
    for uri in [&gone, &swap_fifo, &swap_secret] {
        client.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}));
    }

    // Still serving, and still clean, after all of it.
    let status = client.request("infill/indexStatus", json!({}));
    assert!(status.get("error").is_none(), "{status}");
    let edited = format!("{main}helper_total(values)\n    return ");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": main_uri, "version": 2}, "contentChanges": [{"text": edited}]}),
    );
    let response = client.inline_completion(&main_uri, lines, 11);
    assert!(response.get("error").is_none(), "{response}");
    let trace = client.wait_notification("infill/trace", |p| p["generation"]["prompt"].is_string());
    let prompt = trace["params"]["generation"]["prompt"].as_str().unwrap();
    assert_clean(prompt, "main.py after the events");
    let traced_secret = client.notifications().iter().any(|n| {
        n["method"] == "infill/trace"
            && n["params"]["uri"] == json!(swap_secret)
            && n["params"]["reason"] != "secretFile"
    });
    assert!(!traced_secret, "no completion for a document that leads to a secret");
    let rest: Vec<&Value> =
        client.notifications().iter().filter(|n| n["method"] == "infill/trace").collect();
    for trace in rest {
        assert_clean(
            trace["params"]["generation"]["prompt"].as_str().unwrap_or_default(),
            "a trace",
        );
    }
    assert!(client.shutdown().success(), "exit ends the process: nothing is blocked on a file");
}

/// A 10,000-file tree is walked to the end, fits the index's memory bound, and the server
/// stays small and quick.
#[test]
fn a_ten_thousand_file_tree_is_indexed_with_bounded_memory() {
    let tmp = TempDir::new("tree");
    let root = tmp.path().join("proj");
    // 100 folders of 100 files, ~1.3 KB each: 13 MB of Python.
    let body: String = (0..24).map(|i| format!("    value_{i} = compute(item, {i})\n")).collect();
    for folder in 0..100 {
        for file in 0..100 {
            let text = format!("def handler_{folder}_{file}(item):\n{body}    return value_0\n");
            write(&root.join(format!("pkg_{folder}/mod_{file}.py")), &text);
        }
    }
    let main = "from pkg_7.mod_3 import handler_7_3\n\n\ndef run(item):\n    return ";
    write(&root.join("main.py"), main);

    let mut client = LspClient::start(&[]);
    client.initialize(
        &root,
        json!({"model": tiny_model(), "threads": 1, "trace": true, "maxTokens": 2,
               "debounceMs": 0, "prefetch": false, "warmUp": false}),
        &["utf-16"],
    );
    client.wait_model_loaded();
    let baseline = peak_rss_mib(client.pid());
    let started = std::time::Instant::now();
    let status = client.request("infill/indexStatus", json!({"wait": true}));
    let walk_s = started.elapsed().as_secs_f64();
    let walk = &status["result"]["walk"];
    let files = walk["files"].as_u64().unwrap();
    let skipped = walk["skipped"].as_u64().unwrap();
    assert_eq!(files + skipped, 10_001, "every file seen: {status}");
    assert_eq!(files, 10_001, "13 MB of text fits the index bound: {status}");

    let uri = file_uri(&root.join("main.py"));
    client.open(&uri, "python", main);
    let response = client.inline_completion(&uri, 4, 11);
    assert!(response.get("error").is_none(), "{response}");
    let trace = client.wait_notification("infill/trace", |p| p["generation"]["prompt"].is_string());
    let prompt = trace["params"]["generation"]["prompt"].as_str().unwrap();
    assert!(prompt.contains("pkg_7/mod_3.py"), "the imported file is shown: {prompt}");
    let context_ms = trace["params"]["generation"]["contextMs"].as_f64().unwrap_or_default();
    let peak = peak_rss_mib(client.pid());
    eprintln!(
        "10,001 files: walk {walk_s:.1} s, context {context_ms:.1} ms, peak RSS {baseline} MiB \
         before the walk, {peak} MiB after"
    );
    // The index holds ~2.7x the text (its own estimate is bounded at 128 MiB).
    assert!(peak - baseline < 160, "the index grew the server by {} MiB", peak - baseline);
    assert!(client.shutdown().success());
}
