//! Brackets in code, found without knowing the language: `()`, `[]` and `{}` outside string
//! literals and line comments. Shared by the filters that reason about what a suggestion closes.
//!
//! The rules are deliberately simple, and each line is read on its own:
//! - `"`, `'` and `` ` `` start a literal that ends at the same quote on the same line (`\`
//!   escapes). A quote with no partner on its line is an ordinary character: an apostrophe, or
//!   a multi-line string we cannot follow.
//! - A `'` that starts a Rust lifetime is not a quote: `&'a`, `<'a` and `'a>`.
//! - `//` starts a comment; so does `#` at the start of a line or after a space when a space, a
//!   tab, another `#` or the end of the line follows (so `#include`, `#[derive]` and CSS `#id`
//!   stay code — their brackets balance anyway, or matter).
//! - Block comments and strings spanning lines are not followed: brackets in them count.

use super::lines::{first_line, last_line, line_spans};

/// What a bracket found in a suggestion does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Opens,
    /// Closes a bracket the suggestion opened, at byte offset `opener`.
    ClosesOwn {
        opener: usize,
    },
    /// Closes a bracket opened before the cursor.
    ClosesBeforeCursor,
    /// Closes nothing: no bracket is open, or the innermost open one is of another kind.
    Unmatched,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bracket {
    /// Byte offset in the suggestion.
    pub offset: usize,
    pub role: Role,
}

/// What the document around the cursor says about brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BracketContext {
    /// Brackets opened before the cursor and still open, innermost last.
    pub open_before_cursor: Vec<u8>,
    /// Closers on the cursor line after the cursor that close something opened before it
    /// (or nothing): the suggestion must leave that many brackets open for them.
    pub closed_by_suffix: usize,
    /// Brackets opened on the cursor line before the cursor and still open there.
    pub open_on_cursor_line: usize,
}

impl BracketContext {
    /// From the text before and after the cursor.
    pub fn new(prefix: &str, suffix: &str) -> Self {
        let open_before_cursor = open_brackets(prefix);
        let closed_by_suffix = walk(last_line(prefix), first_line(suffix), &open_before_cursor)
            .iter()
            .filter(|b| matches!(b.role, Role::ClosesBeforeCursor | Role::Unmatched))
            .count();
        let open_on_cursor_line = open_brackets(last_line(prefix)).len();
        Self { open_before_cursor, closed_by_suffix, open_on_cursor_line }
    }

    /// How many brackets opened before the cursor a suggestion may close. When the rest of the
    /// cursor line closes some, they are the cursor line's own (innermost) brackets, and the
    /// suggestion may close only those the line opened that the rest leaves open: more would
    /// write the rest's closers a second time. Brackets opened on earlier lines (the enclosing
    /// function's `{`) close further down, so they count only when the rest of the line closes
    /// nothing (a multi-line suggestion may then close the block it is in).
    pub fn closable(&self) -> usize {
        if self.closed_by_suffix > 0 {
            self.open_on_cursor_line.saturating_sub(self.closed_by_suffix)
        } else {
            self.open_before_cursor.len()
        }
    }
}

/// The brackets of `text` in order, with their roles. `text` continues `line_before_cursor`
/// (read together so that a literal opened before the cursor is followed into the suggestion);
/// `open_before_cursor` is innermost last.
pub fn walk(line_before_cursor: &str, text: &str, open_before_cursor: &[u8]) -> Vec<Bracket> {
    let joined = format!("{line_before_cursor}{text}");
    let head = line_before_cursor.len();
    let mut before = open_before_cursor.to_vec();
    let mut own: Vec<(u8, usize)> = Vec::new();
    let mut found = Vec::new();
    scan(&joined, |at, bracket| {
        let Some(offset) = at.checked_sub(head) else { return };
        let role = match opener_of(bracket) {
            None => {
                own.push((bracket, offset));
                Role::Opens
            }
            Some(opener) => match own.last() {
                Some(&(open, at)) if open == opener => {
                    own.pop();
                    Role::ClosesOwn { opener: at }
                }
                Some(_) => Role::Unmatched,
                None if before.last() == Some(&opener) => {
                    before.pop();
                    Role::ClosesBeforeCursor
                }
                None => Role::Unmatched,
            },
        };
        found.push(Bracket { offset, role });
    });
    found
}

/// Brackets still open at the end of `text`, innermost last. A closer that does not match the
/// innermost open bracket is ignored: stray text far above the cursor should not unwind all.
pub fn open_brackets(text: &str) -> Vec<u8> {
    let mut open = Vec::new();
    scan(text, |_, bracket| match opener_of(bracket) {
        None => open.push(bracket),
        Some(opener) => {
            if open.last() == Some(&opener) {
                open.pop();
            }
        }
    });
    open
}

/// The opener a closer matches; `None` for an opener.
fn opener_of(bracket: u8) -> Option<u8> {
    match bracket {
        b')' => Some(b'('),
        b']' => Some(b'['),
        b'}' => Some(b'{'),
        _ => None,
    }
}

