//! Chaos: a client that, for a bounded time, mixes random valid traffic (opens, incremental and
//! whole changes, closes, inline and popup completions, cancels, settings changes, watched-file
//! events on a real workspace) with invalid traffic (broken frames, bytes outside frames, bodies
//! that are not JSON or not UTF-8, lone surrogates, bad params, unknown methods, `$/` requests,
//! changes that cannot apply) against the real binary and the tiny model.
//!
//! Asserted: every request with a readable id is answered, every unreadable message gets its
//! error, the process never exits until told to, and after every round the server's copy of every
//! document equals the client's (read with the test-only `infill/debug/documentText`).
//!
//! `INFILL_CHAOS_SECONDS` bounds the traffic (default 20); `INFILL_CHAOS_SEED` replays a run
//! (the seed is printed first, so a failing run's output names it).

mod support;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{TempDir, file_uri, tiny_model};

/// How long any one answer may take before the server counts as stuck.
const PATIENCE: Duration = Duration::from_secs(60);
/// Requests in flight before the client waits for answers (an editor does not queue thousands).
const MAX_IN_FLIGHT: usize = 12;
/// Operations between two comparisons of every document.
const ROUND: usize = 40;

/// Whether a completion item (inline or popup) carries text to insert.
fn suggests(item: &Value) -> bool {
    let text = item["insertText"].as_str().or(item["textEdit"]["newText"].as_str());
    text.is_some_and(|t| !t.is_empty())
}

/// splitmix64: small, seeded, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Text an editor may hold; `LONE` stands for a lone surrogate, sent as the escape `\ud800`.
const PIECES: [&str; 14] =
    ["a", "def f():", " ", "    ", "\n", "\r\n", "é", "漢", "😀", "(", ")", "x = 1", LONE, "\t"];
const LONE: &str = "<LONE>";

fn random_text(rng: &mut Rng, max: usize) -> String {
    (0..rng.below(max + 1)).map(|_| *rng.pick(&PIECES)).collect()
}

/// The text as the server will hold it: a lone surrogate becomes U+FFFD.
fn as_held(text: &str) -> String {
    text.replace(LONE, "\u{fffd}")
}

/// A JSON string literal for `text`, with `LONE` written as the escape JavaScript writes.
fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap().replace(LONE, "\\ud800")
}

/// UTF-16 position of char `index` in `text` (`\n`, `\r\n`, `\r` break lines).
fn position(text: &[char], index: usize) -> Value {
    let (mut line, mut character, mut i) = (0, 0, 0);
    while i < index {
        match text[i] {
            '\r' if text.get(i + 1) == Some(&'\n') && i + 1 < index => {
                line += 1;
                character = 0;
                i += 2;
                continue;
            }
            '\n' | '\r' => {
                line += 1;
                character = 0;
            }
            c => character += c.len_utf16(),
        }
        i += 1;
    }
    json!({"line": line, "character": character})
}

/// A char index that has a position (not between `\r` and `\n`).
fn valid_index(text: &[char], index: usize) -> usize {
    let index = index.min(text.len());
    if index > 0 && index < text.len() && text[index - 1] == '\r' && text[index] == '\n' {
        index - 1
    } else {
        index
    }
}

#[derive(Default, Debug)]
struct Figures {
    messages_sent: usize,
    invalid_sent: usize,
    requests: usize,
    answered: usize,
    unreadable_sent: usize,
    unreadable_answered: usize,
    /// Answers that were errors, and completions that carried a suggestion.
    errors: usize,
    suggestions: usize,
    comparisons: usize,
    divergences: Vec<String>,
}

struct Chaos {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    rng: Rng,
    seed: u64,
    next_id: i64,
    /// Requests sent with a readable id and not answered yet.
    pending: HashSet<i64>,
    /// What the client holds: uri → (version, text) for open documents.
    docs: BTreeMap<String, (i32, String)>,
    uris: Vec<String>,
    root: std::path::PathBuf,
    figures: Figures,
    settings: Value,
}

impl Chaos {
    fn fail(&self, what: &str) -> ! {
        panic!(
            "chaos seed {} (INFILL_CHAOS_SEED={}): {what}; figures {:?}",
            self.seed, self.seed, self.figures
        )
    }

