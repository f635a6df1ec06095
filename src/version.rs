//! What `infill --version` says: the crate version, the git commit it was built from (`build.rs`;
//! "unknown" outside a git checkout) and the llama.cpp backends compiled in.

/// The crate version and commit, e.g. `0.1.0 (commit 1a2b3c4)`.
pub const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("INFILL_GIT_COMMIT"), ")");

/// The git commit the binary was built from, or "unknown".
pub const COMMIT: &str = env!("INFILL_GIT_COMMIT");

/// The llama.cpp backends this binary was built with: the CPU (OpenMP threads) and the GPU
/// backends of the Cargo features (`engine::device::compiled_gpu_backends`).
pub fn backends() -> Vec<&'static str> {
    let mut backends = vec!["CPU (OpenMP)"];
    backends.extend(crate::engine::device::compiled_gpu_backends());
    backends
}

/// The long `--version` text: version, commit and backends, one per line.
pub fn long_version() -> String {
    format!(
        "{}\ncommit: {COMMIT}\nllama.cpp backends: {}",
        env!("CARGO_PKG_VERSION"),
        backends().join(", ")
    )
}
