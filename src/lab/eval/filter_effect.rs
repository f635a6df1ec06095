//! `--filter-effect`: what each post-processing filter does to the scores. The server's raw
//! generation (from `infill/trace`) is finished again with one filter switched off at a time and
//! with none, exactly as the server would have done (`completion::finish`); each variant is
//! scored like an engine of its own, so the table shows them beside `infill`. (The row
//! `infill -secondOpinion`, the first answer where a second opinion replaced it, comes from the
//! trace; `eval/mod.rs` adds it.)
//!
//! This is exact because the filters only run after generation: switching one off changes the
//! text the editor gets, never what the model generated.

use ropey::Rope;

use super::tasks::Task;
use crate::completion::{self, cursor};
use crate::config::Settings;
use crate::postprocess::Filters;

/// Engine names and filter sets of the variants, given the filters the server ran with.
pub fn variants(all: Filters) -> Vec<(String, Filters)> {
    let without = |name: &str, filters: Filters| (format!("infill -{name}"), filters);
    vec![
        without("typedIndentation", Filters { typed_indentation: false, ..all }),
        without("echoedWord", Filters { echoed_word: false, ..all }),
        without("repeatedLines", Filters { repeated_lines: false, ..all }),
        without("endOfBlock", Filters { end_of_block: false, ..all }),
        without("suffixOverlap", Filters { suffix_overlap: false, ..all }),
        without("bracketBalance", Filters { bracket_balance: false, ..all }),
        (
            "infill no filters".into(),
            Filters {
                typed_indentation: false,
                echoed_word: false,
                repeated_lines: false,
                end_of_block: false,
                suffix_overlap: false,
                bracket_balance: false,
            },
        ),
    ]
}

/// The text the server would have sent for `raw` at the task's hole with `filters`.
pub fn finish(task: &Task, raw: &str, settings: &Settings, filters: &Filters) -> String {
    let rope = Rope::from_str(&format!("{}{}", task.prefix, task.suffix));
    let cursor_char = task.prefix.chars().count();
    let window = cursor::window(&rope, cursor_char, settings.multiline);
    let crlf = completion::uses_crlf(&rope, rope.char_to_line(cursor_char));
    completion::finish(raw, &window, crlf, filters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(prefix: &str, suffix: &str) -> Task {
        serde_json::from_value(serde_json::json!({
            "id": "t", "language": "python", "path": "a.py", "repo": null,
            "prefix": prefix, "suffix": suffix, "middle": "", "kind": "multi-line",
            "test": null, "entry_point": null, "source": "test"
        }))
        .expect("task")
    }

    #[test]
    fn switching_a_filter_off_keeps_what_it_would_cut() {
        let task = task("def add(a, b):\n    ", "\n\ndef sub(a, b):\n    return a - b\n");
        let raw = "return a + b\n\n# Test cases\nprint(add(1, 2))";
        let settings = Settings::default();
        assert_eq!(finish(&task, raw, &settings, &Filters::default()), "return a + b");
        let (name, none) = variants(Filters::default()).pop().expect("variants");
        assert_eq!(name, "infill no filters");
        assert_eq!(finish(&task, raw, &settings, &none), raw);
    }

    #[test]
    fn above_code_the_variants_keep_the_line_break() {
        let task = task("def f(x):\n", "    return x\n");
        let settings = Settings::default();
        assert_eq!(finish(&task, "    x += 1", &settings, &Filters::default()), "    x += 1\n");
    }
}
