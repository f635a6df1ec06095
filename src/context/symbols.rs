//! Which identifiers a file defines, found by a line scanner rather than a parser.
//!
//! `code_lines` walks a file once, line by line, with a small state machine that knows where
//! comments and string literals start and end (block comments, Python triple-quoted strings,
//! Rust raw strings, template literals), and how deep the brackets are at the start of each line.
//! `definitions` then looks only at lines that start in code, so a `def` inside a docstring or a
//! `fn` inside a comment is not taken for a definition. The same lines feed `imports`.

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Python,
    Rust,
    /// TypeScript and JavaScript: .ts .tsx .mts .cts .js .jsx .mjs .cjs
    TypeScript,
    Go,
    Other,
}

/// The language of a '/'-separated path, by its extension.
pub fn language_of(path: &str) -> Language {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((_, ext)) = name.rsplit_once('.') else { return Language::Other };
    let is = |e: &str| ext.eq_ignore_ascii_case(e);
    if is("py") || is("pyi") {
        Language::Python
    } else if is("rs") {
        Language::Rust
    } else if ["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs"].iter().any(|e| is(e)) {
        Language::TypeScript
    } else if is("go") {
        Language::Go
    } else {
        Language::Other
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub name: String,
    /// 0-based line of the definition's first line (the `def`/`fn`/`class` line; decorators and
    /// attributes not included).
    pub line: usize,
    /// Indentation (columns, tab = 4) of that line: 0 = top level, >0 = method/nested.
    pub indent: usize,
    pub kind: DefinitionKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionKind {
    Function,
    Method,
    /// class, struct, enum, union, trait, interface, type alias
    Type,
    /// Python ALL_CAPS or annotated module-level names, Rust const/static, TS top-level
    /// const/let/var that are not functions, Go const/var.
    Constant,
    Macro,
    Module,
}

/// The definitions of `text`, in line order.
pub fn definitions(language: Language, text: &str) -> Vec<Definition> {
    match language {
        Language::Python => python_definitions(text),
        Language::Rust => rust_definitions(text),
        Language::TypeScript => ts_definitions(text),
        Language::Go => go_definitions(text),
        Language::Other => Vec::new(),
    }
}

/// Identifier tokens of a text (`[A-Za-z_$][A-Za-z0-9_$]*`), in order of appearance; used for
/// similarity ranking. `$` counts as an identifier character in every language (TypeScript needs
/// it; elsewhere it only shows up in Rust macro variables). A word that touches a non-ASCII
/// character is skipped whole rather than cut, and digits never start a token (`0x1f`, `10usize`).
pub fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            while i < bytes.len() && WORD_BYTES[bytes[i] as usize] == 0 {
                i += 1;
            }
            if i == bytes.len() {
                return None;
            }
            let start = i;
            let mut seen = 0u8;
            while i < bytes.len() && WORD_BYTES[bytes[i] as usize] != 0 {
                seen |= WORD_BYTES[bytes[i] as usize];
                i += 1;
            }
            if seen & NON_ASCII == 0 && WORD_BYTES[bytes[start] as usize] == LETTER {
                return Some(&text[start..i]);
            }
        }
    })
}

const LETTER: u8 = 1;
const DIGIT: u8 = 2;
const NON_ASCII: u8 = 4;

/// What each byte is to `identifiers`: 0 separates words.
const WORD_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            LETTER
        } else if c.is_ascii_digit() {
            DIGIT
        } else if c >= 0x80 {
            NON_ASCII
        } else {
            0
        };
        b += 1;
    }
    table
};

// ---------------------------------------------------------------------------------------------
// Line scanner

/// One line of a file as the scanner sees it.
#[derive(Debug, Clone)]
pub(crate) struct CodeLine<'a> {
    /// 0-based line number.
    pub line: usize,
    /// The code of the line: comments replaced by a space (a line comment is cut off), string
    /// literals kept with their quotes, and the part of a string or block comment that continues
    /// from an earlier line left out.
    pub code: Cow<'a, str>,
    /// Leading whitespace in columns, tab = 4.
    pub indent: usize,
    /// Bracket depth (`(`, `[`, `{` together) at the start of the line.
    pub depth: usize,
    /// The line starts in code: not inside a string or block comment, and (Python) not after a
    /// backslash continuation.
    pub fresh: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrKind {
    /// Ends at the quote byte, backslash escapes the next byte.
    Quoted(u8),
    /// Python `'''` or `"""`.
    Triple(u8),
    /// Rust raw string closed by `"` and this many `#`.
    Raw(usize),
    /// Go raw string: ends at the next backtick, no escapes.
    Backtick,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carry {
    Code,
    /// Inside a block comment, with its nesting depth (Rust nests).
    Block(usize),
    Str(StrKind),
}

/// The lines of `text` with comments and strings recognized; see `CodeLine`.
pub(crate) fn code_lines(language: Language, text: &str) -> CodeLines<'_> {
    let mut special = [false; 256];
    for &c in b"()[]{}\"'" {
        special[c as usize] = true;
    }
    let extra: &[u8] = match language {
        Language::Python => b"#",
        Language::Rust => b"/",
        Language::TypeScript | Language::Go => b"/`",
        Language::Other => b"`",
    };
    for &c in extra {
        special[c as usize] = true;
    }
    CodeLines {
        language,
        special,
        rest: Some(text),
        line: 0,
        carry: Carry::Code,
        depth: 0,
        continued: false,
        last_significant: 0,
        segments: Vec::new(),
    }
}

pub(crate) struct CodeLines<'a> {
    language: Language,
    /// The bytes that can change the scanner's state in code; all others are skipped at once.
    special: [bool; 256],
    rest: Option<&'a str>,
    line: usize,
    carry: Carry,
    depth: usize,
    /// Python: the previous line ended with a backslash.
    continued: bool,
    /// TypeScript: the last non-space code byte of the previous lines, to tell a regex literal
    /// from a division at the start of a line.
    last_significant: u8,
    segments: Vec<(usize, usize)>,
}

impl<'a> Iterator for CodeLines<'a> {
    type Item = CodeLine<'a>;

