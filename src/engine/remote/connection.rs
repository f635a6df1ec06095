//! The byte stream under a streamed answer: a TCP connection, with TLS over it for https://.
//! Reads wait at most `POLL` (the socket's read timeout, also under TLS, where a timed-out read
//! leaves rustls' state as it was), so that the caller can look at its cancel flag; the TLS
//! handshake is polled the same way.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};

use super::tls::{self, Trust};

/// How often a waiting read looks at the job's cancel flag.
pub const POLL: Duration = Duration::from_millis(20);

pub enum Connection {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

/// Why no connection.
pub enum OpenError {
    Cancelled,
    Failed(String),
}

/// Is this error only "nothing arrived within the read timeout"?
pub fn is_wait(error: &std::io::Error) -> bool {
    matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

impl Connection {
    /// Connects to `host:port` (TLS when `trust` is given, checked against it), each step
    /// bounded by `timeout`; gives up at once when `cancelled` says so during the handshake.
    pub fn open(
        host: &str,
        port: u16,
        trust: Option<&Trust>,
        timeout: Duration,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Self, OpenError> {
        let failed = |what: String| OpenError::Failed(what);
        let address = (host, port)
            .to_socket_addrs()
            .map_err(|e| failed(e.to_string()))?
            .next()
            .ok_or_else(|| failed(format!("{host} has no address")))?;
        let socket =
            TcpStream::connect_timeout(&address, timeout).map_err(|e| failed(e.to_string()))?;
        socket.set_write_timeout(Some(timeout)).map_err(|e| failed(e.to_string()))?;
        socket.set_read_timeout(Some(POLL)).map_err(|e| failed(e.to_string()))?;
        let Some(trust) = trust else { return Ok(Self::Plain(socket)) };
        // The URL's host ("[::1]" has its brackets in a URL, not in a server name).
        let name = host.trim_start_matches('[').trim_end_matches(']');
        let server_name = ServerName::try_from(name.to_string())
            .map_err(|_| failed(format!("{host} is not a host name for TLS")))?;
        let connection = ClientConnection::new(trust.client_config(), server_name)
            .map_err(|e| failed(trust.explain(host, &e)))?;
        let mut stream = StreamOwned::new(connection, socket);
        let started = Instant::now();
        while stream.conn.is_handshaking() {
            if cancelled() {
                return Err(OpenError::Cancelled);
            }
            match stream.conn.complete_io(&mut stream.sock) {
                Ok(_) => {}
                Err(e) if is_wait(&e) => {
                    if started.elapsed() >= timeout {
                        // A plain HTTP server waits for a request that never comes.
                        return Err(failed(format!(
                            "no TLS handshake from {host} within the timeout (if the server \
                             speaks plain HTTP, use an http:// URL)"
                        )));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(failed(describe(&e, host, trust))),
            }
        }
        Ok(Self::Tls(Box::new(stream)))
    }

    /// Closes both directions now, so that the server notices and stops generating.
    pub fn shut_down(&self) {
        let socket = match self {
            Self::Plain(socket) => socket,
            Self::Tls(stream) => &stream.sock,
        };
        let _ = socket.shutdown(Shutdown::Both);
    }
}

/// An I/O error during the handshake, a TLS one in the user's terms.
fn describe(error: &std::io::Error, host: &str, trust: &Trust) -> String {
    match tls::rustls_error(error) {
        Some(tls_error) => trust.explain(host, tls_error),
        None if error.kind() == std::io::ErrorKind::UnexpectedEof => format!(
            "{host} closed the connection during the TLS handshake (if the server speaks plain \
             HTTP, use an http:// URL)"
        ),
        None => error.to_string(),
    }
}

impl Read for Connection {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(socket) => socket.read(buffer),
            Self::Tls(stream) => match stream.read(buffer) {
                // A server closing without TLS's close_notify: the end of the body all the
                // same (a body cut short is noticed by the protocol: no last event).
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Connection {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(socket) => socket.write(bytes),
            Self::Tls(stream) => stream.write(bytes),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Plain(socket) => socket.flush(),
            Self::Tls(stream) => stream.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
    }

    /// A TLS server on 127.0.0.1 with the fixture certificate `name`, for one handshake.
    fn tls_server(name: &str) -> u16 {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_file_iter(fixture(&format!("{name}.crt")))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture(&format!("{name}.key"))).unwrap();
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            let connection = rustls::ServerConnection::new(Arc::new(config)).unwrap();
            let mut stream = StreamOwned::new(connection, socket);
            let _ = stream.read(&mut [0u8; 64]);
        });
        port
    }

    fn open(host: &str, port: u16, trust: &Trust) -> Result<Connection, String> {
        let timeout = Duration::from_secs(10);
        Connection::open(host, port, Some(trust), timeout, &|| false).map_err(|e| match e {
            OpenError::Cancelled => "cancelled".into(),
            OpenError::Failed(message) => message,
        })
    }

    #[test]
    fn the_certificate_must_chain_to_the_trusted_roots_and_name_the_host() {
        let team = Trust::from_ca_file(&fixture("ca.crt")).unwrap();
        assert!(open("localhost", tls_server("localhost"), &team).is_ok());
        assert!(open("127.0.0.1", tls_server("localhost"), &team).is_ok());
        let err = open("localhost", tls_server("localhost"), &Trust::public()).err().unwrap();
        assert!(err.contains("localhost is not trusted") && err.contains("engine.caFile"), "{err}");
        let err = open("localhost", tls_server("other"), &team).err().unwrap();
        assert!(err.contains("another host name"), "{err}");
    }

    #[test]
    fn a_self_signed_server_is_its_own_ca_file_unless_it_calls_itself_a_ca() {
        let own = Trust::from_ca_file(&fixture("selfsigned.crt")).unwrap();
        assert!(open("localhost", tls_server("selfsigned"), &own).is_ok());
        let own = Trust::from_ca_file(&fixture("selfsigned-ca.crt")).unwrap();
        let err = open("localhost", tls_server("selfsigned-ca"), &own).err().unwrap();
        assert!(err.contains("CA:FALSE"), "{err}");
    }

    #[test]
    fn a_plain_http_server_on_an_https_url_is_named_as_such() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let _ = socket.read(&mut [0u8; 512]);
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        });
        let err = open("127.0.0.1", port, &Trust::public()).err().unwrap();
        assert!(err.contains("use an http:// URL"), "{err}");
    }

    #[test]
    fn a_cancel_ends_a_handshake_that_never_comes() {
        // A server that accepts and says nothing.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (_socket, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_secs(5));
        });
        let started = Instant::now();
        let trust = Trust::public();
        let cancel_at = started + Duration::from_millis(100);
        let opened =
            Connection::open("127.0.0.1", port, Some(&trust), Duration::from_secs(30), &|| {
                Instant::now() >= cancel_at
            });
        assert!(matches!(opened, Err(OpenError::Cancelled)));
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