    fn write(&mut self, bytes: &[u8]) {
        self.figures.messages_sent += 1;
        if let Err(err) = self.stdin.write_all(bytes).and_then(|()| self.stdin.flush()) {
            let status = self.child.try_wait();
            self.fail(&format!("cannot write to the server ({err}); it exited: {status:?}"));
        }
    }

    fn send_body(&mut self, body: &str) {
        let frame = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        self.write(frame.as_bytes());
    }

    fn notify(&mut self, method: &str, params: Value) {
        let body = json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string();
        self.send_body(&body);
    }

    fn request(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        let body =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        self.send_body(&body);
        self.pending.insert(id);
        self.figures.requests += 1;
        id
    }

    /// Handles one message from the server; returns it when it answers `want`.
    fn handle(&mut self, message: Value, want: Option<i64>) -> Option<Value> {
        if message.get("method").is_some() {
            if message.get("id").is_some() {
                // A request from the server (e.g. progress): answer it as an editor would.
                let body = json!({"jsonrpc": "2.0", "id": message["id"], "result": null});
                self.send_body(&body.to_string());
            }
            return None;
        }
        match message["id"].as_i64() {
            Some(id) if self.pending.remove(&id) => {
                self.figures.answered += 1;
                self.figures.errors += usize::from(message.get("error").is_some());
                let items = message["result"]["items"].as_array().or(message["result"].as_array());
                if items.is_some_and(|items| items.iter().any(suggests)) {
                    self.figures.suggestions += 1;
                }
                (want == Some(id)).then_some(message)
            }
            Some(id) => self.fail(&format!("answer to {id}, which was not pending: {message}")),
            None if message["id"].is_null() => {
                self.figures.unreadable_answered += 1;
                None
            }
            None => self.fail(&format!("an answer with an odd id: {message}")),
        }
    }

    /// Reads what has arrived, without waiting.
    fn drain(&mut self) {
        while let Ok(message) = self.incoming.try_recv() {
            self.handle(message, None);
        }
        self.check_alive();
    }