    fn next(&mut self) -> Option<CodeLine<'a>> {
        let text = self.rest?;
        let (raw, rest) = match text.find('\n') {
            Some(p) => (&text[..p], Some(&text[p + 1..])),
            None => (text, None),
        };
        self.rest = rest;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let line = self.line;
        self.line += 1;
        let fresh = self.carry == Carry::Code && !self.continued;
        let depth = self.depth;
        if self.language == Language::TypeScript && line == 0 && raw.starts_with("#!") {
            return Some(CodeLine { line, code: Cow::Borrowed(""), indent: 0, depth, fresh });
        }
        self.scan(raw);
        let code = match self.segments.as_slice() {
            [] => Cow::Borrowed(""),
            [(s, e)] => Cow::Borrowed(&raw[*s..*e]),
            many => {
                let mut joined = String::with_capacity(raw.len());
                for (k, (s, e)) in many.iter().enumerate() {
                    if k > 0 {
                        joined.push(' ');
                    }
                    joined.push_str(&raw[*s..*e]);
                }
                Cow::Owned(joined)
            }
        };
        let tail = code.trim_end();
        if self.language == Language::Python {
            self.continued = self.carry == Carry::Code && tail.ends_with('\\');
        }
        if let Some(&last) = tail.as_bytes().last() {
            self.last_significant = last;
        }
        let indent = raw
            .bytes()
            .take_while(|&b| b == b' ' || b == b'\t')
            .map(|b| if b == b'\t' { 4 } else { 1 })
            .sum();
        Some(CodeLine { line, code, indent, depth, fresh })
    }
}

impl CodeLines<'_> {
    /// Scans one line: records its code segments and updates the carried state and depth.
    /// Every index where a segment starts or ends is at an ASCII byte or the end of the line.
    fn scan(&mut self, raw: &str) {
        let b = raw.as_bytes();
        let n = b.len();
        let lang = self.language;
        self.segments.clear();
        let mut seg: Option<usize> = (self.carry == Carry::Code).then_some(0);
        let mut i = 0;
        while i < n {
            match self.carry {
                Carry::Block(nesting) => match block_comment_end(raw, i, nesting, lang) {
                    Ok(end) => {
                        i = end;
                        self.carry = Carry::Code;
                        seg = Some(i);
                    }
                    Err(nesting) => {
                        i = n;
                        self.carry = Carry::Block(nesting);
                    }
                },
                Carry::Str(kind) => match string_end(raw, i, kind) {
                    Some(end) => {
                        i = end;
                        self.carry = Carry::Code;
                        seg.get_or_insert(i);
                    }
                    None => i = n,
                },
                Carry::Code => {
                    while i < n && !self.special[b[i] as usize] {
                        i += 1;
                    }
                    if i == n {
                        break;
                    }
                    let next = b.get(i + 1).copied();
                    match b[i] {
                        b'#' if lang == Language::Python => {
                            if let Some(s) = seg.take() {
                                self.segments.push((s, i));
                            }
                            return;
                        }
                        b'/' if next == Some(b'/') => {
                            if let Some(s) = seg.take() {
                                self.segments.push((s, i));
                            }
                            return;
                        }
                        b'/' if next == Some(b'*') => {
                            if let Some(s) = seg.take() {
                                self.segments.push((s, i));
                            }
                            self.carry = Carry::Block(1);
                            i += 2;
                        }
                        b'/' if lang == Language::TypeScript => {
                            let before = b[..i].iter().rev().find(|c| !c.is_ascii_whitespace());
                            let before = before.copied().unwrap_or(self.last_significant);
                            i = regex_end(b, i, before).unwrap_or(i + 1);
                        }
                        b'(' | b'[' | b'{' => {
                            self.depth += 1;
                            i += 1;
                        }
                        b')' | b']' | b'}' => {
                            self.depth = self.depth.saturating_sub(1);
                            i += 1;
                        }
                        b'"' | b'\'' | b'`' => i = self.open_string(raw, i),
                        _ => i += 1,
                    }
                }
            }
        }
        if let Some(s) = seg {
            self.segments.push((s, n));
        }
    }

    /// A quote at `i` in code: skips a string that ends on this line, or starts carrying one.
    fn open_string(&mut self, raw: &str, i: usize) -> usize {
        let b = raw.as_bytes();
        let c = b[i];
        let n = b.len();
        let single_line = |at: usize, q: u8| string_end(raw, at, StrKind::Quoted(q)).unwrap_or(n);
        match (self.language, c) {
            (Language::Python, q) if q != b'`' => {
                if b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q) {
                    self.carry = Carry::Str(StrKind::Triple(q));
                    i + 3
                } else {
                    single_line(i + 1, q)
                }
            }
            (Language::Rust, b'"') => {
                // A raw string when `r`, `br` or `cr` and some `#` come just before.
                let hashes = b[..i].iter().rev().take_while(|&&h| h == b'#').count();
                let word_end = i - hashes;
                let word_start =
                    b[..word_end].iter().rposition(|&w| !is_ident_byte(w)).map_or(0, |p| p + 1);
                let kind = if matches!(&b[word_start..word_end], b"r" | b"br" | b"cr") {
                    StrKind::Raw(hashes)
                } else {
                    StrKind::Quoted(b'"')
                };
                self.carry = Carry::Str(kind);
                i + 1
            }
            (Language::Rust, b'\'') => {
                // A char literal ('a', '\n', '\u{1F600}', 'é') or else a lifetime/label.
                if b.get(i + 1) == Some(&b'\\') {
                    let limit = (i + 14).min(n);
                    match (i + 3..limit).find(|&k| b[k] == b'\'') {
                        Some(k) => k + 1,
                        None => i + 1,
                    }
                } else {
                    let width = b.get(i + 1).map_or(1, |&lead| utf8_width(lead));
                    if b.get(i + 1 + width) == Some(&b'\'') { i + 2 + width } else { i + 1 }
                }
            }
            (Language::TypeScript, b'`') => {
                self.carry = Carry::Str(StrKind::Quoted(b'`'));
                i + 1
            }
            (Language::Go, b'`') => {
                self.carry = Carry::Str(StrKind::Backtick);
                i + 1
            }
            (Language::Rust, _) | (Language::Python, _) => i + 1,
            (_, q) => single_line(i + 1, q),
        }
    }
}

