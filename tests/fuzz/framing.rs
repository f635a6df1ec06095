//! The transport's framing (`server::transport::Framer`) against streams of good and broken
//! frames and raw bytes, cut into random reads.
//!
//! Invariants: no panic, and the framer always makes progress; every message it hands on is a
//! JSON object (the crate behind it ends the session on anything else) whose body is one the
//! client sent (lone surrogates replaced), in the order sent, each once; it resynchronises: a
//! well-framed message is delivered unless a length sent before it claimed its bytes, and a
//! message that could be read with a missing, unreadable or too-long length is delivered too.

use infill::server::transport::{Frame, Framer};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::harness::{corpus, ensure, fuzz};

/// One piece of the stream, as a client (or a broken one) would write it.
#[derive(Debug, Clone)]
enum Segment {
    /// A well-framed request; `text` goes in a string param.
    Good {
        text: String,
    },
    /// A well-framed request whose text holds a lone surrogate escape (`\ud800`).
    Surrogate,
    /// No `Content-Length` (only a `Content-Type`): the JSON value that follows is the body.
    NoLength,
    /// A `Content-Length` that is not a number.
    BadLength,
    /// A length `extra` bytes too long.
    TooLong {
        extra: usize,
    },
    /// A length `short` bytes too short.
    TooShort {
        short: usize,
    },
    /// A body that is not JSON, or not UTF-8, or JSON but not an object.
    NotJson(String),
    NotUtf8,
    Array,
    /// Bytes outside any frame.
    Garbage(Vec<u8>),
    /// A corpus file, as raw bytes.
    Corpus(usize),
}

/// What the checker knows about one segment once it is laid out.
struct Laid {
    /// Byte offset of the segment in the stream.
    start: usize,
    /// Where the body its header claims ends (for a claimed length).
    claimed_end: Option<usize>,
    /// The id of the request it carries, when it is meant to be delivered.
    id: Option<u64>,
    /// Delivered whenever no earlier length claims its bytes (else: may be lost).
    must_arrive: bool,
    /// Starts with a `Content-Length` header.
    starts_with_length: bool,
}

fn request(id: u64, text: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "fuzz/echo", "params": {"t": text}}).to_string()
}

fn text_strategy() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a",
        " ",
        "\n",
        "\r\n",
        "\"",
        "\\",
        "é",
        "漢",
        "😀",
        "{",
        "}",
        "Content-Length: 3",
        "\r\n\r\n",
        "\u{0}",
        "\u{fffd}",
        "\\ud800",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|p| p.concat())
}

fn segment_strategy(corpus_len: usize) -> impl Strategy<Value = Segment> {
    prop_oneof![
        6 => text_strategy().prop_map(|text| Segment::Good { text }),
        1 => Just(Segment::Surrogate),
        1 => Just(Segment::NoLength),
        1 => Just(Segment::BadLength),
        1 => (1usize..80).prop_map(|extra| Segment::TooLong { extra }),
        1 => (1usize..30).prop_map(|short| Segment::TooShort { short }),
        1 => text_strategy().prop_map(Segment::NotJson),
        1 => Just(Segment::NotUtf8),
        1 => Just(Segment::Array),
        1 => prop::collection::vec(
            prop::sample::select(vec![b'x', b' ', b'\r', b'\n', b'{', b'"', 0xff, b':', b'C']),
            1..20
        )
        .prop_map(Segment::Garbage),
        1 => (0..corpus_len).prop_map(Segment::Corpus),
    ]
}

fn framed_with(header: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("{header}\r\n\r\n").into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// The `Content-Length` a raw frame declares, when it has a header section and a number.
fn declared_length(bytes: &[u8]) -> Option<usize> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let headers = std::str::from_utf8(&bytes[..end]).ok()?;
    headers.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
    })
}

