//! Remote engines against a small HTTP server (`support::fake_remote`) that speaks
//! llama-server's, OpenAI's and Ollama's protocols with a made-up vocabulary, and misbehaves on
//! demand: HTTP 500, garbage, a hang, a stream cut short, no server at all. The LSP must stay up, say what went wrong, answer empty, and recover by
//! itself when the server behaves again. The same server over TLS (rustls, with the test
//! certificates of tests/fixtures/tls/, made by its make.sh) stands for an https:// one.

mod support;

use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use infill::config::Settings;
use infill::engine::remote::RemoteConfig;
use infill::engine::{Engine, EngineConfig, EngineError, GenerationParams, JobHandle};
use infill::prompt::FimInput;
use serde_json::{Value, json};
use support::fake_remote::{FakeServer, Mode, Vocabulary, detokenize, tls_fixture};
use support::{LspClient, TempDir};

const FILE: &str = "def fib(n):\n    if n < 2:\n        return n\n    return \n";

struct Session {
    client: LspClient,
    uri: String,
    /// The line of the `return ` to complete.
    line: u32,
    _root: TempDir,
}

/// An LSP session on `engine`, one file open, no background model calls (prefetch, warm-up):
/// every request the server sees is one the test made.
fn session(engine: Value) -> Session {
    session_with(engine, json!({}))
}

/// `session`, with more settings.
fn session_with(engine: Value, more: Value) -> Session {
    let root = TempDir::new("remoteproj");
    std::fs::write(root.path().join("fib.py"), FILE).unwrap();
    let uri = root.uri("fib.py");
    let mut client = LspClient::start(&[]);
    let mut options = json!({"engine": engine, "trace": true, "debounceMs": 0, "prefetch": false,
                             "warmUp": false});
    options.as_object_mut().unwrap().extend(more.as_object().unwrap().clone());
    client.initialize(root.path(), options, &["utf-16"]);
    client.open(&uri, "python", FILE);
    Session { client, uri, line: 3, _root: root }
}

impl Session {
    /// Asks for a completion while `server` hangs, and waits until the request has reached it;
    /// returns the request's id and the deadline (30 s) the rest of the test keeps to.
    fn ask_while_hanging(&mut self, server: &FakeServer) -> (i64, Instant) {
        server.set(Mode::Hang);
        let asked = self.client.send_request(
            "textDocument/inlineCompletion",
            infill::lab::lsp_client::LspClient::inline_completion_params(&self.uri, 3, 11),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.requests_to("/completion") == 0 {
            assert!(Instant::now() < deadline, "no /completion request");
            std::thread::yield_now();
        }
        (asked, deadline)
    }

    /// The suggestion at the `return ` line's end ("" when there is none).
    fn suggest(&mut self) -> String {
        let response = self.client.inline_completion(&self.uri, self.line, 11);
        response["result"]["items"][0]["insertText"].as_str().unwrap_or_default().to_string()
    }

    /// After the answer at `return ▮` (its trace not yet read), types `typed` there, which the
    /// answer does not start with, and asks again: only what follows the typed text comes back.
    /// Returns the first answer's prompt.
    fn type_after_an_answer(&mut self, typed: &str) -> String {
        let first = self.client.wait_notification("infill/trace", |_| true);
        let first_prompt = first["params"]["generation"]["prompt"].as_str().unwrap().to_string();
        self.client.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": self.uri, "version": 2}, "contentChanges": [{
                "range": {"start": {"line": 3, "character": 11},
                          "end": {"line": 3, "character": 11}},
                "text": typed
            }]}),
        );
        let column = 11 + typed.len() as u32;
        let response = self.client.inline_completion(&self.uri, 3, column);
        let suggestion = response["result"]["items"][0]["insertText"].as_str().unwrap_or_default();
        assert_eq!(suggestion, "fib(n-1) + fib(n-2)", "only what follows the typed text");
        first_prompt
    }

    fn wait_status(&mut self, state: &str) -> String {
        let status = self.client.wait_notification("infill/status", |p| p["state"] == state);
        status["params"]["message"].as_str().unwrap().to_string()
    }

    fn wait_shown(&mut self, part: &str) -> String {
        let shown = self.client.wait_notification("window/showMessage", |p| {
            p["message"].as_str().is_some_and(|m| m.contains(part))
        });
        shown["params"]["message"].as_str().unwrap().to_string()
    }
}

