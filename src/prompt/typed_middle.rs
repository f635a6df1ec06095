//! Typing at the place of the last prompt. In prefix–suffix–middle order every character typed
//! at the end of the prefix moves the whole suffix (up to its 512-token budget) after it, so
//! each keystroke's prompt would evaluate the suffix again: seconds on a CPU. Instead, the text
//! typed since the last fresh prompt of the document opens the middle: the prompt is the old
//! one with the typed text after its middle token, and the KV cache keeps all of the old one.
//!
//! The model reads the same document either way: prefix + middle + suffix. Training predicts
//! every middle token from the prefix, the suffix and the middle before it, so a middle that
//! starts with the user's text is what the model was trained on, as is one that starts with
//! text it wrote itself (the engine's typing-through reuse).

use super::{Order, Piece, Prompt};

/// Typed text longer than this starts a fresh prompt: it is then about as cheap as the typing
/// it saves, and keeps the middle as long as the ones FIM training cuts.
pub const MAX_TYPED_CHARS: usize = 1024;

/// `fresh` (the prompt `build` made for the cursor now) as a continuation of `anchor` (the
/// document's last fresh prompt), when the only difference between them is text typed at the
/// anchor's cursor: the same front (repository context, header), the same prefix start, the
/// same suffix. `None` when `fresh` must be used as it is.
pub fn continue_typing(anchor: &Prompt, fresh: &Prompt, order: Order) -> Option<Prompt> {
    // In suffix–prefix–middle order the prefix ends the prompt already: typing only appends.
    if order != Order::PrefixSuffixMiddle {
        return None;
    }
    let index = anchor.prefix_piece?;
    if fresh.prefix_piece != Some(index) || fresh.pieces.len() != anchor.pieces.len() {
        return None;
    }
    let (Piece::Text(old), Piece::Text(new)) = (&anchor.pieces[index], &fresh.pieces[index]) else {
        return None;
    };
    let typed = new.strip_prefix(old.as_str())?;
    if typed.is_empty() || typed.chars().count() > MAX_TYPED_CHARS {
        return None;
    }
    let unchanged =
        anchor.pieces.iter().zip(&fresh.pieces).enumerate().all(|(i, (a, b))| i == index || a == b);
    if !unchanged {
        return None;
    }
    let mut prompt = anchor.clone();
    prompt.pieces.push(Piece::Text(typed.to_string()));
    // The text that ends at the cursor is now the typed text (`engine::heal` backs off from it).
    prompt.prefix_piece = Some(prompt.pieces.len() - 1);
    prompt.prefix_chars = fresh.prefix_chars;
    prompt.typed_middle_chars = typed.chars().count();
    Some(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::budget::tests::WordCounter;
    use crate::prompt::{Budgets, ContextSnippet, FimInput, Stability, build, template};

    fn at(prefix: &str, suffix: &str, context: &str) -> FimInput {
        FimInput {
            path: "src/fib.py".into(),
            repo_name: Some("proj".into()),
            prefix: prefix.into(),
            suffix: suffix.into(),
            context: vec![ContextSnippet {
                path: "util.py".into(),
                lines: vec![(0, context.into())],
                stability: Stability::Workspace,
            }],
            prefix_first_line: 0,
            repo_header: Default::default(),
        }
    }

    fn prompt(input: &FimInput, order: Order) -> Prompt {
        let template = template::by_name("qwen2.5-coder").expect("row");
        build(template, order, input, Budgets::default(), None, &mut WordCounter { calls: 0 })
    }

    const PSM: Order = Order::PrefixSuffixMiddle;

    #[test]
    fn text_typed_at_the_cursor_opens_the_middle_after_the_old_prompt() {
        let anchor = prompt(&at("def fib(n):\n    ", "\n\nprint(fib(3))\n", "X = 1"), PSM);
        let fresh = prompt(&at("def fib(n):\n    if n <", "\n\nprint(fib(3))\n", "X = 1"), PSM);
        let typed = continue_typing(&anchor, &fresh, PSM).expect("continues");
        assert_eq!(typed.render(), format!("{}if n <", anchor.render()));
        // The same document, read in the same order by the model: prefix, suffix, then middle.
        assert!(
            typed.render().ends_with("print(fib(3))\n<|fim_middle|>if n <"),
            "{}",
            typed.render()
        );
        assert_eq!(typed.typed_middle_chars, 6);
        assert_eq!(typed.prefix_chars, fresh.prefix_chars);
        assert!(
            matches!(&typed.pieces[typed.prefix_piece.unwrap()], Piece::Text(t) if t == "if n <")
        );
    }

    #[test]
    fn anything_but_typing_at_the_cursor_needs_a_fresh_prompt() {
        let suffix = "\n\nprint(fib(3))\n";
        let anchor = prompt(&at("def fib(n):\n    ", suffix, "X = 1"), PSM);
        let continues = |prefix: &str, suffix: &str, context: &str| {
            continue_typing(&anchor, &prompt(&at(prefix, suffix, context), PSM), PSM).is_some()
        };
        assert!(continues("def fib(n):\n    return", suffix, "X = 1"));
        // Nothing typed, a deletion before the old cursor, an edit above it.
        assert!(!continues("def fib(n):\n    ", suffix, "X = 1"));
        assert!(!continues("def fib(n):\n   ", suffix, "X = 1"));
        assert!(!continues("def fob(n):\n    return", suffix, "X = 1"));
        // The cursor moved on over the suffix, or the suffix was edited.
        assert!(!continues("def fib(n):\n    \n", "\nprint(fib(3))\n", "X = 1"));
        assert!(!continues("def fib(n):\n    return", "\n\nprint(fib(4))\n", "X = 1"));
        // Other repository context chosen.
        assert!(!continues("def fib(n):\n    return", suffix, "Y = 2"));
        // Too much typed to be worth it.
        let long = format!("def fib(n):\n    {}", "x".repeat(MAX_TYPED_CHARS + 1));
        assert!(!continues(&long, suffix, "X = 1"));
    }

    #[test]
    fn suffix_first_prompts_grow_at_their_end_already() {
        let order = Order::SuffixPrefixMiddle;
        let anchor = prompt(&at("def fib(n):\n    ", "\n", "X = 1"), order);
        let fresh = prompt(&at("def fib(n):\n    return", "\n", "X = 1"), order);
        assert_eq!(continue_typing(&anchor, &fresh, order), None);
    }
}