/// Lays the segments out as one stream; ids are their indices.
fn lay_out(segments: &[Segment], corpus: &[Vec<u8>]) -> (Vec<u8>, Vec<Laid>) {
    let mut stream = Vec::new();
    let mut laid = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        let id = index as u64;
        let start = stream.len();
        let (bytes, claimed, carries, must) = match segment {
            Segment::Good { text } => {
                let body = request(id, text);
                (
                    framed_with(&format!("Content-Length: {}", body.len()), body.as_bytes()),
                    Some(body.len()),
                    true,
                    true,
                )
            }
            Segment::Surrogate => {
                let body = request(id, "x").replace(r#""t":"x""#, r#""t":"a\ud800b\udc00""#);
                (
                    framed_with(&format!("Content-Length: {}", body.len()), body.as_bytes()),
                    Some(body.len()),
                    true,
                    true,
                )
            }
            Segment::NoLength => {
                let body = request(id, "no length");
                (
                    framed_with("Content-Type: application/vscode-jsonrpc", body.as_bytes()),
                    None,
                    true,
                    true,
                )
            }
            Segment::BadLength => {
                let body = request(id, "bad length");
                (framed_with("Content-Length: lots", body.as_bytes()), None, true, true)
            }
            Segment::TooLong { extra } => {
                let body = request(id, "too long");
                let header = format!("Content-Length: {}", body.len() + extra);
                // Delivered when the next header follows it (checked below).
                (framed_with(&header, body.as_bytes()), Some(body.len() + extra), true, false)
            }
            Segment::TooShort { short } => {
                let body = request(id, "too short");
                let header = format!("Content-Length: {}", body.len().saturating_sub(*short));
                (
                    framed_with(&header, body.as_bytes()),
                    Some(body.len().saturating_sub(*short)),
                    false,
                    false,
                )
            }
            Segment::NotJson(text) => {
                // Resynchronising means looking for a header: one spelled out inside a broken
                // message after an earlier length went wrong is taken for one (not checked).
                let body = format!("not json {}", text.replace("Content-Length", "Content-Lenth"));
                (
                    framed_with(&format!("Content-Length: {}", body.len()), body.as_bytes()),
                    Some(body.len()),
                    false,
                    false,
                )
            }
            Segment::NotUtf8 => {
                let mut body = request(id, "X").into_bytes();
                let at = body.iter().position(|&b| b == b'X').unwrap();
                body[at] = 0xff;
                (
                    framed_with(&format!("Content-Length: {}", body.len()), &body),
                    Some(body.len()),
                    false,
                    false,
                )
            }
            Segment::Array => {
                let body = "[1, 2, {\"id\": 3}]";
                (
                    framed_with(&format!("Content-Length: {}", body.len()), body.as_bytes()),
                    Some(body.len()),
                    false,
                    false,
                )
            }
            Segment::Garbage(bytes) => (bytes.clone(), None, false, false),
            Segment::Corpus(i) => {
                let bytes = corpus[*i].clone();
                let claimed = declared_length(&bytes);
                (bytes, claimed, false, false)
            }
        };
        let header_len = bytes.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |p| p + 4);
        let starts_with_length =
            bytes.len() >= 15 && bytes[..15].eq_ignore_ascii_case(b"content-length:");
        laid.push(Laid {
            start,
            claimed_end: claimed.map(|len| start + header_len + len),
            id: carries.then_some(id),
            must_arrive: must,
            starts_with_length,
        });
        stream.extend_from_slice(&bytes);
    }
    // A too-long length is recoverable only when the next header follows its body directly.
    for i in 0..laid.len() {
        if matches!(segments[i], Segment::TooLong { .. }) {
            laid[i].must_arrive = laid.get(i + 1).is_some_and(|next| next.starts_with_length);
        }
    }
    (stream, laid)
}

/// Feeds `stream` in reads of the given sizes (cycled); every frame found.
fn frames(stream: &[u8], reads: &[usize]) -> Result<Vec<Frame>, TestCaseError> {
    let mut framer = Framer::default();
    let mut found = Vec::new();
    let mut at = 0;
    let mut read = 0;
    while at < stream.len() {
        let size = reads[read % reads.len()].max(1);
        read += 1;
        let end = (at + size).min(stream.len());
        framer.push(&stream[at..end]);
        at = end;
        // Each frame consumes bytes: more frames than bytes means no progress.
        let mut guard = 0;
        while let Some(frame) = framer.next_frame() {
            found.push(frame);
            guard += 1;
            ensure(guard <= stream.len() + 1, || "the framer makes no progress".into())?;
        }
    }
    Ok(found)
}

