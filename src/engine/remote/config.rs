//! The `engine` setting read for a remote engine: the protocol, the URL (and the warning for
//! plain http:// to another machine), the roots an https:// server must chain to (`caFile`),
//! the API key from the variable `apiKeyEnv` names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::http::ApiKey;
use super::tls::Trust;
use crate::config::{EngineKind, EngineSettings, Settings};

/// Which protocol the server speaks (the `engine.kind`s other than `local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    LlamaServer,
    Openai,
    Ollama,
}

/// Where prompts go, read from the `engine` setting.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    pub protocol: Protocol,
    pub url: String,
    pub model: Option<String>,
    pub api_key: Option<ApiKey>,
    pub timeout: Duration,
    pub keep_alive: Option<String>,
    /// Whom an https:// URL may be: `caFile`'s CAs, else the public roots.
    pub trust: Trust,
    /// For the user: plain HTTP to another machine.
    pub warning: Option<String>,
}

impl RemoteConfig {
    /// `None` for the local engine; an error for settings that cannot work (a missing API key
    /// variable, a URL that is not http(s), a `caFile` that is not a readable PEM bundle).
    pub fn from_settings(settings: &Settings) -> Option<Result<Self, String>> {
        let engine = &settings.engine;
        let (protocol, default_url) = match engine.kind {
            EngineKind::Local => return None,
            EngineKind::LlamaServer => (Protocol::LlamaServer, "http://127.0.0.1:8080"),
            EngineKind::Openai => (Protocol::Openai, "http://127.0.0.1:8080/v1"),
            EngineKind::Ollama => (Protocol::Ollama, "http://127.0.0.1:11434"),
        };
        let url = engine.url.clone().unwrap_or_else(|| default_url.to_string());
        Some(Self::read(engine, protocol, url))
    }

    fn read(engine: &EngineSettings, protocol: Protocol, url: String) -> Result<Self, String> {
        let parsed = url::Url::parse(&url).map_err(|e| format!("engine url {url:?}: {e}"))?;
        let warning = match parsed.scheme() {
            "http" if engine.ca_file.is_some() => {
                return Err(format!(
                    "engine.caFile is for https:// servers, and engine url {url} is plain http://"
                ));
            }
            "http" if !is_loopback(&parsed) => Some(format!(
                "prompts go to {url} over plain http:// (unencrypted); use https:// for \
                 a server on another machine"
            )),
            "http" | "https" => None,
            other => {
                return Err(format!("engine url {url}: `{other}:` is not http:// or https://"));
            }
        };
        let trust = match &engine.ca_file {
            Some(path) => Trust::from_ca_file(&ca_file_path(path)?)?,
            None => Trust::public(),
        };
        let api_key = match &engine.api_key_env {
            Some(name) => match std::env::var(name) {
                Ok(key) if !key.is_empty() => Some(ApiKey::new(key)),
                _ => return Err(format!("engine.apiKeyEnv: the variable {name} is not set")),
            },
            None => None,
        };
        Ok(Self {
            protocol,
            url,
            model: engine.model.clone(),
            api_key,
            timeout: Duration::from_millis(engine.timeout_ms.max(1)),
            keep_alive: engine.keep_alive.clone(),
            trust,
            warning,
        })
    }

    /// "llama-server at http://…", as the user is told.
    pub fn name(&self) -> String {
        let kind = match self.protocol {
            Protocol::LlamaServer => "llama-server",
            Protocol::Openai => "OpenAI-compatible server",
            Protocol::Ollama => "Ollama",
        };
        format!("{kind} at {}", self.url)
    }
}

/// `caFile` as a path to open: `~/` is the home directory; a relative path is refused, as the
/// server's working directory is whatever the editor started it in.
fn ca_file_path(path: &Path) -> Result<PathBuf, String> {
    let home = std::env::var_os("HOME").filter(|home| !home.is_empty());
    let path = match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => Path::new(&home).join(rest),
        _ => path.to_path_buf(),
    };
    if path.is_relative() {
        return Err(format!(
            "engine.caFile {}: give an absolute path (or one starting with ~/)",
            path.display()
        ));
    }
    Ok(path)
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> Result<RemoteConfig, String> {
        let engine = EngineSettings {
            kind: EngineKind::LlamaServer,
            url: Some(url.into()),
            ..EngineSettings::default()
        };
        RemoteConfig::from_settings(&Settings { engine, ..Settings::default() }).unwrap()
    }

    #[test]
    fn plain_http_to_another_machine_is_warned_about() {
        assert!(config("http://127.0.0.1:8080").unwrap().warning.is_none());
        assert!(config("http://localhost:8080").unwrap().warning.is_none());
        assert!(config("http://[::1]:8080").unwrap().warning.is_none());
        let far = config("http://gpu.example.com:8080").unwrap();
        assert!(far.warning.unwrap().contains("plain http://"));
        assert!(config("https://gpu.example.com:8443").unwrap().warning.is_none());
        assert!(config("ftp://x").is_err());
        assert!(RemoteConfig::from_settings(&Settings::default()).is_none(), "local");
    }

    fn with_ca_file(url: &str, ca_file: &str) -> Result<RemoteConfig, String> {
        let engine = EngineSettings {
            kind: EngineKind::Openai,
            url: Some(url.into()),
            ca_file: Some(ca_file.into()),
            ..EngineSettings::default()
        };
        RemoteConfig::from_settings(&Settings { engine, ..Settings::default() }).unwrap()
    }

    #[test]
    fn a_ca_file_is_checked_when_the_settings_are_read() {
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.crt");
        assert!(with_ca_file("https://gpu.example.com/v1", ca).is_ok());
        let err = with_ca_file("https://gpu.example.com/v1", "/no/such.pem").unwrap_err();
        assert!(err.contains("engine.caFile /no/such.pem") && err.contains("cannot be read"));
        let not_pem = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        let err = with_ca_file("https://gpu.example.com/v1", not_pem).unwrap_err();
        assert!(err.contains("not a PEM certificate bundle"), "{err}");
        let err = with_ca_file("http://gpu.example.com/v1", ca).unwrap_err();
        assert!(err.contains("caFile is for https://"), "{err}");
        let err = with_ca_file("https://gpu.example.com/v1", "certs/ca.pem").unwrap_err();
        assert!(err.contains("absolute path"), "{err}");
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            let expanded = ca_file_path(Path::new("~/certs/ca.pem")).unwrap();
            assert_eq!(expanded, Path::new(&home).join("certs/ca.pem"));
        }
    }

    #[test]
    fn a_missing_key_variable_is_an_error_and_a_key_is_never_printed() {
        let engine = EngineSettings {
            kind: EngineKind::Openai,
            api_key_env: Some("INFILL_TEST_NO_SUCH_VARIABLE".into()),
            ..EngineSettings::default()
        };
        let settings = Settings { engine, ..Settings::default() };
        let err = RemoteConfig::from_settings(&settings).unwrap().unwrap_err();
        assert!(err.contains("INFILL_TEST_NO_SUCH_VARIABLE"), "{err}");
        let key = ApiKey::new("sk-secret".into());
        assert!(!format!("{key:?}").contains("sk-secret"));
    }
}
