//! The stdio transport in front of `tower-lsp-server`: it frames what the editor sends, so that
//! no byte can end the session.
//!
//! The crate's own framing answers one undecodable message and then stops reading (the process
//! exits): a body that is not JSON, invalid UTF-8, a missing or wrong `Content-Length`, or a
//! string holding a lone UTF-16 surrogate escape (`"\ud800"`, which JavaScript's
//! `JSON.stringify` writes for such a string) — one odd character in a buffer. So the editor's
//! bytes go through `Framer` first, and only well-formed messages reach the crate:
//!
//! - a lone surrogate escape becomes `\ufffd` (one UTF-16 unit, so positions stay right);
//! - an undecodable message is answered with a JSON-RPC error (its `id` when it can be read,
//!   else `null`) and skipped; the framer finds the next header and goes on;
//! - a request whose method starts with `$/` is answered with MethodNotFound (the crate drops
//!   those without an answer, and the client would wait forever).
//!
//! Our own answers and the crate's output share stdout: `write_client` copies the crate's frames
//! whole and puts ours between them, never inside one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
/// A header section longer than this is not one: skip to the next header.
const MAX_HEADER_BYTES: usize = 8 * 1024;
const HEADER_NAME: &[u8] = b"content-length:";

/// What the framer found at the front of the buffer.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A well-formed message: its body, to hand on, and the fields the transport looks at.
    Message { body: Vec<u8>, id: Option<Value>, method: Option<String> },
    /// Something that is not a message; answered with this error and skipped.
    Bad { id: Option<Value>, code: i64, reason: String },
}

/// The two fields of a message the transport looks at. Reading only these (the rest is
/// skipped, though still checked to be JSON) keeps a large `didOpen` text from being copied
/// into a tree the crate would build again.
#[derive(Deserialize)]
struct Probe {
    /// `Some(Null)` for `"id": null`: present, so the message is answered as a request.
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    #[serde(default)]
    method: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(value).map(Some)
}

/// Splits the editor's byte stream into frames. Pure: no I/O, so every odd input can be tested.
#[derive(Default)]
pub struct Framer {
    buffer: Vec<u8>,
    /// Skipping bytes that are not a message: they were reported once already.
    skipping: bool,
    /// Bytes pushed since `next_frame` last asked for more: only they can hold a header that
    /// was not there before (a large body arrives in many pieces; each is looked at once).
    fresh: usize,
}

const HEADER_NAMES: [&[u8]; 2] = [HEADER_NAME, b"content-type:"];

impl Framer {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
        self.fresh += bytes.len();
    }

    /// The next frame, or `None` until more bytes arrive.
    pub fn next_frame(&mut self) -> Option<Frame> {
        let frame = self.find_frame();
        if frame.is_none() {
            self.fresh = 0;
        }
        frame
    }

    fn find_frame(&mut self) -> Option<Frame> {
        loop {
            let start = self.buffer.iter().position(|b| !b.is_ascii_whitespace())?;
            self.buffer.drain(..start);
            let at_header = HEADER_NAMES.iter().any(|n| starts_with_ignore_case(&self.buffer, n));
            if !at_header {
                if could_become_header(&self.buffer) {
                    return None; // a header still arriving
                }
                // Bytes that cannot start a header: skip to the next one.
                match self.skip_to_next_header(1, "bytes outside a message") {
                    Some(bad) => return Some(bad),
                    None => continue,
                }
            }
            let Some(header_end) = find(&self.buffer, b"\r\n\r\n") else {
                if self.buffer.len() > MAX_HEADER_BYTES {
                    match self.skip_to_next_header(1, "a header section without an end") {
                        Some(bad) => return Some(bad),
                        None => continue,
                    }
                }
                return None;
            };
            let body_start = header_end + 4;
            let available = self.buffer.len() - body_start;
            let body_len = match content_length(&self.buffer[..header_end]) {
                Some(length) if available >= length => {
                    // A length too long takes in (the start of) the next header: the body ends
                    // with its value.
                    value_then_header(&self.buffer[body_start..body_start + length])
                        .unwrap_or(length)
                }
                // Not all there yet: wait, unless a whole value is there with the next header
                // after it (a length too long, and the client waits for the answer).
                Some(_) => {
                    let fresh_from =
                        self.buffer.len().saturating_sub(self.fresh + HEADER_NAME.len());
                    if !contains_header_name(&self.buffer[fresh_from.max(body_start)..]) {
                        return None;
                    }
                    value_before_header(&self.buffer[body_start..])?
                }
                // No usable length: the body is the JSON value that follows, once complete.
                None => match value_extent(&self.buffer[body_start..]) {
                    Extent::Complete(end) => end,
                    Extent::Incomplete => return None,
                    Extent::Invalid => match self.skip_to_next_header(body_start, "no length") {
                        Some(bad) => return Some(bad),
                        None => continue,
                    },
                },
            };
            return Some(self.take_body(body_start, body_len));
        }
    }

    /// Removes the frame whose body is `buffer[body_start..body_start + len]` and reads it.
    fn take_body(&mut self, body_start: usize, len: usize) -> Frame {
        self.skipping = false;
        let mut body: Vec<u8> = self.buffer.drain(..body_start + len).skip(body_start).collect();
        replace_lone_surrogates(&mut body);
        read_body(body)
    }

    /// Drops everything before the next header at or after `from`, keeping a
    /// tail that may be the start of one still arriving. Reports the first skip of a run.
    fn skip_to_next_header(&mut self, from: usize, reason: &str) -> Option<Frame> {
        let from = from.min(self.buffer.len());
        let next = (from..self.buffer.len())
            .find(|&i| HEADER_NAMES.iter().any(|n| starts_with_ignore_case(&self.buffer[i..], n)))
            .unwrap_or_else(|| {
                (from..self.buffer.len())
                    .find(|&i| could_become_header(&self.buffer[i..]))
                    .unwrap_or(self.buffer.len())
            });
        self.buffer.drain(..next);
        let first = !std::mem::replace(&mut self.skipping, true);
        first.then(|| Frame::Bad {
            id: None,
            code: PARSE_ERROR,
            reason: format!("unreadable message: {reason}"),
        })
    }
}