fn check(stream: &[u8], laid: &[Laid], reads: &[usize]) -> Result<(), TestCaseError> {
    let found = frames(stream, reads)?;
    let mut delivered = Vec::new();
    for frame in &found {
        if let Frame::Message { body, id, .. } = frame {
            let value: Value = serde_json::from_slice(body).map_err(|err| {
                TestCaseError::fail(format!(
                    "handed on a body the crate cannot read ({err}): {:?}",
                    String::from_utf8_lossy(body)
                ))
            })?;
            ensure(value.is_object(), || format!("handed on a non-object: {value}"))?;
            ensure(id.as_ref() == value.get("id"), || format!("id read wrong: {id:?} vs {value}"))?;
            if value["method"] == "fuzz/echo"
                && let Some(id) = value["id"].as_u64()
            {
                delivered.push(id);
            }
        }
    }
    ensure(delivered.windows(2).all(|w| w[0] < w[1]), || {
        format!("delivered out of order or twice: {delivered:?}")
    })?;
    for (i, segment) in laid.iter().enumerate() {
        let Some(id) = segment.id.filter(|_| segment.must_arrive) else { continue };
        // A length sent before this segment that reaches into it may take its bytes.
        let claimed = laid[..i]
            .iter()
            .any(|earlier| earlier.claimed_end.is_some_and(|end| end > segment.start));
        if !claimed {
            ensure(delivered.contains(&id), || {
                format!("message {id} was not delivered; delivered {delivered:?}; frames {found:?}")
            })?;
        }
    }
    Ok(())
}

#[test]
fn framing() {
    let corpus: Vec<Vec<u8>> = corpus("framing").into_iter().map(|(_, bytes)| bytes).collect();
    // Each corpus file alone, then followed by a good frame: no panic, and the framer reads the
    // good frame after whatever the file holds (none of them claims a length past its end).
    for bytes in &corpus {
        let mut stream = bytes.clone();
        let sentinel = request(999, "after the corpus file");
        let start = stream.len();
        stream.extend(framed_with(
            &format!("Content-Length: {}", sentinel.len()),
            sentinel.as_bytes(),
        ));
        let laid = [Laid {
            start,
            claimed_end: None,
            id: Some(999),
            must_arrive: true,
            starts_with_length: true,
        }];
        for reads in [vec![1], vec![7], vec![stream.len()]] {
            check(&stream, &laid, &reads).unwrap();
        }
    }
    let corpus_len = corpus.len();
    let strategy = (
        prop::collection::vec(segment_strategy(corpus_len), 1..12),
        prop::collection::vec(1usize..200, 1..6),
    );
    fuzz("framing", 60_000, strategy, |(segments, reads)| {
        let (stream, laid) = lay_out(&segments, &corpus);
        check(&stream, &laid, &reads)
    });
}

/// Arbitrary bytes (spliced with pieces of frames) never panic the framer, and everything it
/// hands on is a JSON object.
#[test]
fn framing_raw_bytes() {
    let pieces = prop::sample::select(vec![
        b"Content-Length: 10\r\n\r\n".to_vec(),
        b"Content-Length: 0\r\n\r\n".to_vec(),
        b"content-type: x\r\n\r\n".to_vec(),
        b"\r\n\r\n".to_vec(),
        br#"{"jsonrpc":"2.0","id":1,"method":"a"}"#.to_vec(),
        br#"{"id":"#.to_vec(),
        br#""\ud800""#.to_vec(),
        b"\xff\xfe".to_vec(),
        b"Content-".to_vec(),
    ]);
    let chunk = prop_oneof![pieces, prop::collection::vec(any::<u8>(), 0..16)];
    let strategy = (prop::collection::vec(chunk, 0..16), prop::collection::vec(1usize..64, 1..4));
    fuzz("framing_raw_bytes", 300_000, strategy, |(chunks, reads)| {
        let stream = chunks.concat();
        check(&stream, &[], &reads)
    });
}
