//! A small HTTP server (std `TcpListener`, one thread per connection) that speaks
//! llama-server's, OpenAI's and Ollama's protocols with a made-up vocabulary — a code model's
//! (the starcoder2 family's FIM tokens) or a chat model's (none) — and misbehaves on demand.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// How the fake server answers generation requests (the others are always answered: the
/// engine's probe finds the server back once a fault passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ok,
    /// HTTP 500.
    Status500,
    /// 200 with text that is not the protocol.
    Garbage,
    /// No answer until the client closes the connection.
    Hang,
    /// Two pieces, then the connection closes (the server was killed).
    Killed,
    /// A whole line and the start of the next, then nothing until the client closes the
    /// connection: a long answer still being written.
    LinesThenHang,
}

/// The starcoder2 family's token spellings, ids 1…; any other text is one token per byte.
pub const SPECIAL: [&str; 7] = [
    "<fim_prefix>",
    "<fim_suffix>",
    "<fim_middle>",
    "<repo_name>",
    "<file_sep>",
    "<fim_pad>",
    "<|endoftext|>",
];

pub const ANSWER: [&str; 4] = ["fib", "(n-1)", " + fib", "(n-2)"];

/// What `Mode::LinesThenHang` writes before it hangs: one whole line and the next one's start.
pub const EARLY_LINES: [&str; 4] = ["print", "(n)", "\n", "    fib"];

#[derive(Default)]
struct Seen {
    /// Paths of the requests, in order.
    paths: Vec<String>,
    /// The body of the last generation request.
    last_body: Value,
    /// The prompt of every generation request, in order.
    prompts: Vec<Value>,
}

/// What the fake model's vocabulary has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocabulary {
    /// The starcoder2 family's tokens: a FIM code model.
    Code,
    /// No FIM tokens (only `<|endoftext|>`): a chat/instruct model.
    Chat,
    /// The code model behind vLLM's OpenAI API, as strict as vLLM: `/tokenize` takes
    /// `{"prompt"}` (llama-server's `{"content"}` is a 400) and answers `max_model_len`, so does
    /// `/v1/models`; more than 4 `stop` strings are a 400; special tokens are left out of the
    /// streamed text unless `skip_special_tokens` is false; and the model writes on past the
    /// answer (`<file_sep>junk`), as the server stops at no stop string here.
    CodeBehindVllm,
}

pub struct FakeServer {
    pub port: u16,
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Seen>>,
    /// Hanging requests whose client closed the connection.
    pub closed_by_client: Arc<AtomicUsize>,
}

impl FakeServer {
    /// A code model's server on `listener`.
    pub fn start(listener: TcpListener) -> Self {
        Self::start_with(listener, Vocabulary::Code)
    }

    pub fn start_with(listener: TcpListener, vocabulary: Vocabulary) -> Self {
        Self::serve(listener, vocabulary, None)
    }

    /// A code model's server speaking https:// with `tls_certificate`'s certificate and key
    /// (tests/fixtures/tls/, made by its make.sh), on a free port.
    pub fn start_tls(tls_certificate: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Self::serve(listener, Vocabulary::Code, Some(server_tls(tls_certificate)))
    }

