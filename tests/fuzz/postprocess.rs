//! The post-processing filters (`postprocess::apply`, and `completion::finish` around them) on
//! random model output and surroundings made of the characters they reason about.
//!
//! Invariants: no panic; the output is derived from the model's text: read with `\n` breaks, its
//! lines are the model's first lines with trailing whitespace trimmed, the last one possibly cut
//! short, and each may have lost the indentation the first line starts with (typed
//! indentation written again), the first one the word before the cursor written again; nothing
//! is added or reordered; a suggestion above code may end with one line break; it uses the document's line breaks; with every optional filter off,
//! only whitespace is trimmed.

use infill::completion::{cursor::CursorWindow, finish};
use infill::postprocess::{Filters, Surroundings, apply};
use proptest::prelude::*;

use crate::harness::{ensure, fuzz, json_corpus};

fn text_strategy(max: usize) -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a",
        "_",
        " ",
        "\t",
        "\n",
        "\r\n",
        "\r",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "\"",
        "'",
        "`",
        "#",
        "//",
        "\\",
        "<",
        ">",
        ";",
        "x = ",
        "return ",
        "def f():",
        "é",
        "変",
        "😀",
        "    ",
        "\u{3000}",
        "<|endoftext|>",
    ]);
    prop::collection::vec(pieces, 0..max).prop_map(|p| p.concat())
}

fn filters_strategy() -> impl Strategy<Value = Filters> {
    ((any::<bool>(), any::<bool>()), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>())
        .prop_map(|((t, w), r, e, s, b)| Filters {
            typed_indentation: t,
            echoed_word: w,
            repeated_lines: r,
            end_of_block: e,
            suffix_overlap: s,
            bracket_balance: b,
        })
}

fn trim_line(line: &str) -> &str {
    line.trim_end_matches([' ', '\t', '\r'])
}

/// `out` (read with `\n` breaks) is `raw`'s first lines, trailing whitespace trimmed, the last
/// one possibly cut short, each possibly without the indentation `raw`'s first line starts with.
fn derived(out: &str, raw: &str) -> Result<(), String> {
    if out.is_empty() {
        return Ok(());
    }
    let raw = raw.replace("\r\n", "\n");
    let first = raw.split('\n').next().unwrap_or_default();
    let indent = &first[..first.len() - first.trim_start_matches([' ', '\t']).len()];
    let unindented: Vec<String> =
        raw.split('\n').map(|l| l.strip_prefix(indent).unwrap_or(l).to_string()).collect();
    let unindented = unindented.join("\n");
    if !indent.is_empty() && derived_lines(out, &unindented).is_ok() {
        return Ok(());
    }
    derived_lines(out, &raw)
}

fn derived_lines(out: &str, raw: &str) -> Result<(), String> {
    let raw_lines: Vec<&str> = raw.split('\n').collect();
    let out_lines: Vec<&str> = out.split('\n').collect();
    if out_lines.len() > raw_lines.len() {
        return Err(format!("{} lines out of {}", out_lines.len(), raw_lines.len()));
    }
    let last = out_lines.len() - 1;
    for (i, line) in out_lines.iter().enumerate() {
        let from = trim_line(raw_lines[i]);
        let ok = if i < last { *line == from } else { from.starts_with(line) };
        if !ok || *line != trim_line(line) {
            return Err(format!("line {i} {line:?} is not from {:?}", raw_lines[i]));
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct Case {
    raw: String,
    prefix: String,
    suffix: String,
    crlf: bool,
    filters: Filters,
}

/// `raw` without a first word that repeats the word before the cursor (`impl ` then
/// `impl Foo`), when the prefix's last line ends with such a word and whitespace.
fn without_echo(raw: &str, prefix: &str) -> Option<String> {
    let line = prefix.rsplit('\n').next().unwrap_or_default();
    let trimmed = line.trim_end_matches([' ', '\t']);
    let word = trimmed.split([' ', '\t']).next_back().filter(|_| trimmed.len() < line.len())?;
    let raw = raw.replace("\r\n", "\n");
    let rest = raw.strip_prefix(word).filter(|_| word.chars().any(char::is_alphanumeric))?;
    let after = rest.trim_start_matches([' ', '\t']);
    (after.len() < rest.len()).then(|| after.to_string())
}

/// `derived`, from the model's text or from it without the echoed word.
fn derived_from_model(out: &str, case: &Case) -> Result<(), String> {
    match (derived(out, &case.raw), without_echo(&case.raw, &case.prefix)) {
        (Err(_), Some(stripped)) if derived(out, &stripped).is_ok() => Ok(()),
        (result, _) => result,
    }
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let surroundings = Surroundings { prefix: &case.prefix, suffix: &case.suffix, crlf: case.crlf };
    let out = apply(&case.raw, &surroundings, &case.filters);
    let lf = out.replace("\r\n", "\n");
    if case.crlf {
        ensure(!out.replace("\r\n", "").contains('\n'), || format!("a bare \\n in CRLF {out:?}"))?;
    } else {
        ensure(derived_from_model(&out, case).is_ok(), || {
            format!("LF: {:?}", derived_from_model(&out, case))
        })?;
    }
    derived_from_model(&lf, case)
        .map_err(|e| TestCaseError::fail(format!("{e}: {case:?} gave {out:?}")))?;

    let none = Filters {
        typed_indentation: false,
        echoed_word: false,
        repeated_lines: false,
        end_of_block: false,
        suffix_overlap: false,
        bracket_balance: false,
    };
    let plain = apply(&case.raw, &surroundings, &none).replace("\r\n", "\n");
    let raw_lf = case.raw.replace("\r\n", "\n");
    let lines: Vec<&str> = raw_lf.split('\n').map(trim_line).collect();
    let expected = lines.join("\n").trim_end_matches('\n').to_string();
    ensure(plain == expected, || format!("with no filter: {plain:?} from {:?}", case.raw))?;

    // The whole finishing step, as the pipeline runs it: above code, a suggestion of whole lines
    // ends with one line break.
    for before_code in [false, true] {
        let window = CursorWindow {
            prefix: case.prefix.clone(),
            suffix: case.suffix.clone(),
            prefix_first_line: 0,
            single_line: false,
            before_code,
        };
        let finished = finish(&case.raw, &window, case.crlf, &case.filters).replace("\r\n", "\n");
        let body = finished.strip_suffix('\n').filter(|_| before_code).unwrap_or(&finished);
        derived_from_model(body, case)
            .map_err(|e| TestCaseError::fail(format!("finish: {e}: {finished:?}")))?;
    }
    Ok(())
}

#[test]
fn postprocess_filters() {
    // Corpus: {"raw": …, "prefix": …, "suffix": …, "crlf": bool}, run with every filter.
    for (path, value) in json_corpus("postprocess") {
        let text = |key: &str| value[key].as_str().unwrap_or_default().to_string();
        let case = Case {
            raw: text("raw"),
            prefix: text("prefix"),
            suffix: text("suffix"),
            crlf: value["crlf"].as_bool().unwrap_or(false),
            filters: Filters::default(),
        };
        check(&case).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    }
    let strategy = (
        text_strategy(24),
        text_strategy(16),
        text_strategy(16),
        any::<bool>(),
        filters_strategy(),
    )
        .prop_map(|(raw, prefix, suffix, crlf, filters)| Case {
            raw,
            prefix,
            suffix,
            crlf,
            filters,
        });
    fuzz("postprocess_filters", 200_000, strategy, |case| check(&case));
}
