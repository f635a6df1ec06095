//! Remote engines against a small HTTP server written here (std `TcpListener`, one thread per
//! connection) that speaks llama-server's, OpenAI's and Ollama's protocols with a made-up
//! vocabulary, and misbehaves on demand: HTTP 500, garbage, a hang, a stream cut short, no
//! server at all. The LSP must stay up, say what went wrong, answer empty, and recover by
//! itself when the server behaves again. The same server over TLS (rustls, with the test
//! certificates of tests/fixtures/tls/, made by its make.sh) stands for an https:// one.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{LspClient, TempDir};

/// How the fake server answers generation requests (the others are always answered: the
/// engine's probe finds the server back once a fault passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ok,
    /// HTTP 500.
    Status500,
    /// 200 with text that is not the protocol.
    Garbage,
    /// No answer until the client closes the connection.
    Hang,
    /// Two pieces, then the connection closes (the server was killed).
    Killed,
}

/// The starcoder2 family's token spellings, ids 1…; any other text is one token per byte.
const SPECIAL: [&str; 7] = [
    "<fim_prefix>",
    "<fim_suffix>",
    "<fim_middle>",
    "<repo_name>",
    "<file_sep>",
    "<fim_pad>",
    "<|endoftext|>",
];

const ANSWER: [&str; 4] = ["fib", "(n-1)", " + fib", "(n-2)"];

#[derive(Default)]
struct Seen {
    /// Paths of the requests, in order.
    paths: Vec<String>,
    /// The body of the last generation request.
    last_body: Value,
}

struct FakeServer {
    port: u16,
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Seen>>,
    /// Hanging requests whose client closed the connection.
    closed_by_client: Arc<AtomicUsize>,
}

impl FakeServer {
    fn start(listener: TcpListener) -> Self {
        Self::serve(listener, None)
    }

    /// Serves https:// with `tls_certificate`'s certificate and key (tests/fixtures/tls/).
    fn start_tls(tls_certificate: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Self::serve(listener, Some(server_tls(tls_certificate)))
    }

    fn serve(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let port = listener.local_addr().unwrap().port();
        let server = Self {
            port,
            mode: Arc::new(Mutex::new(Mode::Ok)),
            seen: Arc::default(),
            closed_by_client: Arc::default(),
        };
        let (mode, seen, closed) =
            (server.mode.clone(), server.seen.clone(), server.closed_by_client.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (mode, seen, closed) = (mode.clone(), seen.clone(), closed.clone());
                let tls = tls.clone();
                std::thread::spawn(move || match tls {
                    None => serve_connection(stream, &mode, &seen, &closed),
                    Some(config) => {
                        let connection = rustls::ServerConnection::new(config).unwrap();
                        let stream = rustls::StreamOwned::new(connection, stream);
                        serve_connection(stream, &mode, &seen, &closed);
                    }
                });
            }
        });
        server
    }

    fn https_url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    fn on_free_port() -> Self {
        Self::start(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn requests_to(&self, path: &str) -> usize {
        self.seen.lock().unwrap().paths.iter().filter(|p| *p == path).count()
    }

    fn last_body(&self) -> Value {
        self.seen.lock().unwrap().last_body.clone()
    }
}

/// One keep-alive connection: requests until the client closes it.
fn serve_connection<S: Read + Write>(
    stream: S,
    mode: &Mutex<Mode>,
    seen: &Mutex<Seen>,
    closed: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let generation = ["/completion", "/v1/completions", "/api/generate"].contains(&&*path);
        {
            let mut seen = seen.lock().unwrap();
            seen.paths.push(path.clone());
            if generation {
                seen.last_body = body.clone();
            }
        }
        let mode = if generation { *mode.lock().unwrap() } else { Mode::Ok };
        match mode {
            Mode::Ok => {}
            Mode::Status500 => {
                respond(reader.get_mut(), "500 Internal Server Error", "text/plain", b"boom");
                continue;
            }
            Mode::Garbage => {
                respond(reader.get_mut(), "200 OK", "application/json", b"<html>surprise</html>\n");
                continue;
            }
            Mode::Hang => {
                // Until the client gives up and closes the connection.
                let mut byte = [0u8; 1];
                while reader.read(&mut byte).is_ok_and(|n| n > 0) {}
                closed.fetch_add(1, Ordering::SeqCst);
                return;
            }
            Mode::Killed => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
                let out = reader.get_mut();
                let _ = out.write_all(head.as_bytes());
                let _ = out.write_all(sse_pieces(&ANSWER[..2]).as_bytes());
                let _ = out.flush();
                return;
            }
        }
        let answer = match path.as_str() {
            "/props" => json!({"model_path": "/models/fake-starcoder2.gguf",
                               "default_generation_settings": {"n_ctx": 4096}}),
            "/tokenize" => json!({"tokens": tokenize(&body)}),
            "/v1/models" => json!({"data": [{"id": "fake-coder"}]}),
            "/api/show" => json!({"model_info": {"starcoder2.context_length": 4096}}),
            "/completion" => {
                let mut events = sse_pieces(&ANSWER);
                events.push_str(&format!(
                    "data: {}\n\n",
                    json!({"content": "", "tokens": [], "stop": true, "stop_type": "eos",
                           "timings": {"cache_n": 0, "prompt_n": body["prompt"].as_array().map_or(0, Vec::len)}})
                ));
                stream_response(reader.get_mut(), "text/event-stream", &events);
                continue;
            }
            "/v1/completions" => {
                let mut events = String::new();
                for piece in ANSWER {
                    let choice = json!({"text": piece, "finish_reason": null,
                        "logprobs": {"tokens": [piece], "token_logprobs": [-0.01]}});
                    events.push_str(&format!("data: {}\n\n", json!({"choices": [choice]})));
                }
                let last = json!({"choices": [{"text": "", "finish_reason": "stop"}]});
                events.push_str(&format!("data: {last}\n\ndata: [DONE]\n\n"));
                stream_response(reader.get_mut(), "text/event-stream", &events);
                continue;
            }
            "/api/generate" => {
                let mut lines = String::new();
                for piece in ANSWER {
                    lines.push_str(&format!("{}\n", json!({"response": piece, "done": false})));
                }
                let last = json!({"response": "", "done": true, "done_reason": "stop"});
                lines.push_str(&format!("{last}\n"));
                stream_response(reader.get_mut(), "application/x-ndjson", &lines);
                continue;
            }
            _ => {
                respond(reader.get_mut(), "404 Not Found", "text/plain", b"no such endpoint");
                continue;
            }
        };
        respond(reader.get_mut(), "200 OK", "application/json", answer.to_string().as_bytes());
    }
}