fn llama_server(url: &str, timeout_ms: u64) -> Value {
    json!({"kind": "llama-server", "url": url, "timeoutMs": timeout_ms})
}

#[test]
fn the_prompt_goes_as_infill_s_own_tokens_and_the_answer_comes_back() {
    let server = FakeServer::on_free_port();
    let mut session = session(llama_server(&server.url(), 30_000));
    let ready = session.wait_status("ready");
    assert!(ready.contains("starcoder2 format") && ready.contains("llama-server at"), "{ready}");
    assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)");

    let trace = session.client.wait_notification("infill/trace", |_| true);
    let prompt = trace["params"]["generation"]["prompt"].as_str().unwrap().to_string();
    let body = server.last_body();
    let ids = body["prompt"].as_array().expect("the prompt as token ids");
    assert_eq!(detokenize(ids), prompt, "the server got exactly the prompt infill built");
    assert!(prompt.contains("fib.py\ndef fib(n):"), "the path heads the file: {prompt}");
    assert!(prompt.contains("<fim_suffix>") && prompt.ends_with("<fim_middle>"), "{prompt}");
    assert_eq!(body["cache_prompt"], true);
    assert_eq!(body["stream"], true);
    assert_eq!(body["n_predict"], 64);
    assert_eq!(body["samplers"], json!(["top_k"]), "greedy");
    assert!(body["stop"].as_array().unwrap().contains(&json!("<fim_middle>")));
    assert!(session.client.shutdown().success());
}

#[test]
fn typing_at_the_cursor_continues_the_last_prompt_and_the_model_writes_its_end_again() {
    let server = FakeServer::on_free_port();
    let mut session = session(llama_server(&server.url(), 30_000));
    session.wait_status("ready");
    assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)");
    let first_prompt = session.type_after_an_answer("n*");
    // The last prompt with the typed text after its middle token, less the typed text's last
    // token, which the grammar makes the model write again.
    let body = server.last_body();
    let ids = body["prompt"].as_array().expect("the prompt as token ids");
    assert_eq!(detokenize(ids), format!("{first_prompt}n"));
    assert_eq!(body["grammar"], json!("root ::= \"*\" .*"));
    let trace = session.client.wait_notification("infill/trace", |_| true);
    assert_eq!(trace["params"]["generation"]["healed"], "*", "{trace}");
    assert!(session.client.shutdown().success());
}

#[test]
fn a_failing_server_is_reported_and_the_engine_recovers_by_itself() {
    let server = FakeServer::on_free_port();
    let mut session = session(llama_server(&server.url(), 30_000));
    session.wait_status("ready");
    assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)");
    let stats = |s: &mut Session| s.client.request("infill/stats", json!(null))["result"].clone();

    // Each fault: an empty answer, one message saying what happened, the error state; then
    // the server behaves again and the engine is ready by itself (probed with backoff).
    let mut version = 1;
    let faults = [
        (Mode::Status500, "HTTP 500"),
        (Mode::Garbage, "<html>surprise</html>"),
        (Mode::Killed, "ended before the server said it was complete"),
    ];
    for (mode, message) in faults {
        server.set(mode);
        // Another first line each time, so that the suggestion cache cannot answer.
        version += 1;
        session.client.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": session.uri, "version": version},
                   "contentChanges": [{"text": format!("# {mode:?}\n{FILE}")}]}),
        );
        session.line = 4;
        assert_eq!(session.suggest(), "", "{mode:?}");
        let shown = session.wait_shown(message);
        assert!(shown.contains("llama-server at"), "{shown}");
        let status = session.wait_status("error");
        assert!(status.contains("retrying"), "{status}");
        assert!(session.client.is_alive());
        server.set(Mode::Ok);
        session.wait_status("ready");
        assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)", "recovered after {mode:?}");
    }
    let after = stats(&mut session);
    assert!(after["failed"].as_u64().unwrap() >= 3, "{after}");
    assert!(session.client.shutdown().success());
}

