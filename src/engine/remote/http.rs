//! Blocking HTTP to the remote server, on the remote engine's thread (never a tokio worker):
//! short JSON requests through `ureq` (keep-alive), streamed answers through `stream`; both
//! trust the same roots for https:// (`tls::Trust`).

use std::time::Duration;

use serde_json::Value;

use super::excerpt;
use super::stream::{self, Next, Stream};
use super::tls::{self, Trust};
use crate::engine::JobHandle;

/// An API key: sent as a bearer token, never printed (its `Debug` hides it).
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: String) -> Self {
        Self(key)
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(hidden)")
    }
}

/// The longest wait for a short JSON answer.
const JSON_TIMEOUT: Duration = Duration::from_secs(10);

/// One server: its base URL, the agent (keep-alive connections) and the key.
pub struct Http {
    /// Who the user is talking to, for messages ("llama-server at http://…").
    pub name: String,
    base: String,
    agent: ureq::Agent,
    api_key: Option<ApiKey>,
    trust: Trust,
}

impl Http {
    pub fn new(
        name: String,
        base: &str,
        api_key: Option<ApiKey>,
        trust: Trust,
        timeout: Duration,
    ) -> Self {
        // These calls (props, tokenize, model lists) never wait for the model, and they cannot
        // be cancelled: a hung server must not hold a job for the whole generation timeout.
        let timeout = timeout.min(JSON_TIMEOUT);
        let config = ureq::Agent::config_builder()
            // Status codes are read, with the server's own message, rather than turned into
            // a bare error.
            .http_status_as_error(false)
            .timeout_connect(Some(timeout))
            .timeout_recv_response(Some(timeout))
            .timeout_per_read(Some(timeout))
            .tls_config(trust.ureq_config())
            .build();
        let base = base.trim_end_matches('/').to_string();
        Self { name, base, agent: config.into(), api_key, trust }
    }

    /// `path` under the base URL; an absolute URL stays as it is (a server's root endpoints
    /// beside an OpenAI base ending in `/v1`).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_string();
        }
        format!("{}{path}", self.base)
    }

    pub fn get_json(&self, path: &str) -> Result<Value, String> {
        let request = self.agent.get(self.url(path));
        let request = match &self.api_key {
            Some(key) => request.header("Authorization", format!("Bearer {}", key.0)),
            None => request,
        };
        let response = request.call().map_err(|e| self.failed(path, &e))?;
        self.read_json(path, response)
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Result<Value, String> {
        let response = self.post(path).send_json(body).map_err(|e| self.failed(path, &e))?;
        self.read_json(path, response)
    }

    fn post(&self, path: &str) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let request = self.agent.post(self.url(path));
        match &self.api_key {
            Some(key) => request.header("Authorization", format!("Bearer {}", key.0)),
            None => request,
        }
    }

    fn read_json(
        &self,
        path: &str,
        response: ureq::http::Response<ureq::Body>,
    ) -> Result<Value, String> {
        let mut response = self.successful(path, response)?;
        let text = response.body_mut().read_to_string().map_err(|e| self.failed(path, &e))?;
        serde_json::from_str(&text).map_err(|_| {
            format!("{}: {path} answered something that is not JSON: {}", self.name, excerpt(&text))
        })
    }

    /// The response if its status is 2xx, else the error with the server's own words.
    fn successful(
        &self,
        path: &str,
        mut response: ureq::http::Response<ureq::Body>,
    ) -> Result<ureq::http::Response<ureq::Body>, String> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.body_mut().read_to_string().unwrap_or_default();
        Err(format!("{}: {path} answered HTTP {status}: {}", self.name, excerpt(&body)))
    }

    fn failed(&self, path: &str, err: &ureq::Error) -> String {
        let tls_error = match err {
            ureq::Error::Rustls(e) => Some(e),
            ureq::Error::Io(io) => tls::rustls_error(io),
            _ => None,
        };
        if let Some(tls_error) = tls_error {
            let url = url::Url::parse(&self.url(path)).ok();
            let host = url.as_ref().and_then(|u| u.host_str()).unwrap_or("the server");
            return format!("{}: {path}: {}", self.name, self.trust.explain(host, tls_error));
        }
        failure(&self.name, path, err)
    }

    /// POSTs `body` and returns its streamed answer (`stream::post`).
    pub fn stream<'a>(
        &self,
        path: &str,
        body: &Value,
        timeout: Duration,
        handle: &'a JobHandle,
    ) -> Result<Stream<'a>, Next> {
        let headers: Vec<(&str, String)> = match &self.api_key {
            Some(key) => vec![("Authorization", format!("Bearer {}", key.0))],
            None => Vec::new(),
        };
        stream::post(
            &self.url(path),
            &body.to_string(),
            &headers,
            &self.trust,
            timeout,
            handle,
            self.name.clone(),
        )
    }
}

fn failure(name: &str, path: &str, err: &ureq::Error) -> String {
    let what = match err {
        ureq::Error::Timeout(_) => "timed out".to_string(),
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    };
    format!("{name}: {path}: {what}")
}
