//! A local stand-in for the Hugging Face hub, reached through `HF_ENDPOINT`: it answers the
//! `resolve` URLs as the hub does (HEAD or a ranged GET, with `x-repo-commit`, `x-linked-etag`
//! and the size in `Content-Range`) and a repository's file list, serving one file.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// The first body stops half-way and the connection closes.
    DropHalfOnce,
    /// The checksum named in `x-linked-etag` is not the file's.
    WrongChecksum,
    /// Every request gets 401, as for a gated repository without a token.
    Unauthorized,
}

pub struct FakeHub {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

struct State {
    mode: Mode,
    dropped: bool,
    /// The `Range` header of each body request.
    ranges: Vec<String>,
}

impl FakeHub {
    /// Serves `body` as `file` of `repo`.
    pub fn start(repo: &str, file: &str, body: Vec<u8>, mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State { mode, dropped: false, ranges: Vec::new() }));
        let served = Arc::clone(&state);
        let resolve = format!("/{repo}/resolve/main/{file}");
        let info = format!("/api/models/{repo}");
        let listing = format!(r#"{{"sha":"{COMMIT}","siblings":[{{"rfilename":"{file}"}}]}}"#);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(stream, &served, &resolve, &info, &listing, &body);
            }
        });
        Self { endpoint, state }
    }

    pub fn ranges(&self) -> Vec<String> {
        self.state.lock().unwrap().ranges.clone()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn serve(
    mut stream: TcpStream,
    state: &Mutex<State>,
    resolve: &str,
    info: &str,
    listing: &str,
    body: &[u8],
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("range")
        {
            range = Some(value.trim().to_string());
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mode = state.lock().unwrap().mode;
    if mode == Mode::Unauthorized {
        let _ = stream.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    if path.starts_with(info) {
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{listing}",
            listing.len()
        );
        return;
    }
    if path != resolve {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    let size = body.len();
    let etag = match mode {
        Mode::WrongChecksum => sha256_hex(b"some other file"),
        _ => sha256_hex(body),
    };
    let start: usize = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let end = match range.as_deref().and_then(|r| r.split('-').nth(1)) {
        Some(end) if !end.is_empty() => end.parse::<usize>().unwrap() + 1,
        _ => size,
    };
    let slice = &body[start.min(size)..end.min(size)];
    let head = format!(
        "HTTP/1.1 206 Partial Content\r\nx-repo-commit: {COMMIT}\r\nx-linked-etag: \"{etag}\"\r\n\
         x-linked-size: {size}\r\nETag: \"{etag}\"\r\nContent-Range: bytes {start}-{}/{size}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        end.saturating_sub(1),
        slice.len()
    );
    let _ = stream.write_all(head.as_bytes());
    if method == "HEAD" {
        return;
    }
    let whole_body = end - start > 1;
    if whole_body {
        let mut state = state.lock().unwrap();
        state.ranges.push(range.clone().unwrap_or_default());
        if state.mode == Mode::DropHalfOnce && !state.dropped {
            state.dropped = true;
            drop(state);
            let _ = stream.write_all(&slice[..slice.len() / 2]);
            let _ = stream.flush();
            return; // the connection closes with half the body sent
        }
    }
    let _ = stream.write_all(slice);
}