#[test]
fn a_hanging_server_times_out_and_never_blocks_the_lsp() {
    let server = FakeServer::on_free_port();
    let mut session = session(llama_server(&server.url(), 400));
    session.wait_status("ready");
    server.set(Mode::Hang);
    let asked = session.client.send_request(
        "textDocument/inlineCompletion",
        infill::lab::lsp_client::LspClient::inline_completion_params(&session.uri, 3, 11),
    );
    let answer = session.client.wait_response(asked);
    assert!(answer["result"].is_null() || answer["result"]["items"] == json!([]), "{answer}");
    let shown = session.wait_shown("timed out");
    assert!(shown.contains("/completion"), "{shown}");
    session.wait_status("error");
    server.set(Mode::Ok);
    session.wait_status("ready");
    assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)");
    assert!(session.client.shutdown().success());
}

#[test]
fn a_cancelled_request_closes_its_stream() {
    let server = FakeServer::on_free_port();
    let mut session = session(llama_server(&server.url(), 60_000));
    session.wait_status("ready");
    // The request reached the server before it is cancelled.
    let (asked, deadline) = session.ask_while_hanging(&server);
    // While the engine waits on the server, the LSP answers other requests.
    let stats = session.client.request("infill/stats", json!(null));
    assert_eq!(stats["result"]["cancelled"], 0, "{stats}");
    session.client.cancel(asked);
    session.client.wait_response(asked);
    // The job is cancelled (after the scheduler's grace for a re-ask) and its connection
    // closed: the server sees the client go.
    while server.closed_by_client.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the stream was not closed");
        std::thread::yield_now();
    }
    // Counted once the engine has finished with the job (just after it closed the stream).
    let stats = loop {
        let stats = session.client.request("infill/stats", json!(null))["result"].clone();
        if stats["cancelled"] != 0 {
            break stats;
        }
        assert!(Instant::now() < deadline, "the job was never counted: {stats}");
    };
    assert_eq!(stats["cancelled"], 1, "{stats}");
    assert_eq!(stats["failed"], 0, "a cancel is no failure: {stats}");
    server.set(Mode::Ok);
    assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)");
    assert!(session.client.shutdown().success());
}

/// A multi-line answer still streaming past `earlyLinesAfterMs` is answered with its whole
/// lines; the stream stays open for the rest until a request elsewhere in the document
/// cancels it.
#[test]
fn a_long_answer_shows_its_whole_lines_while_the_server_writes_on() {
    let server = FakeServer::on_free_port();
    let engine = llama_server(&server.url(), 60_000);
    let mut session = session_with(engine, json!({"earlyLinesAfterMs": 1, "minConfidence": 0}));
    session.wait_status("ready");
    server.set(Mode::LinesThenHang);
    // The empty last line: a multi-line place.
    let response = session.client.inline_completion(&session.uri, 4, 0);
    let shown = response["result"]["items"][0]["insertText"].as_str().unwrap_or_default();
    assert_eq!(shown, "print(n)", "{response}");
    assert_eq!(server.closed_by_client.load(Ordering::SeqCst), 0, "the rest is on its way");

    // A request elsewhere in the document cancels the rest: its stream is closed.
    server.set(Mode::Ok);
    assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.closed_by_client.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the stream was not closed");
        std::thread::yield_now();
    }
    assert!(session.client.shutdown().success());
}

