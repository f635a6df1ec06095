//! infill — a local code-completion daemon: an LSP server that builds fill-in-the-middle prompts
//! and runs a GGUF model in-process through llama.cpp.
//!
//! Modules follow the way a keystroke travels; ARCHITECTURE.md has the map.

pub mod config;
pub mod config_file;
pub mod logging;
pub mod regular_file;
pub mod secrets;
pub mod version;
pub mod workspace;

pub mod completion;
pub mod context;
pub mod documents;
pub mod engine;
pub mod models;
pub mod postprocess;
pub mod prompt;
pub mod schedule;
pub mod server;
pub mod session;

// The measuring lab (`infill eval`, `infill bench`): it drives the daemon from outside, and the
// modules above never import it (a test in `lab/mod.rs` checks).
pub mod lab;
