//! The completion pipeline, shared by the LSP requests and `infill complete`:
//! document snapshot → cursor window → FIM input → engine thread (prompt, decode) → post-processing.

pub mod cursor;

use ropey::Rope;

use crate::config::Settings;
use crate::documents::DocumentSnapshot;
use crate::engine::{CancelFlag, Engine, EngineError, Generation, GenerationParams};
use crate::postprocess::{self, Surroundings};
use crate::prompt::FimInput;
use crate::secrets;
use crate::workspace::{self, Workspace};

/// A suggestion ready for the editor, with the engine's figures.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// Text to insert at the cursor.
    pub text: String,
    pub generation: Generation,
}

pub struct Pipeline {
    pub engine: Engine,
    pub settings: Settings,
    pub workspace: Workspace,
}

impl Pipeline {
    /// Completes at `char_idx`, a char index already validated against `document.rope`.
    /// `Ok(None)`: this document is never completed (a secrets file).
    pub async fn complete(
        &self,
        document: &DocumentSnapshot,
        char_idx: usize,
        cancel: CancelFlag,
    ) -> Result<Option<Suggestion>, EngineError> {
        if workspace::uri_to_path(document.uri.as_ref()).is_some_and(|p| secrets::is_secret(&p)) {
            tracing::debug!(uri = %document.uri, "no completion inside a secrets file");
            return Ok(None);
        }
        let window = cursor::window(&document.rope, char_idx, self.settings.multiline);
        let place = self.workspace.place_of(document.uri.as_ref());
        let input = FimInput {
            path: place.path,
            repo_name: place.repo_name,
            prefix: window.prefix.clone(),
            suffix: window.suffix.clone(),
            context_files: Vec::new(),
        };
        let params = GenerationParams::from_settings(&self.settings, window.single_line);
        let generation = self.engine.generate(input, params, cancel).await?;
        let crlf = uses_crlf(&document.rope, document.rope.char_to_line(char_idx));
        let surroundings = Surroundings { prefix: &window.prefix, suffix: &window.suffix, crlf };
        let text = postprocess::apply(&generation.text, &surroundings, &self.settings.filters);
        Ok(Some(Suggestion { text, generation }))
    }
}

/// Whether the document breaks lines with `\r\n`, judged at the cursor line or the one above.
fn uses_crlf(rope: &Rope, line: usize) -> bool {
    [line, line.saturating_sub(1)].into_iter().any(|l| {
        let text = rope.line(l);
        let n = text.len_chars();
        n >= 2 && text.char(n - 2) == '\r' && text.char(n - 1) == '\n'
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_is_detected_at_or_above_the_cursor() {
        assert!(uses_crlf(&Rope::from_str("a\r\nb\r\n"), 0));
        assert!(uses_crlf(&Rope::from_str("a\r\nb"), 1));
        assert!(!uses_crlf(&Rope::from_str("a\nb\n"), 1));
        assert!(!uses_crlf(&Rope::from_str(""), 0));
    }
}