    fn check_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.fail(&format!("the server exited with {status}"));
        }
    }

    /// Waits for the answer to `id`, handling everything else that arrives meanwhile.
    fn wait_for(&mut self, id: i64) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(message) => {
                    if let Some(answer) = self.handle(message, Some(id)) {
                        return answer;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.fail(&format!("no answer to {id} in {PATIENCE:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => self.fail("the server closed its output"),
            }
        }
    }

    /// Waits until at most `most` requests are in flight.
    fn wait_in_flight(&mut self, most: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.pending.len() > most {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(message) => {
                    self.handle(message, None);
                }
                Err(_) => {
                    let pending = self.pending.clone();
                    self.fail(&format!("requests {pending:?} unanswered for {PATIENCE:?}"));
                }
            }
        }
    }

    fn open_uris(&self) -> Vec<String> {
        self.docs.keys().cloned().collect()
    }

    fn random_open(&mut self) -> Option<(String, Vec<char>)> {
        let open = self.open_uris();
        if open.is_empty() {
            return None;
        }
        let uri = self.rng.pick(&open).clone();
        let chars = self.docs[&uri].1.chars().collect();
        Some((uri, chars))
    }

    // --- valid traffic ---

    fn did_open(&mut self) {
        let uri = self.rng.pick(&self.uris).clone();
        let text = random_text(&mut self.rng, 30);
        let version = self.rng.below(5) as i32;
        let body = format!(
            r#"{{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{{"textDocument":{{"uri":"{uri}","languageId":"python","version":{version},"text":{}}}}}}}"#,
            json_string(&text)
        );
        self.send_body(&body);
        self.docs.insert(uri, (version, as_held(&text)));
    }

    fn did_close(&mut self) {
        let Some((uri, _)) = self.random_open() else { return };
        self.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}));
        self.docs.remove(&uri);
    }

    /// A batch of 1–3 changes, each against the text the previous one left; sometimes one of
    /// them is invalid, and then the whole batch must change nothing.
    fn did_change(&mut self, invalid: bool) {
        let Some((uri, mut chars)) = self.random_open() else { return };
        let mut changes = Vec::new();
        let count = 1 + self.rng.below(3);
        let bad_at = invalid.then(|| self.rng.below(count));
        for i in 0..count {
            if bad_at == Some(i) {
                let lines = chars.iter().filter(|&&c| c == '\n').count() + 5;
                changes.push(format!(
                    r#"{{"range":{{"start":{{"line":{lines},"character":0}},"end":{{"line":{lines},"character":1}}}},"text":"bad"}}"#
                ));
                continue;
            }
            let text = random_text(&mut self.rng, 4);
            if self.rng.chance(10) {
                changes.push(format!(r#"{{"text":{}}}"#, json_string(&text)));
                chars = as_held(&text).chars().collect();
                continue;
            }
            let a = valid_index(&chars, self.rng.below(chars.len() + 1));
            let b = valid_index(&chars, a + self.rng.below(4));
            let range = json!({"start": position(&chars, a), "end": position(&chars, b)});
            changes.push(format!(r#"{{"range":{range},"text":{}}}"#, json_string(&text)));
            chars.splice(a..b, as_held(&text).chars());
        }
        let version = self.docs[&uri].0 + 1;
        let body = format!(
            r#"{{"jsonrpc":"2.0","method":"textDocument/didChange","params":{{"textDocument":{{"uri":"{uri}","version":{version}}},"contentChanges":[{}]}}}}"#,
            changes.join(",")
        );
        self.send_body(&body);
        if invalid {
            self.figures.invalid_sent += 1;
        } else {
            self.docs.insert(uri, (version, chars.into_iter().collect()));
        }
    }

    fn completion(&mut self, popup: bool) {
        let Some((uri, chars)) = self.random_open() else { return };
        let at = valid_index(&chars, self.rng.below(chars.len() + 1));
        let position = position(&chars, at);
        let id = if popup {
            self.request(
                "textDocument/completion",
                json!({"textDocument": {"uri": uri}, "position": position}),
            )
        } else {
            self.request(
                "textDocument/inlineCompletion",
                json!({"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 2}}),
            )
        };
        if self.rng.chance(30) {
            self.notify("$/cancelRequest", json!({"id": id}));
        }
    }

    fn cancel_something(&mut self) {
        let pending: Vec<i64> = self.pending.iter().copied().collect();
        let id = if pending.is_empty() { self.next_id + 1000 } else { *self.rng.pick(&pending) };
        self.notify("$/cancelRequest", json!({"id": id}));
    }

    fn settings_change(&mut self) {
        let mut settings = self.settings.clone();
        settings["maxTokens"] = json!(1 + self.rng.below(6));
        settings["debounceMs"] = json!(*self.rng.pick(&[0, 5, 20]));
        settings["prefetch"] = json!(self.rng.chance(50));
        settings["warmUp"] = json!(self.rng.chance(50));
        settings["kvShift"] = json!(self.rng.chance(30));
        settings["multiline"] = json!(*self.rng.pick(&["auto", "always", "never"]));
        if self.rng.chance(30) {
            settings["maxTokns"] = json!(3); // a typo: reported, not fatal
        }
        if self.rng.chance(20) {
            settings["temperature"] = json!("hot");
        }
        let wrapped = if self.rng.chance(50) { json!({"infill": settings}) } else { settings };
        self.notify("workspace/didChangeConfiguration", json!({"settings": wrapped}));
    }

    fn watched_file(&mut self) {
        let name = *self.rng.pick(&["util.py", "extra.py", "lib/mod.py"]);
        let path = self.root.join(name);
        let (kind, result) = if self.rng.chance(30) && path.exists() {
            (3, std::fs::remove_file(&path))
        } else {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let text = format!(
                "def helper_{}():\n    return {}\n",
                self.rng.below(100),
                as_held(&random_text(&mut self.rng, 6))
            );
            (if path.exists() { 2 } else { 1 }, std::fs::write(&path, text))
        };
        result.unwrap();
        self.notify(
            "workspace/didChangeWatchedFiles",
            json!({"changes": [{"uri": file_uri(&path), "type": kind}]}),
        );
    }

    // --- invalid traffic ---

    fn invalid(&mut self) {
        self.figures.invalid_sent += 1;
        match self.rng.below(10) {
            0 => {
                // Starting with a byte that is neither whitespace (skipped silently) nor the
                // start of a header.
                let mut garbage = vec![b'x'];
                garbage.extend((0..self.rng.below(20)).map(|_| *self.rng.pick(b"x {}\"\r\n\xff:")));
                self.write(&garbage);
                // Bytes outside a frame are reported once per run of them: a frame ends this
                // run, so that the next garbage is a run of its own.
                self.notify("chaos/afterGarbage", json!({}));
                self.figures.unreadable_sent += 1;
                self.await_unreadable();
            }
            1 => {
                self.send_body("this is not json");
                self.figures.unreadable_sent += 1;
                self.await_unreadable();
            }
            2 => {
                // Not UTF-8: answered with its id.
                let id = self.next_id;
                self.next_id += 1;
                let body = format!(
                    r#"{{"jsonrpc":"2.0","id":{id},"method":"infill/indexStatus","params":{{"x":"#
                );
                let mut bytes = body.into_bytes();
                bytes.extend_from_slice(b"\"\xff\xfe\"}}");
                let mut frame = format!("Content-Length: {}\r\n\r\n", bytes.len()).into_bytes();
                frame.extend(bytes);
                self.write(&frame);
                self.pending.insert(id);
                self.figures.requests += 1;
            }
            3 => {
                let id = self.request("textDocument/inlineCompletion", json!({"textDocument": 5}));
                let _ = id;
            }
            4 => {
                self.request("chaos/noSuchMethod", json!({}));
            }
            5 => {
                self.request("$/chaosRequest", json!({}));
            }
            6 => self.notify("chaos/noSuchNotification", json!({"x": 1})),
            7 => {
                // A request on a document that is not open, and a position past its end.
                let closed: Vec<String> =
                    self.uris.iter().filter(|u| !self.docs.contains_key(*u)).cloned().collect();
                if let Some(uri) = closed.first() {
                    let uri = uri.clone();
                    self.request("textDocument/inlineCompletion", json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}, "context": {"triggerKind": 1}}));
                } else if let Some((uri, _)) = self.random_open() {
                    self.request("textDocument/completion", json!({"textDocument": {"uri": uri}, "position": {"line": 9999, "character": 0}}));
                }
            }
            8 => {
                // A version beyond i32: the server cannot read the change and drops it (and
                // says so once); the client's text stays.
                if let Some((uri, _)) = self.random_open() {
                    self.notify("textDocument/didChange", json!({"textDocument": {"uri": uri, "version": 1u64 << 40}, "contentChanges": [{"text": "dropped"}]}));
                }
            }
            _ => self.did_change(true),
        }
    }

    /// A message the framer cannot read is answered with id null; wait for it so that the
    /// count stays exact (a run of them is reported once).
    fn await_unreadable(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while self.figures.unreadable_answered < self.figures.unreadable_sent {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(message) => {
                    self.handle(message, None);
                }
                Err(_) => self.fail("an unreadable message was not answered"),
            }
        }
    }

    /// Compares the server's copy of every document with the client's.
    fn compare(&mut self) {
        for uri in self.uris.clone() {
            let id = self.request("infill/debug/documentText", json!({"uri": uri}));
            let answer = self.wait_for(id);
            let theirs = &answer["result"];
            let ours = self.docs.get(&uri);
            self.figures.comparisons += 1;
            let same = match ours {
                None => theirs.is_null(),
                Some((version, text)) => {
                    theirs["text"] == json!(text) && theirs["version"] == json!(version)
                }
            };
            if !same {
                self.figures.divergences.push(format!("{uri}: client {ours:?}, server {theirs}"));
            }
        }
    }
}

fn start(root: &std::path::Path) -> (Child, ChildStdin, Receiver<Value>) {
    let state = root.parent().unwrap().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_infill"))
        .arg("serve")
        .env("INFILL_TEST_HOOKS", "1")
        .env("XDG_STATE_HOME", &state)
        .env("XDG_CACHE_HOME", &state)
        .env("INFILL_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start infill");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, incoming) = channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut length = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some(value) = line.strip_prefix("Content-Length: ") {
                    length = value.parse::<usize>().ok();
                }
            }
            let mut body = vec![0; length.expect("the server always sends a length")];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let message = serde_json::from_slice(&body).expect("the server always sends JSON");
            if sender.send(message).is_err() {
                return;
            }
        }
    });
    (child, stdin, incoming)
}