#[test]
fn an_unreachable_server_is_reported_and_used_once_it_starts() {
    // A port with nothing listening: bound, then let go.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let mut session = session(llama_server(&url, 30_000));
    let status = session.wait_status("error");
    assert!(status.contains(&url) && status.contains("retrying"), "{status}");
    assert_eq!(session.suggest(), "");
    assert!(session.client.is_alive());
    // The server starts: the engine finds it by itself.
    let server = FakeServer::start(TcpListener::bind(("127.0.0.1", port)).unwrap());
    session.wait_status("ready");
    assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)");
    assert!(server.requests_to("/props") >= 1);
    assert!(session.client.shutdown().success());
}

#[test]
fn the_openai_kind_sends_the_raw_prompt_with_stop_strings_and_no_suffix() {
    let server = FakeServer::on_free_port();
    let engine = json!({"kind": "openai", "url": format!("{}/v1", server.url()),
                        "model": "fake-coder", "apiKeyEnv": "INFILL_TEST_KEY"});
    let root = TempDir::new("remoteproj");
    let uri = root.uri("fib.py");
    let mut client = LspClient::start_with_env(&[], &[("INFILL_TEST_KEY", "sk-test-secret")]);
    let options = json!({"engine": engine, "trace": true, "debounceMs": 0, "prefetch": false,
                         "warmUp": false});
    client.initialize(root.path(), options, &["utf-16"]);
    let ready = client.wait_notification("infill/status", |p| p["state"] == "ready");
    // No family setting: found from the server's /tokenize beside /v1.
    assert!(ready["params"]["message"].as_str().unwrap().contains("starcoder2"), "{ready}");
    client.open(&uri, "python", FILE);
    let response = client.inline_completion(&uri, 3, 11);
    assert_eq!(response["result"]["items"][0]["insertText"], "fib(n-1) + fib(n-2)", "{response}");
    let trace = client.wait_notification("infill/trace", |_| true);
    let body = server.last_body();
    assert_eq!(body["prompt"], trace["params"]["generation"]["prompt"], "the raw FIM prompt");
    assert!(body.get("suffix").is_none(), "never `suffix`: {body}");
    assert_eq!(body["model"], "fake-coder");
    assert_eq!(body["stream"], true);
    assert!(body["stop"].as_array().unwrap().contains(&json!("<file_sep>")), "{body}");
    // The confidence gate had the tokens' probabilities.
    assert!(trace["params"]["generation"]["confidence"]["mean"].as_f64().unwrap() > 0.9);
    let stderr = client.shutdown_for_stderr();
    assert!(!stderr.contains("sk-test-secret"), "the key is never logged");
}

/// vLLM's API is stricter than llama-server's: its tokenizer request, its limit of 4 `stop`
/// strings, and special tokens dropped from the text unless asked for.
#[test]
fn the_openai_kind_works_with_vllm_s_rules() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = FakeServer::start_with(listener, Vocabulary::CodeBehindVllm);
    let engine = json!({"kind": "openai", "url": format!("{}/v1", server.url())});
    let mut session = session(engine);
    let ready = session.wait_status("ready");
    // The family from the vocabulary, through vLLM's /tokenize.
    assert!(ready.contains("starcoder2"), "{ready}");
    assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)", "cut where <file_sep> was written");
    let body = server.last_body();
    assert!(body["stop"].as_array().unwrap().len() <= 4, "{body}");
    assert!(body["stop"].as_array().unwrap().contains(&json!("<file_sep>")), "{body}");
    assert_eq!(body["skip_special_tokens"], false);
    // vLLM heals too (`/detokenize`, `structured_outputs`): typing at the cursor continues the
    // last prompt, less the typed text's last token, which the model writes again.
    let first_prompt = session.type_after_an_answer("n*");
    let body = server.last_body();
    assert_eq!(body["prompt"], format!("{first_prompt}n"));
    assert_eq!(body["structured_outputs"]["regex"], r"\*[\s\S]*");
    assert!(session.client.shutdown().success());
}