/// Whether `bytes` (shorter than a header name) may be the start of one.
fn could_become_header(bytes: &[u8]) -> bool {
    HEADER_NAMES
        .iter()
        .any(|name| bytes.len() < name.len() && name[..bytes.len()].eq_ignore_ascii_case(bytes))
}

/// Reads a complete body: a JSON-RPC message, or what is wrong with it.
fn read_body(body: Vec<u8>) -> Frame {
    let Ok(text) = std::str::from_utf8(&body) else {
        // Answer the request if its id can still be read.
        let lossy = String::from_utf8_lossy(&body);
        let id = serde_json::from_str::<Probe>(&lossy).ok().and_then(|p| p.id);
        return Frame::Bad { id, code: PARSE_ERROR, reason: "message is not valid UTF-8".into() };
    };
    // A struct would also read a JSON array (by position): only an object is a message.
    let parsed = if text.trim_start().starts_with('{') {
        serde_json::from_str::<Probe>(text)
    } else {
        serde_json::from_str::<serde::de::IgnoredAny>(text).and_then(|_| {
            Err(serde::de::Error::invalid_type(
                serde::de::Unexpected::Other("not an object"),
                &"a JSON object",
            ))
        })
    };
    match parsed {
        Ok(Probe { id, method }) => {
            let method = method.as_ref().and_then(Value::as_str).map(str::to_string);
            Frame::Message { body, id, method }
        }
        // Well-formed JSON of another shape than an object.
        Err(err) if err.is_data() => Frame::Bad {
            id: None,
            code: INVALID_REQUEST,
            reason: "a message must be a JSON object".into(),
        },
        Err(err) => Frame::Bad {
            id: None,
            code: PARSE_ERROR,
            reason: format!("message is not JSON: {err}"),
        },
    }
}

/// The `Content-Length` of a header section, if it has one that is a number.
fn content_length(headers: &[u8]) -> Option<usize> {
    let headers = std::str::from_utf8(headers).ok()?;
    headers.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
    })
}

enum Extent {
    /// A whole JSON value ends at this offset.
    Complete(usize),
    /// The value has not ended yet.
    Incomplete,
    /// Not JSON.
    Invalid,
}

fn value_extent(bytes: &[u8]) -> Extent {
    let mut values =
        serde_json::Deserializer::from_slice(bytes).into_iter::<serde::de::IgnoredAny>();
    match values.next() {
        Some(Ok(_)) => Extent::Complete(values.byte_offset()),
        Some(Err(err)) if err.is_eof() => Extent::Incomplete,
        None => Extent::Incomplete,
        Some(Err(_)) => Extent::Invalid,
    }
}

