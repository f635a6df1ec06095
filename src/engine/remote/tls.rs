//! Whom an https:// engine URL may be: the trusted roots (Mozilla's, compiled in, or the PEM
//! bundle `engine.caFile` names, instead of them), as one rustls client configuration for the
//! streamed answers and the same certificates for `ureq`'s JSON calls, and TLS failures told
//! in the user's terms. Crypto: rustls with ring, the provider hf-hub's ureq already builds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CertificateError, ClientConfig, RootCertStore};

/// The roots an https:// server's certificate must chain to.
#[derive(Clone)]
pub struct Trust {
    /// The `engine.caFile` the roots came from; `None`: Mozilla's roots.
    ca_file: Option<PathBuf>,
    /// `caFile`'s certificates, for ureq (which builds its own rustls configuration).
    certs: Vec<CertificateDer<'static>>,
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.ca_file {
            Some(path) => write!(f, "Trust(caFile {})", path.display()),
            None => f.write_str("Trust(webpki roots)"),
        }
    }
}

impl Trust {
    /// Mozilla's roots (webpki-roots): the same on every machine, no platform store to read.
    pub fn public() -> Self {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        Self { ca_file: None, certs: Vec::new(), config: client_config(roots) }
    }

    /// The CA certificates of the PEM bundle at `path` (`engine.caFile`), trusted instead of
    /// the public roots: a team's own CA or a self-signed server certificate.
    pub fn from_ca_file(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let bytes = std::fs::read(path)
            .map_err(|e| format!("engine.caFile {shown}: cannot be read: {e}"))?;
        let not_pem = || {
            format!(
                "engine.caFile {shown}: not a PEM certificate bundle (expected one or more \
                 -----BEGIN CERTIFICATE----- blocks)"
            )
        };
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| not_pem())?;
        if certs.is_empty() {
            return Err(not_pem());
        }
        let mut roots = RootCertStore::empty();
        for cert in &certs {
            roots.add(cert.clone()).map_err(|e| {
                format!("engine.caFile {shown}: a certificate cannot be used as a CA: {e}")
            })?;
        }
        Ok(Self { ca_file: Some(path.to_path_buf()), certs, config: client_config(roots) })
    }

    /// For the streamed answers' own connections (`connection.rs`).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// The same roots for ureq's JSON calls.
    pub fn ureq_config(&self) -> ureq::tls::TlsConfig {
        use ureq::tls::{Certificate, RootCerts, TlsConfig};
        let roots = match self.ca_file {
            Some(_) => RootCerts::new_with_certs(
                &self.certs.iter().map(|c| Certificate::from_der(c).to_owned()).collect::<Vec<_>>(),
            ),
            None => RootCerts::WebPki,
        };
        TlsConfig::builder().root_certs(roots).build()
    }

    /// A TLS failure talking to `host` (as in the URL), in the user's terms.
    pub fn explain(&self, host: &str, error: &rustls::Error) -> String {
        let advice = match &self.ca_file {
            Some(path) => format!("it is not signed by a CA in engine.caFile ({})", path.display()),
            None => "set engine.caFile to the PEM file of the CA that signed it (or of the \
                     server's own certificate if it is self-signed)"
                .to_string(),
        };
        match error {
            rustls::Error::InvalidCertificate(problem) => match problem {
                CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                    format!("the certificate of {host} is not trusted: {advice}")
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => format!(
                    "the certificate of {host} is for another host name (the URL must name the \
                     server as its certificate does)"
                ),
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    format!("the certificate of {host} has expired")
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    format!(
                        "the certificate of {host} is not valid yet (is this machine's clock right?)"
                    )
                }
                // webpki's CaUsedAsEndEntity, which rustls passes on only as `Other`.
                other if format!("{other:?}").contains("CaUsedAsEndEntity") => format!(
                    "the certificate of {host} is marked as a CA, which a server's own \
                     certificate must not be: sign a server certificate with that CA, or make \
                     the self-signed one with basicConstraints CA:FALSE"
                ),
                other => format!("the certificate of {host} is not accepted: {other:?}"),
            },
            // The first bytes back were not a TLS record: an HTTP answer, most likely.
            rustls::Error::InvalidMessage(_) => format!(
                "{host} did not answer in TLS: if the server speaks plain HTTP, use an http:// URL"
            ),
            other => format!("TLS with {host} failed: {other}"),
        }
    }
}

fn client_config(roots: RootCertStore) -> Arc<ClientConfig> {
    // Deprecated only for lacking post-quantum key exchange, which needs aws-lc-rs (a long C
    // build); ureq's `rustls` feature uses this same ring provider.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// The rustls error behind `error`, if any (ureq and our connection wrap it in `io::Error`s).
pub fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        // An io::Error's inner error is not its source().
        let inner = error.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        if let Some(found) = inner.and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            return Some(found);
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_exist_and_hold_pem_certificates() {
        let missing = Trust::from_ca_file(Path::new("/no/such/ca.pem")).unwrap_err();
        assert!(missing.contains("engine.caFile /no/such/ca.pem: cannot be read"), "{missing}");

        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let err = Trust::from_ca_file(&junk).unwrap_err();
        assert!(err.contains("not a PEM certificate bundle"), "{err}");

        let key_only = dir.path().join("key.pem");
        let key = std::fs::read(fixture("localhost.key")).unwrap();
        std::fs::write(&key_only, key).unwrap();
        assert!(Trust::from_ca_file(&key_only).unwrap_err().contains("not a PEM"));

        let broken = dir.path().join("broken.pem");
        std::fs::write(&broken, "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")
            .unwrap();
        assert!(Trust::from_ca_file(&broken).unwrap_err().contains("not a PEM"));

        let trust = Trust::from_ca_file(&fixture("ca.crt")).unwrap();
        assert!(format!("{trust:?}").contains("ca.crt"));
    }

    #[test]
    fn tls_failures_name_the_host_and_the_fix() {
        let untrusted = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let told = Trust::public().explain("gpu.example.com", &untrusted);
        assert!(told.contains("gpu.example.com") && told.contains("engine.caFile"), "{told}");
        let wrong_name = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        assert!(Trust::public().explain("10.0.0.2", &wrong_name).contains("another host name"));
        let plain = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert!(Trust::public().explain("h", &plain).contains("http://"));
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
    }
}