/// Calls `found(offset, bracket)` for each bracket outside literals and comments, in order.
/// Every byte looked at is ASCII, so offsets are always char boundaries.
fn scan(text: &str, mut found: impl FnMut(usize, u8)) {
    for (start, line) in line_spans(text) {
        let line = line.as_bytes();
        let mut i = 0;
        while i < line.len() {
            match line[i] {
                bracket @ (b'(' | b')' | b'[' | b']' | b'{' | b'}') => found(start + i, bracket),
                b'/' if line.get(i + 1) == Some(&b'/') => break,
                b'#' if starts_hash_comment(line, i) => break,
                b'\'' if starts_lifetime(line, i) => {}
                b'"' | b'\'' | b'`' => {
                    if let Some(end) = closing_quote(line, i) {
                        i = end;
                    }
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// Offset of the quote that closes the one at `open`, on the same line.
fn closing_quote(line: &[u8], open: usize) -> Option<usize> {
    let quote = line[open];
    let mut i = open + 1;
    while i < line.len() {
        match line[i] {
            b'\\' => i += 2,
            b if b == quote => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn starts_hash_comment(line: &[u8], at: usize) -> bool {
    let after_space = at == 0 || matches!(line[at - 1], b' ' | b'\t');
    let before_text = matches!(line.get(at + 1), None | Some(b' ' | b'\t' | b'#'));
    after_space && before_text
}

/// `'a` in `&'a`, `<'a` or `'a>`; not a char literal such as `'a'`.
fn starts_lifetime(line: &[u8], at: usize) -> bool {
    let is_ident = |b: &&u8| b.is_ascii_alphanumeric() || **b == b'_' || **b >= 0x80;
    let name_len = line[at + 1..].iter().take_while(is_ident).count();
    if name_len == 0 {
        return false;
    }
    let after = line.get(at + 1 + name_len).copied();
    let before = at.checked_sub(1).map(|i| line[i]);
    after != Some(b'\'') && (matches!(before, Some(b'&' | b'<')) || after == Some(b'>'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The brackets `scan` reports, as a string.
    fn seen(text: &str) -> String {
        let mut out = String::new();
        scan(text, |_, b| out.push(b as char));
        out
    }

    #[test]
    fn literals_and_comments_hide_brackets() {
        for (text, brackets) in [
            ("f(a[1], {b})", "([]{})"),
            (r#"print("(", ')', `[`)"#, "()"),
            (r#"s = "a \" (" + x"#, ""),
            (r"c = '\'' + f(x)", "()"),
            ("x = 1  # see (a", ""),
            ("# (a\nb)", ")"),
            ("a = f(b) // (c", "()"),
            ("url = 'http://x' + g(", "("),
            ("don't (stop", "("),
            // A quote left open on its line does not swallow the next line.
            ("s = \"abc (\nf(x)", "(()"),
            ("#[derive(Debug)]", "[()]"),
            ("#main { color: red; }", "{}"),
            ("a##b(", "("),
            ("x = \"é(\" + (ü)", "()"),
            ("", ""),
        ] {
            assert_eq!(seen(text), brackets, "{text:?}");
        }
    }

    #[test]
    fn rust_lifetimes_are_not_quotes() {
        for (text, brackets) in [
            ("fn f<'a>(x: &'a str) -> &'a str {", "(){"),
            ("impl<'a, 'b> Foo<'a, 'b> {", "{"),
            ("fn g<T: 'static>(t: T) {}", "(){}"),
            ("let c = 'a'; let d = '(';", ""),
            ("where T: 'static, U: 'static {", "{"),
            ("x = 'static (' + y", ""),
        ] {
            assert_eq!(seen(text), brackets, "{text:?}");
        }
    }

    #[test]
    fn roles() {
        use Role::*;
        let roles = |before: &str, text: &str, open: &[u8]| -> Vec<(usize, Role)> {
            walk(before, text, open).into_iter().map(|b| (b.offset, b.role)).collect()
        };
        assert_eq!(
            roles("print(", "foo(a))]", b"("),
            [(3, Opens), (5, ClosesOwn { opener: 3 }), (6, ClosesBeforeCursor), (7, Unmatched)]
        );
        // The innermost open bracket decides: `]` cannot close `(`.
        assert_eq!(roles("", "(]", b"["), [(0, Opens), (1, Unmatched)]);
        // A literal opened before the cursor hides the suggestion's brackets until it closes.
        assert_eq!(roles("print(\"(", "a)\")", b"(("), [(3, ClosesBeforeCursor)]);
    }

    #[test]
    fn context_counts_what_the_suffix_closes() {
        let context = BracketContext::new("x = f(g(", "), 1)\n}");
        assert_eq!(context.open_before_cursor, b"((");
        assert_eq!(context.closed_by_suffix, 2);
        assert_eq!(context.closable(), 0);
        let context = BracketContext::new("fn main() {\n    let v = vec![", "");
        assert_eq!(context.open_before_cursor, b"{[");
        assert_eq!(context.closable(), 2);
        // A stray closer in the prefix is ignored rather than unwinding the open brackets.
        assert_eq!(open_brackets("{ a) [b]"), b"{");
        // A closer inside the literal the cursor is in does not count.
        assert_eq!(BracketContext::new("f(\"", ")\")").closed_by_suffix, 1);
    }
}