/// Where the JSON value at the start of `bytes` ends, when it is complete.
fn first_value_end(bytes: &[u8]) -> Option<usize> {
    match value_extent(bytes) {
        Extent::Complete(end) => Some(end),
        _ => None,
    }
}

/// Where the JSON value at the start of `bytes` ends, when it is whole and the next header
/// follows it: the sign of a `Content-Length` too long.
fn value_before_header(bytes: &[u8]) -> Option<usize> {
    first_value_end(bytes).filter(|&end| starts_a_header(&bytes[end..]))
}

/// Where the JSON value at the start of `bytes` ends, when what follows it in `bytes` is not
/// whitespace but the start of a header (whole or cut short): the sign of a `Content-Length` too
/// long, which took in the next message's first bytes. A body that is one JSON value (and maybe
/// whitespace) is never cut.
fn value_then_header(bytes: &[u8]) -> Option<usize> {
    first_value_end(bytes).filter(|&end| {
        let rest = &bytes[end..];
        let start = rest.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(rest.len());
        let rest = &rest[start..];
        !rest.is_empty()
            && (HEADER_NAMES.iter().any(|name| starts_with_ignore_case(rest, name))
                || could_become_header(rest))
    })
}

fn contains_header_name(bytes: &[u8]) -> bool {
    bytes.windows(HEADER_NAME.len()).any(|w| w.eq_ignore_ascii_case(HEADER_NAME))
}

/// Whether `bytes`, past whitespace, start a `Content-Length` header.
fn starts_a_header(bytes: &[u8]) -> bool {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    starts_with_ignore_case(&bytes[start..], HEADER_NAME)
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Rewrites each `\uXXXX` escape of an unpaired UTF-16 surrogate as `\ufffd`, in place (the
/// same six bytes). A high surrogate followed by a low one is a character and stays.
fn replace_lone_surrogates(body: &mut [u8]) {
    let escape_at = |body: &[u8], i: usize| -> Option<u16> {
        let hex = body.get(i..i + 6)?;
        if &hex[..2] != b"\\u" {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
    };
    let is_high = |u: u16| (0xD800..0xDC00).contains(&u);
    let is_low = |u: u16| (0xDC00..0xE000).contains(&u);
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'\\' {
            i += 1;
            continue;
        }
        match escape_at(body, i) {
            Some(unit) if is_high(unit) && escape_at(body, i + 6).is_some_and(is_low) => i += 12,
            Some(unit) if is_high(unit) || is_low(unit) => {
                body[i..i + 6].copy_from_slice(b"\\ufffd");
                i += 6;
            }
            Some(_) => i += 6,
            // Any other escape is two bytes (`\\`, `\"`, `\n`, …): skipping both keeps an
            // escaped backslash from starting a false `\u`.
            None => i += 2,
        }
    }
}

/// Reads the editor's bytes from `input`, hands well-formed messages to the crate through
/// `server`, and answers the rest through `answers`. Returns when `input` ends or the crate
/// stops reading (after `exit`). `shutdown_seen` is set when a `shutdown` request passes.
pub async fn read_client(
    mut input: impl AsyncRead + Unpin,
    mut server: impl AsyncWrite + Unpin,
    answers: mpsc::UnboundedSender<Value>,
    shutdown_seen: Arc<AtomicBool>,
) {
    let mut framer = Framer::default();
    let mut chunk = vec![0u8; 64 * 1024];
    // Methods whose unreadable notifications the user was told about (once each).
    let mut warned = std::collections::HashSet::new();
    loop {
        while let Some(frame) = framer.next_frame() {
            let message = match frame {
                Frame::Bad { id, code, reason } => {
                    tracing::warn!(%reason, "skipped a message from the client");
                    let _ = answers.send(error_response(id, code, &reason));
                    continue;
                }
                Frame::Message { id: Some(id), method: Some(method), .. }
                    if method.starts_with("$/") =>
                {
                    let reason = format!("unknown method: {method}");
                    let _ = answers.send(error_response(Some(id), METHOD_NOT_FOUND, &reason));
                    continue;
                }
                Frame::Message { body, id, method } => {
                    if method.as_deref() == Some("shutdown") {
                        shutdown_seen.store(true, Ordering::Release);
                    }
                    if id.is_none()
                        && let Some(method) = &method
                        && let Some(problem) = unreadable_notification(method, &body)
                        && warned.insert(method.clone())
                    {
                        // The crate drops such a notification with a log line only; the
                        // user must know their edits may not have reached the server.
                        tracing::warn!(%method, %problem, "notification with unreadable params");
                        let message = format!(
                            "infill: a `{method}` notification could not be read and was \
                             ignored ({problem}); if suggestions look wrong, reopen the file"
                        );
                        let _ = answers
                            .send(json!({"jsonrpc": "2.0", "method": "window/showMessage",
                            "params": {"type": 2, "message": message}}));
                    }
                    body
                }
            };
            let header = format!("Content-Length: {}\r\n\r\n", message.len());
            let sent = async {
                server.write_all(header.as_bytes()).await?;
                server.write_all(&message).await?;
                server.flush().await
            };
            if sent.await.is_err() {
                return; // the crate has stopped reading: the session is over
            }
        }
        match input.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => framer.push(&chunk[..n]),
        }
    }
}

/// Why the params of a notification the server handles cannot be read (the crate would drop
/// it silently), or `None` when they can, or the method is not one of those.
fn unreadable_notification(method: &str, body: &[u8]) -> Option<String> {
    use tower_lsp_server::gen_lsp_types as lsp;
    fn check<P: serde::de::DeserializeOwned>(body: &[u8]) -> Option<String> {
        #[derive(Deserialize)]
        struct Notification<P> {
            params: P,
        }
        match serde_json::from_slice::<Notification<P>>(body) {
            Ok(notification) => {
                drop(notification.params);
                None
            }
            Err(err) => Some(err.to_string()),
        }
    }
    match method {
        "textDocument/didOpen" => check::<lsp::DidOpenTextDocumentParams>(body),
        "textDocument/didChange" => check::<lsp::DidChangeTextDocumentParams>(body),
        "textDocument/didClose" => check::<lsp::DidCloseTextDocumentParams>(body),
        "textDocument/didSave" => check::<lsp::DidSaveTextDocumentParams>(body),
        _ => None,
    }
}

fn error_response(id: Option<Value>, code: i64, reason: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id.unwrap_or(Value::Null), "error": {"code": code, "message": reason}})
}