#[test]
fn the_ollama_kind_sends_a_raw_prompt_and_keep_alive() {
    let server = FakeServer::on_free_port();
    let engine = json!({"kind": "ollama", "url": server.url(), "model": "starcoder2:3b",
                        "keepAlive": "30m"});
    let mut session = session(engine);
    let ready = session.wait_status("ready");
    assert!(ready.contains("starcoder2 format") && ready.contains("Ollama at"), "{ready}");
    assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)");
    let trace = session.client.wait_notification("infill/trace", |_| true);
    let body = server.last_body();
    assert_eq!(body["prompt"], trace["params"]["generation"]["prompt"]);
    assert_eq!(body["raw"], true);
    assert_eq!(body["keep_alive"], "30m");
    assert_eq!(body["stream"], true);
    assert_eq!(body["options"]["num_predict"], 64);
    // No probabilities from Ollama: the confidence gate (on by default) lets it through.
    assert!(trace["params"]["generation"].get("withheld").is_none());
    assert!(session.client.shutdown().success());
}

/// Through Ollama (which takes text, keeps only its last prompt and times its prompts) a new
/// place whose whole prompt would take long is answered from the short prompt, one line, and
/// the whole prompt goes behind the answer with one token to write; asked there again, the
/// engine sends the whole prompt, which the server now holds.
#[test]
fn the_ollama_kind_answers_a_new_place_quickly_and_sends_the_whole_prompt_behind() {
    let server = FakeServer::on_free_port();
    let options = json!({"engine": {"kind": "ollama", "url": server.url(), "model": "starcoder2:3b"},
                         "quickAnswerAfterMs": 1000});
    let (settings, _) = Settings::from_json(Some(&options));
    let remote = RemoteConfig::from_settings(&settings).unwrap().unwrap();
    let params = GenerationParams::from_settings(&settings, false);
    let input = |prefix: String| FimInput {
        path: "fib.py".into(),
        prefix,
        suffix: "\n".into(),
        ..FimInput::default()
    };
    // Over 2,000 bytes before `return `: 7 s at the fake server's 100 tokens per second.
    let constants: String = (0..150).map(|i| format!("LIMIT_{i} = {i}\n")).collect();
    let hole = input(format!("{constants}\n{FILE}").trim_end().to_string() + " ");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let engine = Engine::start_remote(remote, EngineConfig::cpu(2, 4096));
        engine.wait_loaded().await;
        // The first answer times the server.
        let imports: String = (0..40).map(|i| format!("import mod{i}\n")).collect();
        engine.generate(input(imports), params, JobHandle::default()).await.expect("an answer");

        let before = engine.stats();
        let quick = engine.generate(hole.clone(), params, JobHandle::default()).await;
        let quick = quick.expect("an answer");
        assert!(quick.quick_answer, "{quick:?}");
        assert!(!quick.prompt.contains("LIMIT_3 =") && quick.prompt.contains("def fib(n):"));
        assert_eq!(quick.text, "fib(n-1) + fib(n-2)");
        assert_eq!(server.last_body()["prompt"], quick.prompt.as_str(), "the short prompt sent");
        let deadline = Instant::now() + Duration::from_secs(30);
        while engine.stats().background_calls == before.background_calls
            || engine.stats().completed < before.completed + 2
        {
            assert!(Instant::now() < deadline, "the whole prompt was never sent");
            tokio::time::sleep(Duration::from_millis(5)).await; // polling, not a timing
        }
        let filled = server.last_body();
        assert_eq!(filled["options"]["num_predict"], 1, "{filled}");
        let whole_prompt = filled["prompt"].as_str().unwrap().to_string();
        assert!(whole_prompt.contains("LIMIT_3 =") && whole_prompt.len() > 2 * quick.prompt.len());

        let whole = engine.generate(hole, params, JobHandle::default()).await.expect("an answer");
        assert!(!whole.quick_answer, "{whole:?}");
        assert_eq!(whole.prompt, whole_prompt, "the prompt the server holds");
        assert_eq!(whole.reused_tokens, whole.prompt_tokens, "held, as far as infill knows");
        engine.stop().await;
    });
}

