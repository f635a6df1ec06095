//! Zed extension that runs `infill serve` as a language server. Zed shows its
//! `textDocument/completion` items in the completion menu (Zed has no generic LSP inline
//! completion). The binary, its arguments, `initialization_options` and `settings` come from
//! Zed's `lsp.infill` settings:
//!
//! ```json
//! "lsp": { "infill": {
//!   "binary": { "path": "/home/me/.cargo/bin/infill" },
//!   "initialization_options": { "model": "/home/me/models/starcoder2-3b-Q4_K_M.gguf" }
//! } }
//! ```

use zed_extension_api::{self as zed, settings::LspSettings, LanguageServerId, Result};

const SERVER: &str = "infill";

/// The command Zed runs: the configured binary, else `infill` on the worktree's `PATH`; the
/// configured arguments, else `serve`.
pub fn server_command(
    configured_path: Option<String>,
    configured_args: Option<Vec<String>>,
    on_path: Option<String>,
) -> std::result::Result<(String, Vec<String>), String> {
    let command = configured_path.filter(|p| !p.trim().is_empty()).or(on_path).ok_or_else(|| {
        "infill is not on PATH: install it (cargo install --path . in the infill repository) \
         or set lsp.infill.binary.path in Zed's settings"
            .to_string()
    })?;
    let args = configured_args.unwrap_or_else(|| vec!["serve".into()]);
    Ok((command, args))
}

struct Infill;

impl zed::Extension for Infill {
    fn new() -> Self {
        Infill
    }

    fn language_server_command(
        &mut self,
        _id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<zed::Command> {
        let binary = LspSettings::for_worktree(SERVER, worktree).ok().and_then(|s| s.binary);
        let (path, args) = match binary {
            Some(b) => (b.path, b.arguments),
            None => (None, None),
        };
        let (command, args) = server_command(path, args, worktree.which(SERVER))?;
        Ok(zed::Command { command, args, env: worktree.shell_env() })
    }

    fn language_server_initialization_options(
        &mut self,
        _id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<zed::serde_json::Value>> {
        Ok(LspSettings::for_worktree(SERVER, worktree).ok().and_then(|s| s.initialization_options))
    }

    fn language_server_workspace_configuration(
        &mut self,
        _id: &LanguageServerId,
        worktree: &zed::Worktree,
    ) -> Result<Option<zed::serde_json::Value>> {
        Ok(LspSettings::for_worktree(SERVER, worktree).ok().and_then(|s| s.settings))
    }
}

zed::register_extension!(Infill);

#[cfg(test)]
mod tests {
    use super::server_command;

    #[test]
    fn configured_binary_wins_and_serve_is_the_default_argument() {
        let found = Some("/usr/bin/infill".to_string());
        assert_eq!(
            server_command(Some("/opt/infill".into()), None, found.clone()),
            Ok(("/opt/infill".into(), vec!["serve".into()]))
        );
        assert_eq!(server_command(Some(" ".into()), None, found.clone()).unwrap().0, "/usr/bin/infill");
        assert_eq!(
            server_command(None, Some(vec!["serve".into(), "--model".into(), "m.gguf".into()]), found)
                .unwrap()
                .1,
            vec!["serve", "--model", "m.gguf"]
        );
        let missing = server_command(None, None, None).unwrap_err();
        assert!(missing.contains("lsp.infill.binary.path"), "{missing}");
    }
}