fn sse_pieces(pieces: &[&str]) -> String {
    let mut events = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        let probability = json!([{"id": 2000 + i, "bytes": piece.as_bytes(), "logprob": -0.01}]);
        let event = json!({"content": piece, "tokens": [2000 + i], "stop": false,
                           "completion_probabilities": probability});
        events.push_str(&format!("data: {event}\n\n"));
    }
    events
}

fn respond(out: &mut impl Write, status: &str, content_type: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(body);
    let _ = out.flush();
}

/// A streamed answer, chunked as llama-server sends it.
fn stream_response(out: &mut impl Write, content_type: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let _ = out.write_all(head.as_bytes());
    for line in body.split_inclusive('\n') {
        let _ = write!(out, "{:x}\r\n{line}\r\n", line.len());
    }
    let _ = out.write_all(b"0\r\n\r\n");
    let _ = out.flush();
}

fn tls_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

/// The fake server's TLS side: `name`.crt and `name`.key, signed by the test CA (ca.crt).
fn server_tls(name: &str) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(tls_fixture(&format!("{name}.crt")))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_fixture(&format!("{name}.key"))).unwrap();
    #[allow(deprecated)] // ring, as infill itself uses (no aws-lc build)
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

/// The fake vocabulary: a special spelling is one token when `parse_special`, else bytes.
fn tokenize(body: &Value) -> Vec<u32> {
    let text = body["content"].as_str().unwrap_or_default();
    if body["parse_special"].as_bool().unwrap_or(true)
        && let Some(i) = SPECIAL.iter().position(|s| *s == text)
    {
        return vec![i as u32 + 1];
    }
    text.bytes().map(|b| 1000 + u32::from(b)).collect()
}

/// The text a prompt of fake ids spells.
fn detokenize(ids: &[Value]) -> String {
    let mut bytes = Vec::new();
    for id in ids.iter().map(|id| id.as_u64().unwrap() as u32) {
        match id {
            1..=7 => bytes.extend(SPECIAL[id as usize - 1].as_bytes()),
            _ => bytes.push((id - 1000) as u8),
        }
    }
    String::from_utf8(bytes).unwrap()
}

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
    let root = TempDir::new("remoteproj");
    std::fs::write(root.path().join("fib.py"), FILE).unwrap();
    let uri = root.uri("fib.py");
    let mut client = LspClient::start(&[]);
    let options = json!({"engine": engine, "trace": true, "debounceMs": 0, "prefetch": false,
                         "warmUp": false});
    client.initialize(root.path(), options, &["utf-16"]);
    client.open(&uri, "python", FILE);
    Session { client, uri, line: 3, _root: root }
}

impl Session {
    /// The suggestion at the `return ` line's end ("" when there is none).
    fn suggest(&mut self) -> String {
        let response = self.client.inline_completion(&self.uri, self.line, 11);
        response["result"]["items"][0]["insertText"].as_str().unwrap_or_default().to_string()
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
    server.set(Mode::Hang);
    let asked = session.client.send_request(
        "textDocument/inlineCompletion",
        infill::lab::lsp_client::LspClient::inline_completion_params(&session.uri, 3, 11),
    );
    // The request reached the server before it is cancelled.
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.requests_to("/completion") == 0 {
        assert!(Instant::now() < deadline, "no /completion request");
        std::thread::yield_now();
    }
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
    server.set(Mode::Hang);
    let asked = session.client.send_request(
        "textDocument/inlineCompletion",
        infill::lab::lsp_client::LspClient::inline_completion_params(&session.uri, 3, 11),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.requests_to("/completion") == 0 {
        assert!(Instant::now() < deadline, "no /completion request");
        std::thread::yield_now();
    }
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