/// The `engine` setting for the fake server over https://, trusting the test CA.
fn https_llama_server(server: &FakeServer, timeout_ms: u64) -> Value {
    json!({"kind": "llama-server", "url": server.https_url(), "timeoutMs": timeout_ms,
           "caFile": tls_fixture("ca.crt")})
}

#[test]
fn https_with_the_team_s_ca_file_works_for_llama_server_and_openai() {
    let server = FakeServer::start_tls("localhost");
    let mut session = session(https_llama_server(&server, 30_000));
    let ready = session.wait_status("ready");
    assert!(ready.contains("https://localhost"), "{ready}");
    assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)", "streamed over TLS");
    assert!(server.requests_to("/tokenize") >= 1, "JSON calls over TLS too");
    assert!(session.client.shutdown().success());

    let engine = json!({"kind": "openai", "url": format!("{}/v1", server.https_url()),
                        "model": "fake-coder", "caFile": tls_fixture("ca.crt")});
    let mut session = self::session(engine);
    session.wait_status("ready");
    assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)");
    assert_eq!(server.last_body()["model"], "fake-coder");
    assert!(session.client.shutdown().success());
}

#[test]
fn an_untrusted_certificate_is_one_clear_message_and_the_lsp_stays_up() {
    let server = FakeServer::start_tls("localhost");
    let engine = json!({"kind": "llama-server", "url": server.https_url(), "timeoutMs": 30_000});
    let mut session = session(engine);
    let shown = session.wait_shown("not trusted");
    assert!(shown.contains("localhost") && shown.contains("engine.caFile"), "{shown}");
    assert_eq!(session.suggest(), "");
    assert!(session.client.is_alive());
    assert_eq!(server.requests_to("/props"), 0, "nothing was sent before the handshake failed");
    assert!(session.client.shutdown().success());
}

#[test]
fn a_cancel_closes_a_streamed_answer_over_tls() {
    let server = FakeServer::start_tls("localhost");
    let mut session = session(https_llama_server(&server, 60_000));
    session.wait_status("ready");
    let (asked, deadline) = session.ask_while_hanging(&server);
    session.client.cancel(asked);
    session.client.wait_response(asked);
    // The server's TLS read ends (EOF or reset): the engine closed the socket.
    while server.closed_by_client.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the TLS stream was not closed");
        std::thread::yield_now();
    }
    server.set(Mode::Ok);
    assert_eq!(session.suggest(), "fib(n-1) + fib(n-2)");
    assert!(session.client.shutdown().success());
}

/// A jump 16 lines down the file keeps the first prompt's prefix start (so the server's prompt
/// cache keeps its front), unless `keepPromptFront` is off.
#[test]
fn a_remote_prompt_keeps_its_prefix_start_on_a_jump_within_the_file() {
    // Five bytes a line: the fake server's tokens are bytes.
    let text: String = (0..140).map(|i| format!("v{i:03}\n")).collect();
    let prompts = |keep: bool| -> (String, String) {
        let server = FakeServer::on_free_port();
        let root = TempDir::new("remoteproj");
        std::fs::write(root.path().join("sums.py"), &text).unwrap();
        let uri = root.uri("sums.py");
        let mut client = LspClient::start(&[]);
        let options = json!({"engine": llama_server(&server.url(), 30_000), "trace": true,
                             "debounceMs": 0, "prefetch": false, "warmUp": false,
                             "prefixTokens": 160, "suffixTokens": 16, "repoContext": false,
                             "keepPromptFront": keep});
        client.initialize(root.path(), options, &["utf-16"]);
        client.wait_notification("infill/status", |p| p["state"] == "ready");
        client.open(&uri, "python", &text);
        let mut prompt_at = |line: u32| {
            client.inline_completion(&uri, line, 4);
            let trace = client.wait_notification("infill/trace", |_| true);
            trace["params"]["generation"]["prompt"].as_str().unwrap().to_string()
        };
        let prompts = (prompt_at(100), prompt_at(116));
        assert!(client.shutdown().success());
        prompts
    };
    let first_line = |prompt: &str| {
        prompt.split("sums.py\n").nth(1).unwrap().lines().next().map(str::to_string).unwrap()
    };
    let (before, after) = prompts(true);
    assert_eq!(first_line(&after), first_line(&before), "{after}");
    let (before, after) = prompts(false);
    assert_ne!(first_line(&after), first_line(&before), "{after}");
}