/// Index just after the end of a string of `kind` whose content starts at `from` (a char
/// boundary), if it ends on this line. Searches with `str::find`, which uses memchr.
fn string_end(s: &str, from: usize, kind: StrKind) -> Option<usize> {
    let b = s.as_bytes();
    let close = match kind {
        StrKind::Quoted(q) | StrKind::Triple(q) => q,
        StrKind::Raw(_) => b'"',
        StrKind::Backtick => b'`',
    };
    let mut at = from;
    loop {
        let k = at + s.get(at..)?.find(close as char)?;
        at = k + 1;
        match kind {
            StrKind::Quoted(_) | StrKind::Triple(_) => {
                let backslashes = b[from..k].iter().rev().take_while(|&&c| c == b'\\').count();
                if backslashes % 2 == 1 {
                    continue;
                }
                if matches!(kind, StrKind::Quoted(_)) {
                    return Some(k + 1);
                }
                if b.get(k + 1) == Some(&close) && b.get(k + 2) == Some(&close) {
                    return Some(k + 3);
                }
            }
            StrKind::Raw(hashes) => {
                if b[k + 1..].iter().take(hashes).filter(|&&h| h == b'#').count() == hashes {
                    return Some(k + 1 + hashes);
                }
            }
            StrKind::Backtick => return Some(k + 1),
        }
    }
}

/// Where a block comment that is open (`nesting` deep) at `from` ends on this line: Ok(index
/// after its `*/`), or Err(nesting left at the end of the line). Only Rust nests.
fn block_comment_end(
    s: &str,
    from: usize,
    mut nesting: usize,
    lang: Language,
) -> Result<usize, usize> {
    let b = s.as_bytes();
    let mut at = from;
    while let Some(k) = s.get(at..).and_then(|rest| rest.find('/')).map(|k| at + k) {
        if k > at && b[k - 1] == b'*' {
            nesting -= 1;
            if nesting == 0 {
                return Ok(k + 1);
            }
            at = k + 1;
        } else if lang == Language::Rust && b.get(k + 1) == Some(&b'*') {
            nesting += 1;
            at = k + 2;
        } else {
            at = k + 1;
        }
    }
    Err(nesting)
}

/// A `/` at `at` in TypeScript: when it starts a regex literal that ends on this line, the index
/// after it (flags are read as code later).
fn regex_end(b: &[u8], at: usize, prev_significant: u8) -> Option<usize> {
    let next = b.get(at + 1).copied()?;
    if next == b'/' || next == b'*' || next == b' ' {
        return None;
    }
    // After a value (identifier, number, `)`, `]`) a slash divides; JSX closing tags (`</a>`)
    // follow `<`, which is not in the list either.
    if prev_significant != 0 && !b"(,=:[!&|?{};+-*%~^".contains(&prev_significant) {
        return None;
    }
    let mut i = at + 1;
    let mut in_class = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => in_class = true,
            b']' => in_class = false,
            b'/' if !in_class => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

fn utf8_width(lead: u8) -> usize {
    match lead {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    }
}

// ---------------------------------------------------------------------------------------------
// Small word helpers shared with `imports`

pub(crate) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `s` after the whole word `word` and the whitespace that follows, when `s` starts with it.
pub(crate) fn after_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(word)?;
    if rest.bytes().next().is_some_and(|b| is_ident_byte(b) || b == b'$') {
        return None;
    }
    Some(rest.trim_start())
}

/// The identifier (`[A-Za-z_][A-Za-z0-9_]*`, plus `$` when `dollar`) at the start of `s`, and
/// what follows it.
pub(crate) fn leading_ident(s: &str, dollar: bool) -> Option<(&str, &str)> {
    let ok = |b: u8| is_ident_byte(b) || (dollar && b == b'$');
    let first = *s.as_bytes().first()?;
    if !ok(first) || first.is_ascii_digit() {
        return None;
    }
    let end = s.bytes().position(|b| !ok(b)).unwrap_or(s.len());
    if s.as_bytes().get(end).is_some_and(|&b| b >= 0x80) {
        return None; // a non-ASCII identifier: not ours to cut
    }
    Some((&s[..end], &s[end..]))
}

pub(crate) fn is_identifier(s: &str, dollar: bool) -> bool {
    leading_ident(s, dollar).is_some_and(|(_, rest)| rest.is_empty())
}

/// `s` after a balanced bracket group that it starts with (`(..)`, `[..]`), if it closes.
fn after_group(s: &str) -> Option<&str> {
    let mut depth = 0usize;
    for (k, c) in s.bytes().enumerate() {
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(s[k + 1..].trim_start());
                }
            }
            _ => {}
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Python

const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "match", "case", "type",
];

fn python_definitions(text: &str) -> Vec<Definition> {
    let mut out = Vec::new();
    // Open `def`/`class` blocks: (indent, is_class).
    let mut blocks: Vec<(usize, bool)> = Vec::new();
    for cl in code_lines(Language::Python, text) {
        if !cl.fresh || cl.depth != 0 {
            continue;
        }
        let t = cl.code.trim();
        if t.is_empty() {
            continue;
        }
        while blocks.last().is_some_and(|&(indent, _)| indent >= cl.indent) {
            blocks.pop();
        }
        let mut push = |name: &str, kind| {
            out.push(Definition { name: name.to_string(), line: cl.line, indent: cl.indent, kind });
        };
        let s = after_word(t, "async").unwrap_or(t);
        if let Some(rest) = after_word(s, "def") {
            if let Some((name, after)) = leading_ident(rest, false)
                && after.trim_start().starts_with(['(', '['])
            {
                let in_class = blocks.last().is_some_and(|&(_, is_class)| is_class);
                push(
                    name,
                    if in_class { DefinitionKind::Method } else { DefinitionKind::Function },
                );
                blocks.push((cl.indent, false));
            }
        } else if let Some(rest) = after_word(t, "class") {
            if let Some((name, after)) = leading_ident(rest, false)
                && after.trim_start().starts_with(['(', ':', '['])
            {
                push(name, DefinitionKind::Type);
                blocks.push((cl.indent, true));
            }
        } else if cl.indent == 0
            && let Some((name, after)) = leading_ident(t, false)
            && !PYTHON_KEYWORDS.contains(&name)
        {
            let after = after.trim_start();
            if let Some(annotation) = after.strip_prefix(':') {
                if find_assign(annotation).is_some() {
                    push(name, DefinitionKind::Constant);
                }
            } else if is_all_caps(name) && after.starts_with('=') && !after.starts_with("==") {
                push(name, DefinitionKind::Constant);
            }
        } else if cl.indent == 0
            && let Some(rest) = after_word(t, "type")
            && let Some((name, after)) = leading_ident(rest, false)
            && after.trim_start().starts_with(['=', '['])
        {
            push(name, DefinitionKind::Type); // Python 3.12 `type Alias = ...`
        }
    }
    out
}

