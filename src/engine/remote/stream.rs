//! A streamed answer (server-sent events, JSON lines) over an HTTP/1.1 connection of its own
//! (`connection.rs`: TCP, with TLS for https://), read on the remote engine's thread with short
//! socket timeouts so that a cancel is seen within `POLL` and closes the connection at once:
//! the server notices and stops generating. (`ureq` keeps its socket to itself, and a read
//! blocked inside it could not be interrupted.)

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::connection::{Connection, OpenError, is_wait};
use super::excerpt;
use super::tls::Trust;
use crate::engine::JobHandle;

/// The most of an error answer's body that is read.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// What the caller gets next.
pub enum Next {
    Line(String),
    /// The server closed the stream.
    End,
    Cancelled,
    Failed(String),
}

pub struct Stream<'a> {
    connection: Connection,
    handle: &'a JobHandle,
    /// Who and what, for messages ("llama-server at …: /completion").
    name: String,
    timeout: Duration,
    raw: Vec<u8>,
    /// The body so far, chunk framing removed.
    body: Vec<u8>,
    chunked: bool,
    /// Bytes of the current chunk still to come (chunked), or of the body (with a length).
    remaining: Option<usize>,
    eof: bool,
}

impl Drop for Stream<'_> {
    fn drop(&mut self) {
        self.connection.shut_down();
    }
}