/// The gate withholds an answer that cannot parse where it stands (`class fib(n-1) + …`), says
/// so in the trace and the stats, and shows it once the gate is off (`minConfidence: 0`); the
/// same answer where it parses is shown.
#[test]
fn an_answer_that_breaks_its_line_s_syntax_is_withheld_with_its_reason() {
    let server = FakeServer::on_free_port();
    let mut session = session(llama_server(&server.url(), 30_000));
    session.wait_status("ready");
    let uri = session.uri.replace("fib.py", "shapes.py");
    session.client.open(&uri, "python", "x = 1\nclass \n");
    let ask = |client: &mut LspClient, uri: &str, line: u32, column: u32| {
        let response = client.inline_completion(uri, line, column);
        let trace = client.wait_notification("infill/trace", |_| true);
        let shown = response["result"]["items"][0]["insertText"].as_str().map(str::to_string);
        (shown, trace["params"].clone())
    };

    let (shown, trace) = ask(&mut session.client, &uri, 1, 6);
    assert_eq!(shown, None, "{trace}");
    assert_eq!(trace["generation"]["withheld"], "brokenSyntax", "{trace}");
    assert_eq!(trace["generation"]["brokenSyntax"], true, "{trace}");
    assert_eq!(trace["reason"], "brokenSyntax", "{trace}");
    let stats = session.client.request("infill/stats", json!(null));
    assert_eq!(stats["result"]["reasons"]["brokenSyntax"], 1, "{stats}");

    // An untitled buffer has no extension to tell its language: its editor's `languageId` does.
    let untitled = "untitled:Untitled-1";
    session.client.open(untitled, "python", "x = 1\nclass \n");
    let (shown, trace) = ask(&mut session.client, untitled, 1, 6);
    assert_eq!(shown, None, "{trace}");
    assert_eq!(trace["reason"], "brokenSyntax", "{trace}");

    let fib = session.uri.clone();
    let (shown, trace) = ask(&mut session.client, &fib, 3, 11);
    assert_eq!(shown.as_deref(), Some("fib(n-1) + fib(n-2)"), "{trace}");
    assert!(trace["generation"].get("brokenSyntax").is_none(), "{trace}");

    let gate_off = json!({"settings": {"minConfidence": 0}});
    session.client.notify("workspace/didChangeConfiguration", gate_off);
    let (shown, trace) = ask(&mut session.client, &uri, 1, 6);
    assert_eq!(shown.as_deref(), Some("fib(n-1) + fib(n-2)"), "{trace}");
    assert_eq!(trace["generation"]["brokenSyntax"], true, "{trace}");
    assert!(trace["generation"].get("withheld").is_none(), "{trace}");
    assert!(session.client.shutdown().success());
}

/// The remote engine `engine` and a warm-up's parameters (background work, nothing to write).
fn warm_up_on(engine: Value) -> (RemoteConfig, GenerationParams) {
    let (settings, _) = Settings::from_json(Some(&json!({"engine": engine})));
    let remote = RemoteConfig::from_settings(&settings).unwrap().unwrap();
    let warm_up = GenerationParams {
        background: true,
        max_tokens: 0,
        ..GenerationParams::from_settings(&settings, false)
    };
    (remote, warm_up)
}

/// A file `name`.py of 100 numbered lines: over 1,100 prompt tokens in the fake vocabulary (a
/// token per byte).
fn numbered_lines(name: &str) -> FimInput {
    FimInput {
        path: format!("{name}.py"),
        prefix: (0..100).map(|i| format!("{name}{i:03} = {i:03}\n")).collect(),
        suffix: "\n".into(),
        ..FimInput::default()
    }
}

