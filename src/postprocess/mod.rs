//! Post-processing stage: filters applied to the engine's raw text before it reaches the editor,
//! one filter per file, each with golden tests.
//!
//! Most filters only cut the suggestion short; [`apply`] runs them in this order:
//! 1. `line_endings::to_lf` — the filters below see `\n` only;
//! 2. `typed_indentation` — on a line holding only the indentation the editor put there, the
//!    indentation the model wrote again is dropped, so the others see the lines where they will
//!    stand;
//! 3. `echoed_word` — after a word and a space (`impl `), the same word written again at the
//!    start (`impl Foo {`) is dropped; with `typed_indentation` the only filters that rewrite the
//!    start rather than cut the end;
//! 4. `repeated_lines` — a looping model's copies go first, so the rest reason about what the
//!    model meant;
//! 5. `end_of_block` — stop where the code leaves the cursor's block;
//! 6. `suffix_overlap` — stop at a line the suffix already has, then drop a tail that repeats the
//!    rest of the cursor line; it runs after the line cuts so that it sees the final last line;
//! 7. `bracket_balance` — stop at a closer with nothing left to close, counting what the rest of
//!    the cursor line closes; after the overlap, which removes duplicated text around closers
//!    (`lo");` before `");`) that a bracket cut alone would leave half of;
//! 8. `trailing_whitespace` then `line_endings::match_document` — cuts leave trailing newlines
//!    and indentation behind, and the document's line breaks come last.
//!
//! Each of 2–7 can be switched off ([`Filters`], `initializationOptions.filters`), e.g. to
//! measure its effect with `infill eval`.

mod bracket_balance;
mod brackets;
mod echoed_word;
mod end_of_block;
mod line_endings;
mod lines;
mod repeated_lines;
mod suffix_overlap;
mod trailing_whitespace;
mod typed_indentation;

use serde::{Deserialize, Serialize};

use brackets::BracketContext;

/// What the filters know about the document around the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Surroundings<'a> {
    /// Text before the cursor (the cursor window's prefix); its last line is the start of the
    /// cursor line, which the suggestion's first line continues.
    pub prefix: &'a str,
    /// Text after the cursor (the cursor window's suffix); its first line is the rest of the
    /// cursor line, which will follow the suggestion's last line.
    pub suffix: &'a str,
    /// The document writes `\r\n` line breaks.
    pub crlf: bool,
}

impl<'a> Surroundings<'a> {
    /// The cursor line's text before the cursor.
    pub fn line_before_cursor(&self) -> &'a str {
        lines::last_line(self.prefix)
    }
}

/// Which optional filters run; all do by default. Trailing whitespace and line endings always do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Filters {
    pub typed_indentation: bool,
    pub echoed_word: bool,
    pub repeated_lines: bool,
    pub end_of_block: bool,
    pub suffix_overlap: bool,
    pub bracket_balance: bool,
}

impl Default for Filters {
    fn default() -> Self {
        Self {
            typed_indentation: true,
            echoed_word: true,
            repeated_lines: true,
            end_of_block: true,
            suffix_overlap: true,
            bracket_balance: true,
        }
    }
}