/// POSTs `body` to `url` and returns the answer's stream once its head has arrived (2xx), or
/// why not. `headers`: extra ones (an API key); `trust`: the roots for an https:// URL.
#[allow(clippy::too_many_arguments)]
pub fn post<'a>(
    url: &str,
    body: &str,
    headers: &[(&str, String)],
    trust: &Trust,
    timeout: Duration,
    handle: &'a JobHandle,
    name: String,
) -> Result<Stream<'a>, Next> {
    let failed = |what: String| Next::Failed(format!("{name}: {what}"));
    let parsed = url::Url::parse(url).map_err(|e| failed(format!("bad URL {url}: {e}")))?;
    let trust = match parsed.scheme() {
        "http" => None,
        "https" => Some(trust),
        other => return Err(failed(format!("{url}: `{other}:` is not http(s)://"))),
    };
    let host = parsed.host_str().ok_or_else(|| failed(format!("{url} has no host")))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let path = match parsed.query() {
        Some(query) => format!("{}?{query}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let name = format!("{name}: {}", parsed.path());
    let failed = |what: String| Next::Failed(format!("{name}: {what}"));
    let cancelled = || handle.is_cancelled();
    let mut connection =
        Connection::open(host, port, trust, timeout, &cancelled).map_err(|e| match e {
            OpenError::Cancelled => Next::Cancelled,
            OpenError::Failed(what) => failed(what),
        })?;
    let host_header = match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host_header}\r\nContent-Type: application/json\r\n\
         Accept: text/event-stream, application/x-ndjson\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for (key, value) in headers {
        request.push_str(&format!("{key}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    connection.write_all(request.as_bytes()).map_err(|e| failed(e.to_string()))?;
    connection.flush().map_err(|e| failed(e.to_string()))?;
    let mut stream = Stream {
        connection,
        handle,
        name,
        timeout,
        raw: Vec::new(),
        body: Vec::new(),
        chunked: false,
        remaining: None,
        eof: false,
    };
    stream.read_head()?;
    Ok(stream)
}

impl Stream<'_> {
    fn failed(&self, what: impl std::fmt::Display) -> Next {
        Next::Failed(format!("{}: {what}", self.name))
    }

    /// Reads more raw bytes; false at the end of the connection. Waits at most `timeout`
    /// for them, and returns `Cancelled` as soon as the job is.
    fn fill(&mut self) -> Result<bool, Next> {
        let started = Instant::now();
        let mut buffer = [0u8; 8192];
        loop {
            if self.handle.is_cancelled() {
                return Err(Next::Cancelled);
            }
            match self.connection.read(&mut buffer) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.raw.extend_from_slice(&buffer[..n]);
                    return Ok(true);
                }
                Err(e) if is_wait(&e) => {
                    if started.elapsed() >= self.timeout {
                        return Err(self.failed("timed out waiting for the server"));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.failed(e)),
            }
        }
    }

    /// The status line and headers; an error status becomes `Failed` with the server's words.
    fn read_head(&mut self) -> Result<(), Next> {
        let end = loop {
            if let Some(end) = find(&self.raw, b"\r\n\r\n") {
                break end;
            }
            if !self.fill()? {
                return Err(self.failed("the connection closed before an answer"));
            }
        };
        let head = String::from_utf8_lossy(&self.raw[..end]).into_owned();
        self.raw.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| self.failed(format!("not HTTP: {}", excerpt(status_line))))?;
        for line in lines {
            let Some((key, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            if key.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
                self.chunked = true;
            } else if key.eq_ignore_ascii_case("content-length") && !self.chunked {
                self.remaining = value.parse().ok();
            }
        }
        if self.chunked {
            self.remaining = None;
        }
        if !(200..300).contains(&status) {
            // The server's own words, as far as they come.
            let mut text = Vec::new();
            while text.len() < MAX_ERROR_BODY {
                match self.decode() {
                    Ok(true) => text.append(&mut self.body),
                    _ => break,
                }
            }
            text.append(&mut self.body);
            let text = String::from_utf8_lossy(&text);
            return Err(self.failed(format!("answered HTTP {status}: {}", excerpt(&text))));
        }
        Ok(())
    }

    /// Moves more of the body from `raw` into `body`; false at its end.
    fn decode(&mut self) -> Result<bool, Next> {
        loop {
            if !self.chunked {
                if let Some(remaining) = self.remaining {
                    if remaining == 0 {
                        return Ok(false);
                    }
                    if !self.raw.is_empty() {
                        let take = remaining.min(self.raw.len());
                        self.body.extend(self.raw.drain(..take));
                        self.remaining = Some(remaining - take);
                        return Ok(true);
                    }
                } else if !self.raw.is_empty() {
                    self.body.append(&mut self.raw);
                    return Ok(true);
                }
            } else {
                match self.remaining {
                    Some(0) => {
                        // The chunk's closing CRLF.
                        if self.raw.len() >= 2 {
                            self.raw.drain(..2);
                            self.remaining = None;
                            continue;
                        }
                    }
                    Some(remaining) if !self.raw.is_empty() => {
                        let take = remaining.min(self.raw.len());
                        self.body.extend(self.raw.drain(..take));
                        self.remaining = Some(remaining - take);
                        return Ok(true);
                    }
                    Some(_) => {}
                    None => {
                        if let Some(end) = find(&self.raw, b"\r\n") {
                            let size_text = String::from_utf8_lossy(&self.raw[..end]).into_owned();
                            let size = usize::from_str_radix(
                                size_text.split(';').next().unwrap_or_default().trim(),
                                16,
                            )
                            .map_err(|_| self.failed("a malformed chunked answer"))?;
                            self.raw.drain(..end + 2);
                            if size == 0 {
                                return Ok(false);
                            }
                            self.remaining = Some(size);
                            continue;
                        }
                    }
                }
            }
            if self.eof || !self.fill()? {
                // Closed: the end of a body without a length, or one cut short, which the
                // protocol notices (no last event).
                return Ok(false);
            }
        }
    }

    /// The next non-blank line of the body.
    pub fn next(&mut self) -> Next {
        loop {
            if let Some(newline) = self.body.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.body.drain(..=newline).collect();
                let line = String::from_utf8_lossy(&line).trim_end().to_string();
                if line.trim().is_empty() {
                    continue;
                }
                return Next::Line(line);
            }
            match self.decode() {
                Ok(true) => {}
                Ok(false) => {
                    // A last line without its line break.
                    let rest = std::mem::take(&mut self.body);
                    let rest = String::from_utf8_lossy(&rest).trim().to_string();
                    return if rest.is_empty() { Next::End } else { Next::Line(rest) };
                }
                Err(next) => return next,
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// Serves `answer` (raw bytes) to one connection, then closes it.
    fn serve(answer: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/completion", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while find(&request, b"\r\n\r\n{}").is_none() {
                let n = socket.read(&mut buffer).unwrap();
                request.extend_from_slice(&buffer[..n]);
            }
            socket.write_all(answer).unwrap();
        });
        url
    }

    fn lines(answer: &'static [u8]) -> Result<Vec<String>, String> {
        let url = serve(answer);
        let handle = JobHandle::default();
        let timeout = Duration::from_secs(10);
        let mut stream =
            match post(&url, "{}", &[], &Trust::public(), timeout, &handle, "test".into()) {
                Ok(stream) => stream,
                Err(Next::Failed(message)) => return Err(message),
                Err(_) => return Err("?".into()),
            };
        let mut lines = Vec::new();
        loop {
            match stream.next() {
                Next::Line(line) => lines.push(line),
                Next::End => return Ok(lines),
                Next::Failed(message) => return Err(message),
                Next::Cancelled => return Err("cancelled".into()),
            }
        }
    }

    #[test]
    fn chunked_length_and_close_delimited_bodies_give_the_same_lines() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                        7\r\ndata: a\r\n3\r\n\n\nd\r\r\n5\r\nata: \r\n2\r\nb\n\r\n0\r\n\r\n";
        assert_eq!(lines(chunked).unwrap(), ["data: a", "data: b"]);
        let sized = b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\ndata: a\n\ndata: b\nIGNORED";
        assert_eq!(lines(sized).unwrap(), ["data: a", "data: b"]);
        let closed = b"HTTP/1.1 200 OK\r\n\r\n{\"a\":1}\n{\"b\":2}";
        assert_eq!(lines(closed).unwrap(), ["{\"a\":1}", "{\"b\":2}"]);
    }

    #[test]
    fn an_error_status_carries_the_server_s_words() {
        let answer = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 7\r\n\r\nloading";
        let err = lines(answer).unwrap_err();
        assert!(err.contains("HTTP 503") && err.contains("loading"), "{err}");
        assert!(lines(b"garbage\r\n\r\n").unwrap_err().contains("not HTTP"));
    }
}