#[test]
fn random_valid_and_invalid_traffic_never_loses_the_session() {
    let seconds: u64 =
        std::env::var("INFILL_CHAOS_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let seed: u64 =
        std::env::var("INFILL_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as u64
        });
    eprintln!("chaos seed {seed} (rerun with INFILL_CHAOS_SEED={seed}), {seconds} s");

    let tmp = TempDir::new("chaos");
    let root = tmp.path().join("proj");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("util.py"), "def helper_total(values):\n    return sum(values)\n")
        .unwrap();
    std::fs::write(root.join("a.py"), "from util import helper_total\n").unwrap();
    let (child, stdin, incoming) = start(&root);
    let uris =
        ["a.py", "b.rs", "c.ts", "util.py"].iter().map(|n| file_uri(&root.join(n))).collect();
    let settings = json!({"model": tiny_model(), "threads": 1, "maxTokens": 3, "debounceMs": 0,
                          "trace": false});
    let mut chaos = Chaos {
        child,
        stdin,
        incoming,
        rng: Rng(seed),
        seed,
        next_id: 1,
        pending: HashSet::new(),
        docs: BTreeMap::new(),
        uris,
        root: root.clone(),
        figures: Figures::default(),
        settings: settings.clone(),
    };
    let init = chaos.request(
        "initialize",
        json!({
        "processId": null, "rootUri": file_uri(&root), "capabilities": {
            "general": {"positionEncodings": ["utf-16"]}},
        "initializationOptions": settings}),
    );
    let answer = chaos.wait_for(init);
    assert!(answer.get("error").is_none(), "{answer}");
    chaos.notify("initialized", json!({}));
    let status = chaos.request("infill/indexStatus", json!({"wait": true}));
    chaos.wait_for(status);

    let started = Instant::now();
    let mut operations = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        for _ in 0..ROUND {
            chaos.wait_in_flight(MAX_IN_FLIGHT);
            match chaos.rng.below(100) {
                0..=5 => chaos.did_open(),
                6..=8 => chaos.did_close(),
                9..=33 => chaos.did_change(false),
                34..=51 => chaos.completion(false),
                52..=59 => chaos.completion(true),
                60..=65 => chaos.cancel_something(),
                66..=69 => chaos.settings_change(),
                70..=73 => chaos.watched_file(),
                _ => chaos.invalid(),
            }
            operations += 1;
            chaos.drain();
        }
        chaos.compare();
        if !chaos.figures.divergences.is_empty() {
            let divergences = chaos.figures.divergences.join("\n");
            chaos.fail(&format!("the server's documents differ from the client's:\n{divergences}"));
        }
    }
    chaos.wait_in_flight(0);
    chaos.compare();
    let figures = std::mem::take(&mut chaos.figures);
    eprintln!(
        "chaos: {operations} operations, {} messages sent ({} invalid), {} requests, {} answered \
         ({} with an error, {} with a suggestion), {} unreadable messages answered, {} document \
         comparisons, {} divergences",
        figures.messages_sent,
        figures.invalid_sent,
        figures.requests,
        figures.answered,
        figures.errors,
        figures.suggestions,
        figures.unreadable_answered,
        figures.comparisons,
        figures.divergences.len()
    );
    assert!(figures.divergences.is_empty(), "seed {seed}: {:?}", figures.divergences);
    assert_eq!(figures.requests, figures.answered, "seed {seed}: every request is answered");
    chaos.figures = figures;

    let id = chaos.request("shutdown", Value::Null);
    chaos.wait_for(id);
    chaos.notify("exit", Value::Null);
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = chaos.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "seed {seed}: the server did not exit");
        std::thread::sleep(Duration::from_millis(10)); // polling interval, not a timing
    };
    assert!(status.success(), "seed {seed}: exit code {status}");
}