    fn serve(
        listener: TcpListener,
        vocabulary: Vocabulary,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
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
                    None => serve_connection(stream, vocabulary, &mode, &seen, &closed),
                    Some(config) => {
                        let connection = rustls::ServerConnection::new(config).unwrap();
                        let stream = rustls::StreamOwned::new(connection, stream);
                        serve_connection(stream, vocabulary, &mode, &seen, &closed);
                    }
                });
            }
        });
        server
    }

    pub fn on_free_port() -> Self {
        Self::start(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    pub fn on_free_port_with(vocabulary: Vocabulary) -> Self {
        Self::start_with(TcpListener::bind("127.0.0.1:0").unwrap(), vocabulary)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn https_url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn requests_to(&self, path: &str) -> usize {
        self.seen.lock().unwrap().paths.iter().filter(|p| *p == path).count()
    }

    pub fn last_body(&self) -> Value {
        self.seen.lock().unwrap().last_body.clone()
    }

    /// The prompt of every generation request so far, in order.
    pub fn prompts(&self) -> Vec<Value> {
        self.seen.lock().unwrap().prompts.clone()
    }
}

/// One keep-alive connection: requests until the client closes it.
fn serve_connection<S: Read + Write>(
    stream: S,
    vocabulary: Vocabulary,
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
                seen.prompts.push(body["prompt"].clone());
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
            Mode::LinesThenHang => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
                let out = reader.get_mut();
                let _ = out.write_all(head.as_bytes());
                let _ = out.write_all(sse_pieces(&EARLY_LINES).as_bytes());
                let _ = out.flush();
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
            "/props" => json!({"model_path": match vocabulary {
                                   Vocabulary::Code | Vocabulary::CodeBehindVllm => {
                                       "/models/fake-starcoder2.gguf"
                                   }
                                   Vocabulary::Chat => "/models/fake-chat.gguf",
                               },
                               "default_generation_settings": {"n_ctx": 4096}}),
            "/tokenize" if vocabulary == Vocabulary::CodeBehindVllm => {
                if body.get("content").is_some() || !body["prompt"].is_string() {
                    let error = br#"{"error": {"message": "Field required: prompt"}}"#;
                    respond(reader.get_mut(), "400 Bad Request", "application/json", error);
                    continue;
                }
                let tokens = tokenize(&body, vocabulary);
                json!({"count": tokens.len(), "max_model_len": 2048, "tokens": tokens})
            }
            "/tokenize" if body["with_pieces"] == true => {
                // A byte per token; like llama-server, a piece that is not UTF-8 as its bytes.
                let pieces: Vec<Value> = tokenize(&body, vocabulary)
                    .into_iter()
                    .map(|id| match id.checked_sub(1000).and_then(|b| u8::try_from(b).ok()) {
                        Some(b) if b.is_ascii() => {
                            json!({"id": id, "piece": (b as char).to_string()})
                        }
                        Some(b) => json!({"id": id, "piece": [b]}),
                        None => json!({"id": id, "piece": SPECIAL[id as usize - 1]}),
                    })
                    .collect();
                json!({"tokens": pieces})
            }
            "/tokenize" => json!({"tokens": tokenize(&body, vocabulary)}),
            "/v1/models" if vocabulary == Vocabulary::CodeBehindVllm => {
                json!({"data": [{"id": "fake-coder", "max_model_len": 2048, "owned_by": "vllm"}]})
            }
            "/detokenize" if vocabulary == Vocabulary::CodeBehindVllm => {
                json!({"prompt": detokenize(body["tokens"].as_array().unwrap())})
            }
            "/v1/models" => json!({"data": [{"id": "fake-coder"}]}),
            "/api/show" => json!({"model_info": {"starcoder2.context_length": 4096}}),
            "/completion" => {
                // llama-server keeps a long prompt's stream open with comment lines.
                let mut events = String::from(": ping\n\n");
                // Token healing: the text the grammar makes the model write first, a token per
                // character, then the answer.
                let forced = body["grammar"].as_str().map(grammar_literal).unwrap_or_default();
                let forced: Vec<String> = forced.chars().map(String::from).collect();
                let forced: Vec<&str> = forced.iter().map(String::as_str).collect();
                events.push_str(&sse_pieces(&[&forced[..], &ANSWER[..]].concat()));
                events.push_str(&format!(
                    "data: {}\n\n",
                    json!({"content": "", "tokens": [], "stop": true, "stop_type": "eos",
                           "timings": {"cache_n": 0, "prompt_n": body["prompt"].as_array().map_or(0, Vec::len)}})
                ));
                stream_response(reader.get_mut(), "text/event-stream", &events);
                continue;
            }
            "/v1/completions" => {
                let mut events = String::from(": ping\n\n");
                // Token healing through vLLM's structured outputs: the regex's literal first.
                let forced = body["structured_outputs"]["regex"].as_str().map(regex_literal);
                let forced: Vec<String> =
                    forced.unwrap_or_default().chars().map(String::from).collect();
                let mut pieces: Vec<&str> = forced.iter().map(String::as_str).collect();
                pieces.extend(ANSWER);
                if vocabulary == Vocabulary::CodeBehindVllm {
                    if body["stop"].as_array().is_some_and(|stop| stop.len() > 4) {
                        let error = br#"{"error": {"message": "stop: at most 4 items"}}"#;
                        respond(reader.get_mut(), "400 Bad Request", "application/json", error);
                        continue;
                    }
                    let skips_special = body["skip_special_tokens"].as_bool().unwrap_or(true);
                    pieces.extend([if skips_special { "" } else { "<file_sep>" }, "junk"]);
                }
                for piece in pieces {
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
                // Ollama times the prompt: here a token per 3 bytes (infill's estimate), 10 ms
                // each, in nanoseconds.
                let tokens = body["prompt"].as_str().map_or(0, str::len) / 3;
                let last = json!({"response": "", "done": true, "done_reason": "stop",
                                  "prompt_eval_count": tokens,
                                  "prompt_eval_duration": tokens * 10_000_000});
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

pub fn tls_fixture(name: &str) -> PathBuf {
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

/// The fake vocabulary: a special spelling it has is one token when `parse_special`, else
/// bytes.
fn tokenize(body: &Value, vocabulary: Vocabulary) -> Vec<u32> {
    let text = body["content"].as_str().or(body["prompt"].as_str()).unwrap_or_default();
    let has = |s: &str| vocabulary != Vocabulary::Chat || s == "<|endoftext|>";
    if body["parse_special"].as_bool().unwrap_or(true)
        && let Some(i) = SPECIAL.iter().position(|s| *s == text && has(s))
    {
        return vec![i as u32 + 1];
    }
    text.bytes().map(|b| 1000 + u32::from(b)).collect()
}

/// The literal of infill's healing grammar, `root ::= "…" .*` (no escapes in these tests).
pub fn grammar_literal(grammar: &str) -> String {
    let literal = grammar.strip_prefix("root ::= \"").and_then(|g| g.strip_suffix("\" .*"));
    literal.expect("a healing grammar").to_string()
}

/// The literal of infill's healing regex, `…[\s\S]*` (escapes read back).
pub fn regex_literal(regex: &str) -> String {
    let literal = regex.strip_suffix("[\\s\\S]*").expect("a healing regex");
    let mut text = String::new();
    let mut chars = literal.chars();
    while let Some(c) = chars.next() {
        text.push(if c == '\\' { chars.next().expect("an escaped character") } else { c });
    }
    text
}

/// The text a prompt of fake ids spells.
pub fn detokenize(ids: &[Value]) -> String {
    let mut bytes = Vec::new();
    for id in ids.iter().map(|id| id.as_u64().unwrap() as u32) {
        match id {
            1..=7 => bytes.extend(SPECIAL[id as usize - 1].as_bytes()),
            _ => bytes.push((id - 1000) as u8),
        }
    }
    String::from_utf8(bytes).unwrap()
}
