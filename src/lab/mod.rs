//! The lab: the tools that measure infill, never part of the keystroke path.
//!
//! - `eval` — `infill eval TASKS.jsonl`: completion quality on fill-in-the-middle tasks, each
//!   run through a real `infill serve` over stdio, optionally beside a llama-server baseline.
//! - `bench` — `infill bench`: typing latency, a trace of keystrokes replayed in real time against
//!   `infill serve` (and llama-server as llama.vim drives it); `infill bench-context`: the
//!   repository-context stage alone, timed on a folder.
//! - `lsp_client` — the blocking stdio LSP client both of them (and the integration tests) drive
//!   the server with, as an editor would.
//! - `llama_server` — llama.cpp's own server asked at `/infill` the way llama.vim asks it: the
//!   baseline infill is compared with.
//!
//! The rule: the lab may use the daemon's modules (it measures them), but the daemon's code never
//! imports `crate::lab`, so the daemon builds, reads and changes without it and the lab could move
//! to a crate of its own. Only the command line (`src/main.rs`) reaches in, to dispatch
//! `infill eval`, `infill bench` and `infill bench-context`. The test below holds the rule.

pub mod bench;
pub mod eval;
pub mod llama_server;
pub mod lsp_client;

/// `infill serve` as the lab starts it: without the user's settings file
/// (`$XDG_CONFIG_HOME/infill/config.toml`), so that a measurement depends only on its own
/// `--options`.
pub fn measured_server(exe: &std::path::Path) -> std::process::Command {
    let no_config = std::env::temp_dir().join("infill-lab-no-config");
    let _ = std::fs::create_dir_all(&no_config);
    let mut command = std::process::Command::new(exe);
    command.arg("serve").env("XDG_CONFIG_HOME", no_config);
    command
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Every `.rs` file under `dir`, depth first, in a stable order.
    fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
            .map(|entry| entry.expect("directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }

    /// Lines of `text` that name the lab as a path: `crate::lab`, `infill::lab`, `super::lab`, or
    /// a `lab::` segment reached some other way (`use crate::{config, lab::eval}`).
    fn lab_mentions(text: &str) -> Vec<(usize, &str)> {
        let is_ident = |c: char| c.is_alphanumeric() || c == '_';
        let names_lab = |line: &str| {
            line.match_indices("lab").any(|(at, _)| {
                let (before, after) = (&line[..at], &line[at + "lab".len()..]);
                !before.ends_with(is_ident)
                    && !after.starts_with(is_ident)
                    && (["crate::", "infill::", "super::"]
                        .iter()
                        .any(|root| before.ends_with(root))
                        || after.starts_with("::"))
            })
        };
        text.lines()
            .enumerate()
            .filter(|(_, line)| names_lab(line))
            .map(|(i, l)| (i + 1, l))
            .collect()
    }

    #[test]
    fn the_daemon_never_imports_the_lab() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        // The lab itself, and main.rs: the command line, which dispatches `infill eval`,
        // `infill bench` and `infill bench-context` to the lab (it is the binary, not the daemon).
        let allowed = [src.join("lab"), src.join("main.rs")];
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let daemon: Vec<&PathBuf> =
            files.iter().filter(|path| !allowed.iter().any(|a| path.starts_with(a))).collect();
        assert!(
            daemon.iter().any(|path| path.ends_with("lib.rs")),
            "no daemon files found in {}",
            src.display()
        );
        let mut offenders = Vec::new();
        for path in daemon {
            let text = std::fs::read_to_string(path)
                .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
            for (line, content) in lab_mentions(&text) {
                let file = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path);
                offenders.push(format!("{}:{line}: {}", file.display(), content.trim()));
            }
        }
        assert!(
            offenders.is_empty(),
            "daemon code must not import the lab (crate::lab); what both need belongs outside \
             src/lab/:\n{}",
            offenders.join("\n")
        );
    }

    #[test]
    fn lab_paths_are_found_in_every_spelling() {
        assert_eq!(lab_mentions("use crate::lab::eval;").len(), 1);
        assert_eq!(lab_mentions("use crate::lab;").len(), 1);
        assert_eq!(lab_mentions("let x = infill::lab::bench::run;").len(), 1);
        assert_eq!(lab_mentions("use crate::{config, lab::llama_server};").len(), 1);
        assert_eq!(lab_mentions("use super::super::lab::lsp_client;").len(), 1);
        assert!(
            lab_mentions("pub mod lab;\nuse crate::engine::collab::x; // vocab::lab_x").is_empty()
        );
    }
}