fn is_all_caps(name: &str) -> bool {
    name.bytes().any(|b| b.is_ascii_uppercase())
        && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Index of the first plain `=` (not `==`, `=>`, `!=`, `<=`, `>=`) in `s`.
pub(crate) fn find_assign(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len()).find(|&k| {
        b[k] == b'='
            && !matches!(b.get(k + 1), Some(b'=' | b'>'))
            && (k == 0 || !matches!(b[k - 1], b'=' | b'!' | b'<' | b'>'))
    })
}

// ---------------------------------------------------------------------------------------------
// Brace languages: which blocks hold methods

/// Open blocks whose direct members are methods (Rust `impl`/`trait`, TS `class`), by the bracket
/// depth of their body. A header whose `{` is on a later line (a `where` clause, an `implements`
/// list) waits in `pending`.
#[derive(Default)]
struct MethodBlocks {
    open: Vec<usize>,
    /// (depth of the header line, lines waited)
    pending: Option<(usize, usize)>,
}

impl MethodBlocks {
    /// Called for every line that starts in code, before it is classified.
    fn enter_line(&mut self, depth: usize, code: &str) {
        while self.open.last().is_some_and(|&body| body > depth) {
            self.open.pop();
        }
        if let Some((header, waited)) = self.pending {
            if depth == header && code.contains('{') {
                self.open.push(header + 1);
                self.pending = None;
            } else if depth < header || code.contains(';') || waited >= 8 {
                self.pending = None;
            } else {
                self.pending = Some((header, waited + 1));
            }
        }
    }

    fn header(&mut self, depth: usize, code: &str) {
        if code.contains('{') {
            self.open.push(depth + 1);
        } else {
            self.pending = Some((depth, 0));
        }
    }

    fn is_member(&self, depth: usize) -> bool {
        self.open.last() == Some(&depth)
    }
}

// ---------------------------------------------------------------------------------------------
// Rust

/// `t` without leading `#[...]`/`#![...]` attributes; None when one does not close on the line.
pub(crate) fn strip_rust_attributes(mut t: &str) -> Option<&str> {
    while t.starts_with('#') {
        let open = t[1..].trim_start_matches('!');
        if !open.starts_with('[') {
            return Some(t);
        }
        t = after_group(open)?;
    }
    Some(t)
}

/// `t` without a leading `pub`, `pub(crate)`, `pub(in path)`...
pub(crate) fn strip_rust_visibility(t: &str) -> &str {
    match after_word(t, "pub") {
        Some(rest) if rest.starts_with('(') => after_group(rest).unwrap_or(rest),
        Some(rest) => rest,
        None => t,
    }
}