/// The engine on `remote`, once it has warmed up at `numbered_lines("a")`.
async fn warmed_up(remote: RemoteConfig, warm_up: GenerationParams) -> Engine {
    let engine = Engine::start_remote(remote, EngineConfig::cpu(2, 4096));
    engine.wait_loaded().await;
    let warmed = engine.generate(numbered_lines("a"), warm_up, JobHandle::default()).await;
    warmed.expect("warmed up");
    engine
}

/// Background work (a warm-up) goes to llama-server in pieces, each a request of its own for a
/// longer start of the same prompt, so that a cancel stops it between two pieces: llama-server
/// reads a closed connection only between its batches, and a prompt sent whole is one batch.
#[test]
fn background_work_goes_in_pieces_that_a_cancel_stops_between() {
    let server = FakeServer::on_free_port();
    let (remote, warm_up) = warm_up_on(json!({"kind": "llama-server", "url": server.url()}));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let engine = warmed_up(remote, warm_up).await;
        let prompts: Vec<Vec<Value>> =
            server.prompts().iter().map(|p| p.as_array().expect("ids").clone()).collect();
        let whole = prompts.last().expect("a prompt");
        assert!(prompts.len() >= 3 && whole.len() > 1100, "{} prompts", prompts.len());
        let mut last_len = 0;
        for piece in &prompts {
            assert!(whole.starts_with(piece), "each piece starts the same prompt");
            assert!(piece.len() > last_len, "each one longer");
            last_len = piece.len();
        }
        assert!(prompts[0].len() >= 256, "pieces of 256 tokens or more");

        // The server hangs on the first piece of another prompt: the cancel closes its stream,
        // and no other piece is sent.
        server.set(Mode::Hang);
        let sent = server.requests_to("/completion");
        let handle = JobHandle::default();
        let job = engine.generate(numbered_lines("b"), warm_up, handle.clone());
        let watcher = async {
            let deadline = Instant::now() + Duration::from_secs(30);
            while server.requests_to("/completion") == sent {
                assert!(Instant::now() < deadline, "nothing was sent");
                tokio::time::sleep(Duration::from_millis(5)).await; // polling, not a timing
            }
            handle.cancel();
        };
        let (result, ()) = tokio::join!(job, watcher);
        assert!(matches!(result, Err(EngineError::Cancelled)), "{result:?}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.closed_by_client.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "the stream was not closed");
            std::thread::yield_now();
        }
        assert_eq!(server.requests_to("/completion"), sent + 1, "one piece, then nothing");
        engine.stop().await;
    });
}

/// Through a text protocol (here the OpenAI API) background work goes in pieces too: each a
/// longer start of the same prompt text, cut after a line break, so that the server tokenizes
/// each piece as the start of the next.
#[test]
fn background_work_goes_in_pieces_of_whole_lines_as_text() {
    let server = FakeServer::on_free_port();
    let (remote, warm_up) =
        warm_up_on(json!({"kind": "openai", "url": format!("{}/v1", server.url())}));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let engine = warmed_up(remote, warm_up).await;
        let prompts: Vec<String> =
            server.prompts().iter().map(|p| p.as_str().expect("text").to_string()).collect();
        let (whole, pieces) = prompts.split_last().expect("a prompt");
        assert!(pieces.len() >= 2 && whole.len() > 1100, "{} prompts", prompts.len());
        let mut last_len = 0;
        for piece in pieces {
            assert!(whole.starts_with(piece.as_str()), "each piece starts the same prompt");
            assert!(piece.ends_with('\n'), "each piece ends a line: {piece:?}");
            assert!(piece.len() > last_len, "each one longer");
            last_len = piece.len();
        }
        assert_eq!(server.last_body()["max_tokens"], 1, "one token to write");
        engine.stop().await;
    });
}