/// Runs the filters in the order given in the module comment.
pub fn apply(raw: &str, surroundings: &Surroundings, filters: &Filters) -> String {
    let normalised = line_endings::to_lf(raw);
    let line_before_cursor = surroundings.line_before_cursor();
    let reindented = if filters.typed_indentation {
        typed_indentation::strip(&normalised, surroundings.prefix)
    } else {
        std::borrow::Cow::Borrowed(&*normalised)
    };
    let mut text: &str = &reindented;
    if filters.echoed_word {
        text = echoed_word::strip(text, line_before_cursor);
    }
    if filters.repeated_lines {
        text = repeated_lines::cut_at_repeat(text, line_before_cursor);
    }
    if filters.end_of_block {
        text = end_of_block::cut(text, surroundings.prefix, surroundings.suffix);
    }
    if filters.suffix_overlap || filters.bracket_balance {
        let brackets = BracketContext::new(surroundings.prefix, surroundings.suffix);
        if filters.suffix_overlap {
            text = suffix_overlap::trim(text, line_before_cursor, surroundings.suffix, &brackets);
        }
        if filters.bracket_balance {
            text = bracket_balance::cut(text, line_before_cursor, &brackets);
        }
    }
    let text = trailing_whitespace::trim(text);
    line_endings::match_document(&text, surroundings.crlf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use serde_json::json;

    fn at(prefix: &'static str, suffix: &'static str) -> Surroundings<'static> {
        Surroundings { prefix, suffix, crlf: false }
    }

    #[test]
    fn filters_compose() {
        let all = Filters::default();
        let out = apply("a  \nb\n\n", &Surroundings { prefix: "", suffix: "", crlf: true }, &all);
        assert_eq!(out, "a\r\nb");
        // Qwen2.5-Coder running past the hole: test code, then a Markdown fence.
        let body = at("def add(a, b):\n    ", "\n\ndef sub(a, b):\n    return a - b\n");
        let raw = "return a + b\n\n# Test cases\nprint(add(1, 2))\n```";
        assert_eq!(apply(raw, &body, &all), "return a + b");
        // A CRLF document, and a model writing `\r\n` itself.
        let crlf = Surroundings { prefix: "fn f() {\r\n    ", suffix: "\r\n}\r\n", crlf: true };
        assert_eq!(apply("let x = 1;\r\n    x\n}\n", &crlf, &all), "let x = 1;\r\n    x");
        // Mid-line: the closer the editor already inserted is not written twice.
        assert_eq!(apply("add(1, 2))", &at("    print(", ")\n"), &all), "add(1, 2)");
        assert_eq!(apply("", &at("x", "y"), &all), "");
    }

    #[test]
    fn each_switch_turns_its_filter_off() {
        type Switch = fn(&mut Filters);
        let cases: [(&str, Switch, Surroundings, &str, &str); 6] = [
            (
                "typedIndentation",
                |f| f.typed_indentation = false,
                at("def f():\n    ", ""),
                "    return 1",
                "return 1",
            ),
            ("echoedWord", |f| f.echoed_word = false, at("impl ", ""), "impl Foo {", "Foo {"),
            ("repeatedLines", |f| f.repeated_lines = false, at("", ""), "x = 1\nx = 1", "x = 1"),
            (
                "endOfBlock",
                |f| f.end_of_block = false,
                at("def f():\n    ", ""),
                "return 1\nprint(f())",
                "return 1",
            ),
            ("suffixOverlap", |f| f.suffix_overlap = false, at("x = ", ";"), "1;", "1"),
            ("bracketBalance", |f| f.bracket_balance = false, at("x = ", ""), "a) + b", "a"),
        ];
        for (name, switch_off, surroundings, raw, filtered) in cases {
            assert_eq!(apply(raw, &surroundings, &Filters::default()), filtered, "{name} on");
            let mut filters = Filters::default();
            switch_off(&mut filters);
            assert_eq!(apply(raw, &surroundings, &filters), raw, "{name} off");
        }
    }

    /// Random text made of the characters the filters care about, multi-byte ones included:
    /// no input may panic, and every optional filter only ever cuts the text short.
    #[test]
    fn any_input_is_cut_never_rewritten() {
        const ALPHABET: [&str; 28] = [
            "a", "_", " ", "\t", "\n", "\r\n", "(", ")", "[", "]", "{", "}", "\"", "'", "`", "#",
            "//", "\\", "<", ">", "&", ";", "x = ", "é", "変", "😀", "    ", "\u{3000}",
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut random_text = || {
            let mut next = || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            let len = next() % 24;
            (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect::<String>()
        };
        for _ in 0..20_000 {
            let (prefix, raw, suffix) = (random_text(), random_text(), random_text());
            let surroundings = Surroundings { prefix: &prefix, suffix: &suffix, crlf: true };
            apply(&raw, &surroundings, &Filters::default());
            let text = line_endings::to_lf(&raw);
            let before = surroundings.line_before_cursor();
            let brackets = BracketContext::new(&prefix, &suffix);
            for cut in [
                repeated_lines::cut_at_repeat(&text, before),
                end_of_block::cut(&text, &prefix, &suffix),
                suffix_overlap::trim(&text, before, &suffix, &brackets),
                bracket_balance::cut(&text, before, &brackets),
            ] {
                assert!(text.starts_with(cut), "{prefix:?} + {raw:?} + {suffix:?} gave {cut:?}");
            }
        }
    }

    #[test]
    fn switches_come_from_initialization_options() {
        let options = json!({"filters": {"endOfBlock": false, "bracketBalance": false}});
        let (settings, warnings) = Settings::from_json(Some(&options));
        assert!(warnings.is_empty(), "{warnings:?}");
        let expected =
            Filters { end_of_block: false, bracket_balance: false, ..Filters::default() };
        assert_eq!(settings.filters, expected);
        // A typo keeps every filter on and is reported.
        let (settings, warnings) =
            Settings::from_json(Some(&json!({"filters": {"endOfBlok": false}})));
        assert_eq!(settings.filters, Filters::default());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }
}
