//! Test helpers: the real `infill` binary driven over stdio by `infill::lab::lsp_client`, with
//! panics instead of errors, private state folders, and the models the tests use.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use serde_json::Value;

pub use infill::lab::lsp_client::file_uri;

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn tiny_model() -> PathBuf {
    repo_path("assets/tiny-starcoder2.gguf")
}

/// `INFILL_TEST_GPU_LAYERS` (set by `.ci/gpu` on a GPU build): `auto` or a number of layers.
/// Unset, the engine tests run on the CPU; set (and not 0), they ask for that many GPU layers
/// (`auto`: all of them), and the tests that load a model check that it runs on a GPU.
/// How long an LSP test waits for any one message when its model runs on a GPU device.
const GPU_RUN_PATIENCE: Duration = Duration::from_secs(1200);

pub fn test_gpu_layers() -> Option<u32> {
    match std::env::var("INFILL_TEST_GPU_LAYERS").as_deref() {
        Err(_) => Some(0),
        Ok("auto") => None,
        Ok(layers) => Some(layers.parse().expect("INFILL_TEST_GPU_LAYERS: auto or a number")),
    }
}

/// Where a loaded model runs (its placement, or the model-loaded message that names it) must not
/// be the CPU when `INFILL_TEST_GPU_LAYERS` asks for a GPU, so that the GPU run of a test cannot
/// pass on the CPU unnoticed.
pub fn check_placement(placement: &str) {
    println!("model loaded: {placement}");
    if test_gpu_layers() != Some(0) {
        assert!(!placement.contains("CPU, "), "on the CPU, not a GPU: {placement}");
    }
}