/// Copies the crate's frames from `server` to `output` whole, with the transport's own answers
/// between them. Returns once the crate's output has ended, after the answers still queued.
pub async fn write_client(
    mut server: impl AsyncRead + Unpin,
    mut answers: mpsc::UnboundedReceiver<Value>,
    mut output: impl AsyncWrite + Unpin,
) {
    let mut pending = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut answers_open = true;
    loop {
        // The crate's frames are well-formed: write each one as soon as it is whole.
        while let Some(frame_len) = whole_frame_len(&pending) {
            let frame: Vec<u8> = pending.drain(..frame_len).collect();
            if write_frame(&mut output, &frame).await.is_err() {
                return;
            }
        }
        tokio::select! {
            read = server.read(&mut chunk) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => pending.extend_from_slice(&chunk[..n]),
            },
            answer = answers.recv(), if answers_open => match answer {
                Some(answer) => {
                    if write_frame(&mut output, &frame_of(&answer)).await.is_err() {
                        return;
                    }
                }
                None => answers_open = false,
            },
        }
    }
    while let Ok(answer) = answers.try_recv() {
        let _ = write_frame(&mut output, &frame_of(&answer)).await;
    }
}

fn frame_of(message: &Value) -> Vec<u8> {
    let body = message.to_string();
    format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

async fn write_frame(output: &mut (impl AsyncWrite + Unpin), frame: &[u8]) -> std::io::Result<()> {
    output.write_all(frame).await?;
    output.flush().await
}

/// The length of the first frame in `bytes` when it is all there.
fn whole_frame_len(bytes: &[u8]) -> Option<usize> {
    let header_end = find(bytes, b"\r\n\r\n")?;
    let length = content_length(&bytes[..header_end])?;
    let total = header_end + 4 + length;
    (bytes.len() >= total).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(body: &str) -> Vec<u8> {
        format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    /// Every frame the framer finds in `bytes`, fed in pieces of `step` bytes.
    fn frames(bytes: &[u8], step: usize) -> Vec<Frame> {
        let mut framer = Framer::default();
        let mut found = Vec::new();
        for piece in bytes.chunks(step) {
            framer.push(piece);
            while let Some(frame) = framer.next_frame() {
                found.push(frame);
            }
        }
        found
    }

    fn methods(frames: &[Frame]) -> Vec<String> {
        frames
            .iter()
            .map(|f| match f {
                Frame::Message { method, .. } => method.clone().unwrap_or_default(),
                Frame::Bad { code, .. } => format!("error {code}"),
            })
            .collect()
    }

    const A: &str = r#"{"jsonrpc":"2.0","method":"a"}"#;
    const B: &str = r#"{"jsonrpc":"2.0","id":7,"method":"b"}"#;

    #[test]
    fn good_frames_come_out_whole_however_they_are_split() {
        let mut bytes = framed(A);
        bytes.extend(framed(B));
        for step in [1, 3, 7, bytes.len()] {
            let found = frames(&bytes, step);
            assert_eq!(methods(&found), ["a", "b"], "step {step}");
            assert_eq!(
                found[1],
                Frame::Message {
                    body: B.as_bytes().to_vec(),
                    id: Some(json!(7)),
                    method: Some("b".into())
                }
            );
        }
        let typed = format!("Content-Length: {}\r\nContent-Type: x\r\n\r\n{A}", A.len());
        assert_eq!(methods(&frames(typed.as_bytes(), 5)), ["a"]);
    }

    #[test]
    fn a_body_that_is_not_json_or_not_an_object_is_answered_and_skipped() {
        let mut bytes = framed("hello world");
        bytes.extend(framed("[1, 2]"));
        bytes.extend(framed(A));
        let found = frames(&bytes, 4);
        assert_eq!(methods(&found), ["error -32700", "error -32600", "a"]);
    }

    #[test]
    fn invalid_utf8_is_answered_with_the_id_when_it_can_be_read() {
        let body = b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"x\",\"params\":\"\xff\xfe\"}";
        let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        bytes.extend_from_slice(body);
        bytes.extend(framed(A));
        let found = frames(&bytes, 1000);
        assert!(
            matches!(&found[0], Frame::Bad { id: Some(id), code: PARSE_ERROR, .. } if id == &json!(3))
        );
        assert_eq!(methods(&found[1..]), ["a"]);
    }

    #[test]
    fn missing_bad_or_wrong_lengths_lose_at_most_their_own_message() {
        // No Content-Length at all, and one that is not a number: the JSON value that follows
        // is the body.
        let no_length = format!("Content-Type: x\r\n\r\n{A}");
        assert_eq!(methods(&frames(no_length.as_bytes(), 2)), ["a"]);
        let not_a_number = format!("Content-Length: many\r\n\r\n{B}");
        assert_eq!(methods(&frames(not_a_number.as_bytes(), 3)), ["b"]);
        // Too long: the body ends with its value; the next frame is read as usual, also when
        // it arrives in pieces.
        let mut too_long = format!("Content-Length: {}\r\n\r\n{A}", A.len() + 20).into_bytes();
        too_long.extend(framed(B));
        for step in [1, 9, too_long.len()] {
            assert_eq!(methods(&frames(&too_long, step)), ["a", "b"], "step {step}");
        }
        // Too short: that message is lost, the next one is found.
        let mut too_short = format!("Content-Length: {}\r\n\r\n{A}", A.len() - 5).into_bytes();
        too_short.extend(framed(B));
        let found = frames(&too_short, 6);
        assert_eq!(methods(&found).last().map(String::as_str), Some("b"), "{found:?}");
        assert!(found[..found.len() - 1].iter().all(|f| matches!(f, Frame::Bad { .. })));
    }

    /// Found by `tests/fuzz` (framing): a length a few bytes too long takes in the start of the
    /// next header, not all of it; and bytes skipped before a frame that has only a
    /// `Content-Type` header must not take that frame with them.
    #[test]
    fn a_length_too_long_by_less_than_a_header_name_loses_nothing() {
        for extra in 1..=20 {
            let mut bytes = format!("Content-Length: {}\r\n\r\n{A}", A.len() + extra).into_bytes();
            bytes.extend(framed(B));
            for step in [1, 5, bytes.len()] {
                assert_eq!(
                    methods(&frames(&bytes, step)),
                    ["a", "b"],
                    "extra {extra}, step {step}"
                );
            }
        }
        let mut bytes = framed(&A[..A.len() - 1]); // cut short: its last byte is skipped
        bytes.extend(format!("}}Content-Type: x\r\n\r\n{B}").into_bytes());
        let found = frames(&bytes, 3);
        assert_eq!(methods(&found).last().map(String::as_str), Some("b"), "{found:?}");
    }

    #[test]
    fn garbage_between_frames_is_skipped() {
        let mut bytes = b"GET / HTTP/1.1\r\n\r\n".to_vec();
        bytes.extend(framed(A));
        bytes.extend(b"\x00\x01\x02 garbage");
        bytes.extend(framed(B));
        let found = frames(&bytes, 5);
        assert_eq!(methods(&found).iter().filter(|m| !m.starts_with("error")).count(), 2);
        assert_eq!(
            methods(&found).into_iter().filter(|m| !m.starts_with("error")).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    #[test]
    fn a_message_waits_for_its_bytes() {
        let bytes = framed(B);
        let mut framer = Framer::default();
        framer.push(&bytes[..bytes.len() - 1]);
        assert_eq!(framer.next_frame(), None);
        framer.push(&bytes[bytes.len() - 1..]);
        assert!(matches!(framer.next_frame(), Some(Frame::Message { .. })));
        assert_eq!(framer.next_frame(), None);
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let mut body = br#"{"t":"a\ud800b \udc00 \ud83d\ude00 \\ud800 \u0041"}"#.to_vec();
        replace_lone_surrogates(&mut body);
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"t":"a\ufffdb \ufffd \ud83d\ude00 \\ud800 \u0041"}"#
        );
        let value: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["t"], "a\u{fffd}b \u{fffd} 😀 \\ud800 A");
        // A high surrogate at the very end of the body.
        let mut tail = br#"\ud800"#.to_vec();
        replace_lone_surrogates(&mut tail);
        assert_eq!(tail, br#"\ufffd"#);
        // Through the framer: the message is read, not refused.
        let message = r#"{"jsonrpc":"2.0","method":"didOpen","params":{"text":"x\ud800"}}"#;
        assert_eq!(methods(&frames(&framed(message), 10)), ["didOpen"]);
    }

    #[test]
    fn document_notifications_with_unreadable_params_are_found() {
        let change = |version: Value| {
            json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": "file:///a.py", "version": version},
                "contentChanges": [{"text": "x"}]}})
            .to_string()
        };
        let method = "textDocument/didChange";
        assert_eq!(unreadable_notification(method, change(json!(3)).as_bytes()), None);
        let too_big = change(json!(1u64 << 40));
        assert!(unreadable_notification(method, too_big.as_bytes()).is_some());
        assert_eq!(unreadable_notification("other/method", too_big.as_bytes()), None);
    }

    #[tokio::test]
    async fn the_transport_forwards_answers_and_keeps_frames_whole() {
        let mut input = framed(A);
        input.extend(framed("not json"));
        input.extend(framed(r#"{"jsonrpc":"2.0","id":1,"method":"$/custom"}"#));
        input.extend(framed(r#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#));
        let (server_in, mut server_reads) = tokio::io::duplex(1 << 16);
        let (answers_tx, answers_rx) = mpsc::unbounded_channel();
        let shutdown = Arc::new(AtomicBool::new(false));
        read_client(&input[..], server_in, answers_tx, shutdown.clone()).await;
        assert!(shutdown.load(Ordering::Acquire));
        let mut forwarded = Vec::new();
        server_reads.read_to_end(&mut forwarded).await.unwrap();
        let forwarded = methods(&frames(&forwarded, 100));
        assert_eq!(forwarded, ["a", "shutdown"], "neither the bad frame nor the $/ request");

        // The crate's output, cut at odd places, interleaved with the two answers.
        let server_output = [framed(B), framed(A)].concat();
        let mut output = Vec::new();
        write_client(&server_output[..], answers_rx, &mut output).await;
        let written = frames(&output, 1000);
        assert_eq!(written.len(), 4, "{written:?}");
        let bodies: Vec<Value> = written
            .iter()
            .filter_map(|f| match f {
                Frame::Message { body, .. } => serde_json::from_slice(body).ok(),
                Frame::Bad { .. } => None,
            })
            .collect();
        assert!(bodies.iter().any(|b| b["id"].is_null() && b["error"]["code"] == PARSE_ERROR));
        assert!(bodies.iter().any(|b| b["id"] == 1 && b["error"]["code"] == METHOD_NOT_FOUND));
    }
}