fn rust_definitions(text: &str) -> Vec<Definition> {
    let mut out = Vec::new();
    let mut blocks = MethodBlocks::default();
    for cl in code_lines(Language::Rust, text) {
        if !cl.fresh {
            continue;
        }
        blocks.enter_line(cl.depth, &cl.code);
        let Some(t) = strip_rust_attributes(cl.code.trim()) else { continue };
        let mut t = strip_rust_visibility(t);
        loop {
            if let Some(rest) = after_word(t, "const")
                && ["fn", "unsafe", "async", "extern"].iter().any(|w| after_word(rest, w).is_some())
            {
                t = rest;
                continue;
            }
            if let Some(rest) =
                ["async", "unsafe", "default", "auto", "safe"].iter().find_map(|w| after_word(t, w))
            {
                t = rest;
                continue;
            }
            if let Some(rest) = after_word(t, "extern") {
                if after_word(rest, "crate").is_some() {
                    t = "";
                } else if let Some(abi) = rest.strip_prefix('"') {
                    t = abi.find('"').map_or("", |q| abi[q + 1..].trim_start());
                } else {
                    t = rest;
                }
                continue;
            }
            break;
        }
        let member = blocks.is_member(cl.depth);
        let mut push = |rest: &str, kind| {
            let rest = rest.strip_prefix("r#").unwrap_or(rest); // raw identifier
            if let Some((name, _)) = leading_ident(rest, false)
                && name != "_"
            {
                out.push(Definition {
                    name: name.to_string(),
                    line: cl.line,
                    indent: cl.indent,
                    kind,
                });
            }
        };
        if let Some(rest) = after_word(t, "fn") {
            push(rest, if member { DefinitionKind::Method } else { DefinitionKind::Function });
        } else if let Some(rest) = after_word(t, "struct").or_else(|| after_word(t, "enum")) {
            push(rest, DefinitionKind::Type);
        } else if let Some(rest) = after_word(t, "union") {
            if let Some((_, after)) = leading_ident(rest, false)
                && (after.trim().is_empty()
                    || after.trim_start().starts_with(['{', '<'])
                    || after_word(after.trim_start(), "where").is_some())
            {
                push(rest, DefinitionKind::Type);
            }
        } else if let Some(rest) = after_word(t, "trait") {
            push(rest, DefinitionKind::Type);
            blocks.header(cl.depth, &cl.code);
        } else if after_word(t, "impl").is_some() {
            blocks.header(cl.depth, &cl.code);
        } else if let Some(rest) = after_word(t, "type") {
            push(rest, DefinitionKind::Type);
        } else if let Some(rest) = after_word(t, "const") {
            push(rest, DefinitionKind::Constant);
        } else if let Some(rest) = after_word(t, "static") {
            push(after_word(rest, "mut").unwrap_or(rest), DefinitionKind::Constant);
        } else if let Some(rest) = t.strip_prefix("macro_rules!") {
            push(rest.trim_start(), DefinitionKind::Macro);
        } else if let Some(rest) = after_word(t, "mod") {
            push(rest, DefinitionKind::Module);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// TypeScript / JavaScript

const TS_MEMBER_MODIFIERS: &[&str] = &[
    "public",
    "private",
    "protected",
    "readonly",
    "static",
    "abstract",
    "override",
    "async",
    "declare",
    "accessor",
    "get",
    "set",
];

const TS_NOT_MEMBERS: &[&str] =
    &["constructor", "if", "for", "while", "switch", "catch", "return", "super", "function"];

/// `t` without leading decorators (`@Input()`, `@foo.bar(...)`); None when one does not close.
fn strip_decorators(mut t: &str) -> Option<&str> {
    while let Some(rest) = t.strip_prefix('@') {
        let mut rest = rest;
        while let Some((_, after)) = leading_ident(rest, true) {
            rest = after;
            match rest.strip_prefix('.') {
                Some(more) => rest = more,
                None => break,
            }
        }
        let rest = rest.trim_start();
        t = if rest.starts_with('(') { after_group(rest)? } else { rest };
    }
    Some(t)
}

/// Whether the value of an assignment is a function: `function`, `async ...`, `(...) =>`,
/// `<T>(...) =>`, `x =>`.
fn value_is_function(value: &str) -> bool {
    let v = value.trim_start();
    if after_word(v, "function").is_some() || after_word(v, "async").is_some() {
        return true;
    }
    if v.starts_with(['(', '<']) {
        return v.contains("=>");
    }
    match leading_ident(v, true) {
        Some((_, after)) => after.trim_start().starts_with("=>"),
        None => false,
    }
}

/// The method a class member line defines, if it is one.
fn ts_member(t: &str) -> Option<&str> {
    let mut t = t;
    'strip: loop {
        if let Some(rest) = t.strip_prefix('*') {
            t = rest.trim_start();
            continue;
        }
        for m in TS_MEMBER_MODIFIERS {
            if let Some(rest) = after_word(t, m)
                && rest.starts_with(|c: char| c.is_ascii_alphabetic() || "_$#*[".contains(c))
            {
                t = rest;
                continue 'strip;
            }
        }
        break;
    }
    let (name, after) = match t.strip_prefix('#') {
        Some(rest) => {
            let (ident, after) = leading_ident(rest, true)?;
            (&t[..ident.len() + 1], after)
        }
        None => leading_ident(t, true)?,
    };
    if TS_NOT_MEMBERS.contains(&name) {
        return None;
    }
    let after = after.trim_start();
    let after = after.strip_prefix(['?', '!']).unwrap_or(after).trim_start();
    if after.starts_with(['(', '<']) {
        return Some(name);
    }
    let value = if let Some(annotation) = after.strip_prefix(':') {
        &annotation[find_assign(annotation)? + 1..]
    } else {
        after.strip_prefix('=').filter(|v| !v.starts_with(['=', '>']))?
    };
    value_is_function(value).then_some(name)
}

fn ts_definitions(text: &str) -> Vec<Definition> {
    let mut out = Vec::new();
    let mut classes = MethodBlocks::default();
    for cl in code_lines(Language::TypeScript, text) {
        if !cl.fresh {
            continue;
        }
        classes.enter_line(cl.depth, &cl.code);
        let Some(t) = strip_decorators(cl.code.trim()) else { continue };
        if t.is_empty() {
            continue;
        }
        let mut push = |name: &str, kind| {
            out.push(Definition { name: name.to_string(), line: cl.line, indent: cl.indent, kind });
        };
        if classes.is_member(cl.depth) {
            if let Some(name) = ts_member(t) {
                push(name, DefinitionKind::Method);
            }
            continue;
        }
        let mut t = t;
        for word in ["export", "default", "declare"] {
            t = after_word(t, word).unwrap_or(t);
        }
        while let Some(rest) = after_word(t, "abstract").or_else(|| after_word(t, "async")) {
            t = rest;
        }
        if let Some(rest) = after_word(t, "function") {
            if let Some((name, _)) = leading_ident(rest.trim_start_matches('*').trim_start(), true)
            {
                push(name, DefinitionKind::Function);
            }
        } else if let Some(rest) = after_word(t, "class") {
            if let Some((name, _)) = leading_ident(rest, true)
                && name != "extends"
                && name != "implements"
            {
                push(name, DefinitionKind::Type);
            }
            classes.header(cl.depth, &cl.code);
        } else if let Some(rest) = after_word(t, "interface").or_else(|| after_word(t, "enum")) {
            if let Some((name, _)) = leading_ident(rest, true) {
                push(name, DefinitionKind::Type);
            }
        } else if let Some(rest) = after_word(t, "type") {
            if let Some((name, after)) = leading_ident(rest, true)
                && after.trim_start().starts_with(['=', '<'])
            {
                push(name, DefinitionKind::Type);
            }
        } else if let Some(rest) = after_word(t, "namespace").or_else(|| after_word(t, "module")) {
            if let Some((name, _)) = leading_ident(rest, true) {
                push(name, DefinitionKind::Module);
            }
        } else if let Some(rest) = after_word(t, "const").or_else(|| after_word(t, "let")) {
            if let Some(rest) = after_word(rest, "enum") {
                if let Some((name, _)) = leading_ident(rest, true) {
                    push(name, DefinitionKind::Type);
                }
            } else if cl.depth == 0 {
                ts_variable(rest, &mut push);
            }
        } else if let Some(rest) = after_word(t, "var")
            && cl.depth == 0
        {
            ts_variable(rest, &mut push);
        }
    }
    out
}

/// `name = value` of a top-level const/let/var: a Function when the value is one.
fn ts_variable(rest: &str, push: &mut impl FnMut(&str, DefinitionKind)) {
    let Some((name, after)) = leading_ident(rest, true) else { return };
    let after = after.trim_start();
    let after = after.strip_prefix('!').unwrap_or(after);
    let value = match find_assign(after) {
        Some(k) => &after[k + 1..],
        None => "",
    };
    push(
        name,
        if value_is_function(value) { DefinitionKind::Function } else { DefinitionKind::Constant },
    );
}

// ---------------------------------------------------------------------------------------------
// Go

fn go_definitions(text: &str) -> Vec<Definition> {
    let mut out = Vec::new();
    // Inside `const (`, `var (` or `type (`: (kind, depth of the members).
    let mut group: Option<(DefinitionKind, usize)> = None;
    for cl in code_lines(Language::Go, text) {
        if !cl.fresh {
            continue;
        }
        let t = cl.code.trim();
        let mut push = |name: &str, kind| {
            if name != "_" {
                out.push(Definition {
                    name: name.to_string(),
                    line: cl.line,
                    indent: cl.indent,
                    kind,
                });
            }
        };
        if let Some((kind, depth)) = group {
            if cl.depth == depth {
                if t.starts_with(')') {
                    group = None;
                } else if kind == DefinitionKind::Type {
                    if let Some((name, _)) = leading_ident(t, false) {
                        push(name, kind);
                    }
                } else {
                    go_names(t, |name| push(name, kind));
                }
                continue;
            } else if cl.depth > depth {
                continue;
            }
            group = None;
        }
        if cl.depth != 0 {
            continue;
        }
        if let Some(rest) = after_word(t, "func") {
            let (rest, kind) = if rest.starts_with('(') {
                (after_group(rest).unwrap_or(""), DefinitionKind::Method)
            } else {
                (rest, DefinitionKind::Function)
            };
            if let Some((name, after)) = leading_ident(rest, false)
                && after.trim_start().starts_with(['(', '['])
            {
                push(name, kind);
            }
            continue;
        }
        let declaration = [
            ("type", DefinitionKind::Type),
            ("const", DefinitionKind::Constant),
            ("var", DefinitionKind::Constant),
        ]
        .into_iter()
        .find_map(|(word, kind)| after_word(t, word).map(|rest| (rest, kind)));
        if let Some((rest, kind)) = declaration {
            if let Some(inline) = rest.strip_prefix('(') {
                let inline = inline.trim();
                if inline.is_empty() {
                    group = Some((kind, cl.depth + 1));
                } else if kind != DefinitionKind::Type {
                    go_names(inline, |name| push(name, kind)); // `const ( A = 1 )`
                }
            } else if kind == DefinitionKind::Type {
                if let Some((name, _)) = leading_ident(rest, false) {
                    push(name, kind);
                }
            } else {
                go_names(rest, |name| push(name, kind));
            }
        }
    }
    out
}

/// The names of a Go const/var spec: `a, b = 1, 2`, `x int`, `Y`.
fn go_names<'a>(mut s: &'a str, mut each: impl FnMut(&'a str)) {
    while let Some((name, after)) = leading_ident(s, false) {
        each(name);
        match after.trim_start().strip_prefix(',') {
            Some(more) => s = more.trim_start(),
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DefinitionKind::*;
    use super::*;

    fn defs(language: Language, text: &str) -> Vec<(String, usize, usize, DefinitionKind)> {
        definitions(language, text)
            .into_iter()
            .map(|d| (d.name, d.line, d.indent, d.kind))
            .collect()
    }

    fn d(
        name: &str,
        line: usize,
        indent: usize,
        kind: DefinitionKind,
    ) -> (String, usize, usize, DefinitionKind) {
        (name.to_string(), line, indent, kind)
    }

    #[test]
    fn language_by_extension() {
        assert_eq!(language_of("a/b/c.py"), Language::Python);
        assert_eq!(language_of("stubs/x.pyi"), Language::Python);
        assert_eq!(language_of("src/main.rs"), Language::Rust);
        for ext in ["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs", "d.ts", "TS"] {
            assert_eq!(language_of(&format!("web/app.{ext}")), Language::TypeScript, "{ext}");
        }
        assert_eq!(language_of("cmd/main.go"), Language::Go);
        assert_eq!(language_of("Makefile"), Language::Other);
        assert_eq!(language_of("dir.rs/README"), Language::Other);
        assert_eq!(language_of("notes.md"), Language::Other);
        assert_eq!(language_of(""), Language::Other);
    }

    #[test]
    fn python_functions_classes_methods_constants() {
        let src = r#"import os

MAX_RETRIES = 3
DEFAULT_NAME: str = "x"
timeout: float = 1.5
counter = 0
__all__ = ["Client"]
CONFIG == 3

@dataclass
class Client(Base):
    """A client.

    def not_a_function(self):
    """
    LIMIT = 10

    def __init__(self, url):
        self.url = url

    @property
    async def fetch(self, path):
        def helper():
            return 1
        return helper()

async def main():
    pass

def typed[T](x: T) -> T:
    return x

class Empty: pass
# def commented(): pass
type Alias = list[int]
"#;
        assert_eq!(
            defs(Language::Python, src),
            vec![
                d("MAX_RETRIES", 2, 0, Constant),
                d("DEFAULT_NAME", 3, 0, Constant),
                d("timeout", 4, 0, Constant),
                d("Client", 10, 0, Type),
                d("__init__", 17, 4, Method),
                d("fetch", 21, 4, Method),
                d("helper", 22, 8, Function),
                d("main", 26, 0, Function),
                d("typed", 29, 0, Function),
                d("Empty", 32, 0, Type),
                d("Alias", 34, 0, Type),
            ]
        );
    }

    #[test]
    fn python_multiline_signatures_and_strings() {
        let src = "class A:\n    def m(\n        self,\n    x,\n):\n        s = '''\ndef fake():\n'''\n        return 1\n    def n(self): ...\nx = \"def nope(): #\"\ndef after(): pass\n";
        assert_eq!(
            defs(Language::Python, src),
            vec![
                d("A", 0, 0, Type),
                d("m", 1, 4, Method),
                d("n", 9, 4, Method),
                d("after", 11, 0, Function)
            ]
        );
    }

    #[test]
    fn rust_items() {
        let src = r##"//! crate doc
use std::fmt;

/// Doc with fn fake() inside.
pub struct Point { x: i32 }
pub(crate) enum Shape { A, B }
pub(super) trait Draw {
    fn draw(&self);
    const SIDES: u32;
    type Out;
}
type Alias<T> = Vec<T>;
union Bits { a: u32 }
pub const MAX: usize = 10;
static mut COUNTER: u32 = 0;
const _: () = ();
#[macro_export]
macro_rules! square { ($x:expr) => { $x * $x }; }
mod tests;
pub mod inner {
    pub fn nested() {}
}
/* fn in_block_comment() {}
   fn still_comment() {} */
impl<T> Draw for Point
where
    T: Clone,
{
    #[inline]
    pub const unsafe fn draw(&self) {
        fn local_helper() {}
        let s = "fn in_string() {}
fn also_in_string() {}";
        let r = r#"fn raw() {"#;
        let c = '{';
        let l: &'static str = "";
    }
    async fn later(&self) {}
}
pub async fn run() {}
extern "C" fn callback() {}
pub(crate) unsafe extern "C" fn ffi() {}
const fn compute() -> u32 { 1 }
extern crate alloc;
"##;
        assert_eq!(
            defs(Language::Rust, src),
            vec![
                d("Point", 4, 0, Type),
                d("Shape", 5, 0, Type),
                d("Draw", 6, 0, Type),
                d("draw", 7, 4, Method),
                d("SIDES", 8, 4, Constant),
                d("Out", 9, 4, Type),
                d("Alias", 11, 0, Type),
                d("Bits", 12, 0, Type),
                d("MAX", 13, 0, Constant),
                d("COUNTER", 14, 0, Constant),
                d("square", 17, 0, Macro),
                d("tests", 18, 0, Module),
                d("inner", 19, 0, Module),
                d("nested", 20, 4, Function),
                d("draw", 29, 4, Method),
                d("local_helper", 30, 8, Function),
                d("later", 37, 4, Method),
                d("run", 39, 0, Function),
                d("callback", 40, 0, Function),
                d("ffi", 41, 0, Function),
                d("compute", 42, 0, Function),
            ]
        );
    }

    #[test]
    fn typescript_declarations_and_members() {
        let src = r#"import { x } from "./x";
/* function hidden() {} */
export function parse(input: string) {}
export default function main() {}
async function load() {}
export async function* stream() {}
export default class App extends Base {
  private count = 0;
  static create(): App { return new App(); }
  async fetch(url: string) {
    const inner = () => 1;
    function helper() {}
  }
  get size() { return 1; }
  set size(v) {}
  get() {}
  #secret(a) {}
  protected readonly handle = (e: Event) => {};
  render<T>(x: T) {}
  constructor() { super(); }
  if (x) {}
}
export abstract class Shape
  implements Drawable {
  abstract area(): number;
}
interface Props { onClick(): void; }
export type Id = string | number;
export enum Color { Red }
const enum Dir { Up }
export const API_URL = "https://x/y"; // not a comment start inside the string
export const handler = async (req) => {};
const add = (a: number, b: number): number => a + b;
let square = x => x * x;
var legacy = function () {};
const fmt: Formatter = (s) => s;
const re = /[{(]/g;
const { a, b } = obj;
declare const VERSION: string;
namespace Util { export function inside() {} }
const tpl = `
function notReal() {}
`;
"#;
        assert_eq!(
            defs(Language::TypeScript, src),
            vec![
                d("parse", 2, 0, Function),
                d("main", 3, 0, Function),
                d("load", 4, 0, Function),
                d("stream", 5, 0, Function),
                d("App", 6, 0, Type),
                d("create", 8, 2, Method),
                d("fetch", 9, 2, Method),
                d("helper", 11, 4, Function),
                d("size", 13, 2, Method),
                d("size", 14, 2, Method),
                d("get", 15, 2, Method),
                d("#secret", 16, 2, Method),
                d("handle", 17, 2, Method),
                d("render", 18, 2, Method),
                d("Shape", 22, 0, Type),
                d("area", 24, 2, Method),
                d("Props", 26, 0, Type),
                d("Id", 27, 0, Type),
                d("Color", 28, 0, Type),
                d("Dir", 29, 0, Type),
                d("API_URL", 30, 0, Constant),
                d("handler", 31, 0, Function),
                d("add", 32, 0, Function),
                d("square", 33, 0, Function),
                d("legacy", 34, 0, Function),
                d("fmt", 35, 0, Function),
                d("re", 36, 0, Constant),
                d("VERSION", 38, 0, Constant),
                d("Util", 39, 0, Module),
                d("tpl", 40, 0, Constant),
            ]
        );
    }

    #[test]
    fn typescript_decorated_members() {
        let src = "@Component({\n  selector: 'app',\n})\nexport class Widget {\n  @Input() label: string;\n  @HostListener('click', ['$event'])\n  onClick(e) {}\n  @Output() changed = new EventEmitter();\n}\n";
        assert_eq!(
            defs(Language::TypeScript, src),
            vec![d("Widget", 3, 0, Type), d("onClick", 6, 2, Method)]
        );
    }

    #[test]
    fn go_declarations() {
        let src = r#"package util

import "fmt"

// func Commented() {}
const Version = "1.0"
var ErrNotFound = errors.New("x")
var a, b int
const (
	KindA Kind = iota
	KindB
	_
)
var (
	cache = map[string]int{
		"k": 1,
	}
)
type (
	Reader interface{ Read() }
	ID string
)
type Server struct {
	Name string
}
func New(name string) *Server {
	var local = 1
	return &Server{Name: name}
}
func (s *Server) Start() error { return nil }
func Map[T any](xs []T) []T { return xs }
var raw = `
func NotReal() {}
`
"#;
        assert_eq!(
            defs(Language::Go, src),
            vec![
                d("Version", 5, 0, Constant),
                d("ErrNotFound", 6, 0, Constant),
                d("a", 7, 0, Constant),
                d("b", 7, 0, Constant),
                d("KindA", 9, 4, Constant),
                d("KindB", 10, 4, Constant),
                d("cache", 14, 4, Constant),
                d("Reader", 19, 4, Type),
                d("ID", 20, 4, Type),
                d("Server", 22, 0, Type),
                d("New", 25, 0, Function),
                d("Start", 29, 0, Method),
                d("Map", 30, 0, Function),
                d("raw", 31, 0, Constant),
            ]
        );
    }

    #[test]
    fn other_language_has_no_definitions() {
        assert!(definitions(Language::Other, "def f(): pass\nfn g() {}").is_empty());
    }

    #[test]
    fn identifier_tokens() {
        let ids: Vec<&str> =
            identifiers("let x1 = foo_bar($el, 0x1F, 10usize); // café naïve _u $").collect();
        assert_eq!(ids, ["let", "x1", "foo_bar", "$el", "_u", "$"]);
        assert_eq!(identifiers("").count(), 0);
        assert_eq!(identifiers("self.a.b").collect::<Vec<_>>(), ["self", "a", "b"]);
    }

    #[test]
    fn code_lines_strip_comments_keep_strings() {
        let lines: Vec<CodeLine> =
            code_lines(Language::Rust, "let a = \"//x\"; // c\n/* a */ b /* c\n d */ e {\n\tf")
                .collect();
        assert_eq!(lines[0].code, "let a = \"//x\"; ");
        assert_eq!(lines[1].code, "  b ");
        assert_eq!((lines[2].code.as_ref(), lines[2].fresh), (" e {", false));
        assert_eq!((lines[3].indent, lines[3].depth, lines[3].fresh), (4, 1, true));
        let py: Vec<CodeLine> =
            code_lines(Language::Python, "x = 1 \\\n  + 2\ny = '#' # c").collect();
        assert!(!py[1].fresh);
        assert_eq!(py[2].code, "y = '#' ");
    }

    #[test]
    fn raw_strings_nested_comments_regexes_and_crlf() {
        let rust = "let s = br#\"\nfn in_raw() {\n\"#;\nfn r#type() {}\n/* outer /* inner */\nfn in_nested() {}\n*/\nfn after() {}\n";
        assert_eq!(
            defs(Language::Rust, rust),
            vec![d("type", 3, 0, Function), d("after", 7, 0, Function)]
        );
        let ts = "const half = total / 2; const r = /\\/{/;\nfunction f() {}\nconst t = `\n${ {a: 1} }\nfunction g() {}`;\nfunction h() {}\n";
        assert_eq!(
            defs(Language::TypeScript, ts),
            vec![
                d("half", 0, 0, Constant),
                d("f", 1, 0, Function),
                d("t", 2, 0, Constant),
                d("h", 5, 0, Function)
            ]
        );
        let go = "var q = `{\n`\nfunc F() {}\n";
        assert_eq!(defs(Language::Go, go), vec![d("q", 0, 0, Constant), d("F", 2, 0, Function)]);
        let crlf = "class B:\r\n    def m(self):\r\n        pass\r\nX = 1\r\n";
        assert_eq!(
            defs(Language::Python, crlf),
            vec![d("B", 0, 0, Type), d("m", 1, 4, Method), d("X", 3, 0, Constant)]
        );
    }

    /// A sample mixing the tricky parts of every language.
    const TRICKY: &str = "def f(x):\n    \"\"\"doc ''' \"\n    return '\\'' # c\nfn g<'a>(s: &'a str) -> char { 'x' } /* /* */ */ r##\"raw \"# \"##\nlet t = `a ${b ? `c` : '}'} d`; const re = /[/{]/; x = a / b / c;\nimport (\n\tf \"fmt\"\n)\nfrom ..m import (a,\n b as c)\nuse crate::{a::{b, c as d}, e::*};\n'\"unbalanced ( [ {\n}}}))) \"\"\" ''' ` */ /*\n\u{e9}\u{1F600} caf\u{e9}\t\r\n\\";

    #[test]
    fn scanner_never_panics() {
        let languages =
            [Language::Python, Language::Rust, Language::TypeScript, Language::Go, Language::Other];
        let mut samples: Vec<String> = Vec::new();
        for (k, _) in TRICKY.char_indices() {
            samples.push(TRICKY[..k].to_string());
            samples.push(TRICKY[k..].to_string());
        }
        samples.push("x".repeat(100_000));
        samples.push(format!("def {}(", "a".repeat(100_000)));
        samples.push("{".repeat(100_000));
        samples.push("\"".repeat(100_001));
        samples.push("/*".repeat(50_000));
        samples.push("r#".repeat(50_000));
        samples.push("'\\".repeat(50_000));
        samples.push("\n".repeat(10_000));
        // Deterministic pseudo-random garbage.
        let alphabet: Vec<char> =
            "ab_ \t\n\r'\"`#/*\\(){}[]<>:;,.=!@$r\u{e9}\u{1F600}".chars().collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200 {
            let len = (seed % 300) as usize;
            let mut s = String::new();
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            samples.push(s);
        }
        for s in &samples {
            for language in languages {
                let first = definitions(language, s);
                assert_eq!(first, definitions(language, s));
                let _ = identifiers(s).count();
                let _ = code_lines(language, s).count();
            }
        }
    }

    #[test]
    fn five_thousand_lines_are_fast() {
        let block = "class Handler:\n    def run(self, x):\n        return x  # note\n\n";
        let text = block.repeat(1250);
        let start = std::time::Instant::now();
        let found = definitions(Language::Python, &text);
        let elapsed = start.elapsed();
        assert_eq!(found.len(), 2500);
        assert!(elapsed.as_millis() < 50, "{elapsed:?}");
    }
}
