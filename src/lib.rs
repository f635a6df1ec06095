//! infill — a local code-completion daemon: an LSP server that builds fill-in-the-middle prompts
//! and runs a GGUF model in-process through llama.cpp.
//!
//! Modules follow the way a keystroke travels; ARCHITECTURE.md has the map.

pub mod baseline;
pub mod bench;
pub mod config;
pub mod logging;
pub mod lsp_client;
pub mod secrets;
pub mod workspace;

pub mod completion;
pub mod context;
pub mod documents;
pub mod engine;
pub mod eval;
pub mod postprocess;
pub mod prompt;
pub mod schedule;
pub mod server;
pub mod session;