/// The real small model: `$INFILL_TEST_MODEL`, else where `assets/fetch-model.sh` puts it.
pub fn real_model() -> PathBuf {
    if let Some(path) = std::env::var_os("INFILL_TEST_MODEL") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
    let path = cache.join("infill/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
    assert!(
        path.is_file(),
        "{} is missing: run assets/fetch-model.sh (or set INFILL_TEST_MODEL)",
        path.display()
    );
    path
}

/// The in-process engine's answer with the real model at `location` (`FILE:LINE:COL`), as
/// `infill complete --json --print-prompt` gives it (`prompt`, `promptTokens`, `suggestion`…),
/// with no user config and its state under `root`: what a remote engine's answer is compared to.
pub fn complete_in_process(root: &Path, location: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_infill"))
        .args(["complete", location, "--json", "--print-prompt"])
        .args(["--options", r#"{"threads": 2}"#])
        .arg("--model")
        .arg(real_model())
        .env("XDG_CONFIG_HOME", root.join("no-config"))
        .env("XDG_STATE_HOME", root.join("state"))
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .output()
        .expect("infill complete");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("infill complete --json")
}

/// The first inline suggestion's text in an `inlineCompletion` response ("" when none).
pub fn insert_text(response: &Value) -> String {
    response["result"]["items"][0]["insertText"].as_str().unwrap_or_default().to_string()
}

/// `VmHWM` (peak resident memory) of process `pid`, in MiB.
pub fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    let kib: u64 = line["VmHWM:".len()..].trim().trim_end_matches("kB").trim().parse().unwrap();
    kib / 1024
}

/// A fresh temporary folder named `name`, removed on drop. Its own name carries no process id
/// or time (those go on a parent folder): the workspace folder's name is the repository name in
/// the model's prompt, and a prompt that changed from run to run would change what a real model
/// writes.
pub struct TempDir {
    parent: PathBuf,
    path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> Self {
        let unique = format!(
            "infill-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        );
        let parent = std::env::temp_dir().join(unique);
        let path = parent.join(name);
        std::fs::create_dir_all(&path).unwrap();
        Self { parent, path }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn uri(&self, relative: &str) -> String {
        file_uri(&self.path.join(relative))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.parent);
    }
}

/// `infill::lab::lsp_client::LspClient` on the test binary, failing the test on any protocol error.
pub struct LspClient {
    inner: infill::lab::lsp_client::LspClient,
    _state: TempDir,
}

impl LspClient {
    /// Starts `infill` with `args`, a private log folder and an empty cache folder (so no model
    /// is found by accident).
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_logging(args, env, Some("info"))
    }

    /// Starts `infill` with `env` and `INFILL_LOG` set to `log`, or unset (the default level).
    pub fn start_logging(args: &[&str], env: &[(&str, &str)], log: Option<&str>) -> Self {
        let state = TempDir::new("state");
        let mut command = Command::new(env!("CARGO_BIN_EXE_infill"));
        command
            .args(args)
            .env("XDG_STATE_HOME", state.path())
            .env("XDG_CACHE_HOME", state.path())
            .env("XDG_CONFIG_HOME", state.path())
            // With no model configured the server fetches the default from the hub: never the
            // real hub from a test (port 9 refuses at once), never the user's cache.
            .env("HF_HOME", state.path().join("hf"))
            .env("HF_ENDPOINT", "http://127.0.0.1:9")
            .env_remove("INFILL_MODEL");
        match log {
            Some(log) => command.env("INFILL_LOG", log),
            None => command.env_remove("INFILL_LOG"),
        };
        for (key, value) in env {
            command.env(key, value);
        }
        let mut inner = infill::lab::lsp_client::LspClient::spawn(command).expect("start infill");
        if test_gpu_layers() != Some(0) {
            // The wait for one message is a hang guard. A software Vulkan device (lavapipe,
            // `.ci/gpu` without a GPU) evaluates 2–5 prompt tokens/s: a prompt with other files
            // took more than the default 300 s there.
            inner.patience = GPU_RUN_PATIENCE;
        }
        Self { inner, _state: state }
    }

    pub fn notifications(&self) -> &[Value] {
        &self.inner.notifications
    }

    pub fn shown_messages(&self) -> Vec<String> {
        self.inner.shown_messages()
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.inner.notify(method, params).expect("notify");
    }

    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.inner.request(method, params).expect("request")
    }

    /// Sends a request without waiting for its answer; returns its id.
    pub fn send_request(&mut self, method: &str, params: Value) -> i64 {
        self.inner.send_request(method, params).expect("send request")
    }

    /// `$/cancelRequest` for `id`.
    pub fn cancel(&mut self, id: i64) {
        self.inner.cancel(id).expect("cancel")
    }

    pub fn wait_notification(&mut self, method: &str, accept: impl Fn(&Value) -> bool) -> Value {
        self.inner.wait_notification(method, accept).expect("notification")
    }

    pub fn initialize(&mut self, root: &Path, options: Value, encodings: &[&str]) -> Value {
        self.inner.initialize(root, options, encodings).expect("initialize")
    }

    pub fn wait_model_loaded(&mut self) -> String {
        self.inner.wait_model_loaded().expect("model loading progress")
    }

    pub fn open(&mut self, uri: &str, language: &str, text: &str) {
        self.inner.open(uri, language, text).expect("didOpen");
    }

    pub fn inline_completion(&mut self, uri: &str, line: u32, character: u32) -> Value {
        self.inner.inline_completion(uri, line, character).expect("inlineCompletion")
    }

    pub fn completion(&mut self, uri: &str, line: u32, character: u32) -> Value {
        self.inner.completion(uri, line, character).expect("completion")
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.inner.stderr()
    }

    /// Waits for the answer to request `id`.
    pub fn wait_response(&mut self, id: i64) -> Value {
        self.inner.wait_response(id).expect("response")
    }

    pub fn is_alive(&mut self) -> bool {
        self.inner.is_alive()
    }

    pub fn pid(&self) -> u32 {
        self.inner.pid()
    }

    /// Shuts the server down (as `shutdown`) and returns all it wrote to stderr.
    pub fn shutdown_for_stderr(self) -> String {
        let stderr = self.inner.stderr_handle();
        self.shutdown();
        stderr()
    }

    /// Shuts the server down; a server that does not exit cleanly fails with its stderr.
    pub fn shutdown(self) -> ExitStatus {
        let Self { inner, _state } = self;
        let stderr = inner.stderr_handle();
        let status = inner.shutdown().expect("shutdown and exit");
        assert!(status.success(), "server exited with {status:?}; stderr:\n{}", stderr());
        status
    }
}
pub mod fake_hub;
pub mod fake_remote;
pub mod remote_fib;
