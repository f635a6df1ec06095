//! What the context stage knows about programming languages: one module per language, each with
//! its tree-sitter grammar, its definition and import queries and how its imports name files.
//!
//! Adding a language: write `lang/<name>.rs` with a `LanguageSpec` (`go.rs` is a short one),
//! add it to `LANGUAGES`, and give it a fixture repository under `tests/fixtures/lang/` with a
//! test in `context/lang_fixtures.rs`.
//!
//! A file is parsed once (`outline`), with its time bounded (`PARSE_TIME_LIMIT`, through
//! tree-sitter's progress callback) and its size capped (`MAX_PARSE_BYTES`); only the extracted
//! definitions and imports are kept, never the syntax tree.

mod c;
mod cpp;
mod csharp;
mod go;
mod java;
mod javascript;
pub mod paths;
mod php;
mod python;
mod ruby;
mod rust;
mod typescript;

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tree_sitter::{Node, ParseOptions, Parser, Query, QueryCursor, QueryCursorOptions, Tree};
use tree_sitter::{ParseState, QueryCursorState, StreamingIterator};

use paths::SourcePath;

/// Every language the context stage parses, found by file extension (first match wins).
const LANGUAGES: [&LanguageSpec; 12] = [
    &python::SPEC,
    &rust::SPEC,
    &typescript::TYPESCRIPT,
    &typescript::TSX,
    &javascript::SPEC,
    &go::SPEC,
    &java::SPEC,
    &c::SPEC,
    &cpp::SPEC,
    &csharp::SPEC,
    &ruby::SPEC,
    &php::SPEC,
];

/// Files larger than this are not parsed (they still get similarity windows). The filter admits
/// nothing over 256 KiB from disk; this also bounds the open document being completed.
pub const MAX_PARSE_BYTES: usize = 256 * 1024;

/// Most time one parse (or one query run) may take; a file that takes longer yields what was
/// found before the limit (nothing for an unfinished parse). On a slow 2-core machine a 10 KiB
/// file parses in about 2 ms and a 256 KiB one in about 70 ms; this stops pathological input
/// from holding the index thread.
pub const PARSE_TIME_LIMIT: Duration = Duration::from_millis(100);

/// One language: how to recognise its files, parse them and read their definitions and imports.
pub struct LanguageSpec {
    /// Lower-case name, as in logs and tests.
    pub name: &'static str,
    /// Languages of one family see each other's files as context (TypeScript imports
    /// JavaScript, C++ includes C headers); code from other families is noise to the model.
    pub family: &'static str,
    /// File name endings, without the dot, compared case-insensitively.
    pub extensions: &'static [&'static str],
    pub grammar: fn() -> tree_sitter::Language,
    /// Query sources (joined): each pattern captures a name as `@name` and its definition node
    /// as `@definition.<kind>` (`function`, `method`, `class`/`interface`/`type`, `constant`,
    /// `macro`, `module`), the convention of tree-sitter's `tags.scm`. Patterns without such a
    /// capture (a `tags.scm`'s `@reference.*` ones) are switched off. When several patterns
    /// capture the same name, the first pattern in the query wins.
    pub definitions: &'static [&'static str],
    /// Query source capturing each import statement as `@import`.
    pub imports: &'static str,
    /// Turns the captured import statements of one file into `Import`s.
    pub resolve_imports: fn(&ImportSite, &[Node]) -> Vec<Import>,
}

/// A file whose imports are being resolved.
pub struct ImportSite<'a> {
    pub text: &'a str,
    /// The file's path relative to its workspace root.
    pub path: &'a SourcePath<'a>,
    pub root: Node<'a>,
}

impl<'a> ImportSite<'a> {
    /// The source text of `node`.
    pub fn text_of(&self, node: Node) -> &'a str {
        self.text.get(node.byte_range()).unwrap_or("")
    }
}

/// A file's language: an entry of `LANGUAGES`, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Language(Option<u8>);

impl Language {
    /// Files no grammar here reads.
    pub const OTHER: Language = Language(None);

    fn spec(self) -> Option<&'static LanguageSpec> {
        self.0.map(|k| LANGUAGES[usize::from(k)])
    }

    pub fn name(self) -> &'static str {
        self.spec().map_or("other", |s| s.name)
    }

    /// Whether files of `self` and `other` are context for each other.
    pub fn same_family(self, other: Language) -> bool {
        match (self.spec(), other.spec()) {
            (Some(a), Some(b)) => a.family == b.family,
            _ => false,
        }
    }

    /// The language called `name` (as in `LanguageSpec::name`); `OTHER` for any other name.
    pub fn named(name: &str) -> Language {
        let found = LANGUAGES.iter().position(|s| s.name == name);
        Language(found.map(|k| k as u8))
    }
}

/// The language of an open document: the one its editor names (`languageId`, which the user
/// may have chosen, and the only hint an untitled buffer has), else its path's extension.
pub fn language_of_document(path: &str, language_id: &str) -> Language {
    let id = language_id.to_ascii_lowercase();
    // LSP's identifiers where they differ from ours, and the names Neovim and Helix use.
    let name = match id.as_str() {
        "typescriptreact" => "tsx",
        "javascriptreact" | "jsx" => "javascript",
        "csharp" | "cs" | "c-sharp" => "c_sharp",
        "c++" => "cpp",
        other => other,
    };
    match Language::named(name) {
        Language::OTHER => language_of(path),
        named => named,
    }
}

/// The language of a '/'-separated path, by its extension.
pub fn language_of(path: &str) -> Language {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((_, ext)) = name.rsplit_once('.') else { return Language::OTHER };
    let found = LANGUAGES
        .iter()
        .position(|spec| spec.extensions.iter().any(|e| ext.eq_ignore_ascii_case(e)));
    Language(found.map(|k| k as u8))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub name: String,
    /// 0-based line where the definition starts (its keyword line; decorators and attributes
    /// not included).
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
    /// Module-level constants and variables (each language's module says which).
    Constant,
    Macro,
    /// Modules and namespaces.
    Module,
}

impl DefinitionKind {
    /// The kind a `@definition.<suffix>` capture names.
    fn from_capture(capture: &str) -> Option<Self> {
        Some(match capture.strip_prefix("definition.")? {
            "function" => Self::Function,
            "method" => Self::Method,
            "class" | "interface" | "type" | "struct" | "enum" => Self::Type,
            "constant" => Self::Constant,
            "macro" => Self::Macro,
            "module" | "namespace" => Self::Module,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// 0-based line of the import statement (of its first line when it spans several).
    pub line: usize,
    /// Local names the statement brings in (`from m import a, b as c` → a, c; `import x.y` → x;
    /// TS default, namespace and named imports; Rust last path segments; Go package name).
    /// For re-exports (`export { a as b } from`) the exported names. May be empty.
    pub names: Vec<String>,
    /// Where the imported module may live, most likely first: '/'-separated paths relative to the
    /// workspace root, normalized, never escaping the root and never the importing file itself.
    /// A candidate ending in '/' means "every source file directly in this directory".
    pub candidates: Vec<String>,
    /// For module paths whose location is not known from the file's own path (Python absolute
    /// imports, Go import paths, TS `@/` and `~/` aliases, Java packages): path suffixes to
    /// match against any workspace file. Empty when `candidates` is exact.
    pub suffix_candidates: Vec<String>,
}

impl Import {
    pub fn at(line: usize) -> Self {
        Import { line, names: Vec::new(), candidates: Vec::new(), suffix_candidates: Vec::new() }
    }
}

/// What one parse of a file yields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    pub definitions: Vec<Definition>,
    pub imports: Vec<Import>,
}

/// The definitions and imports of `text`, a file of `language` at `path` (relative to its
/// workspace root, '/'-separated). Empty for other languages, files over `MAX_PARSE_BYTES` and
/// parses that run out of time.
pub fn outline(language: Language, path: &str, text: &str) -> Outline {
    let Some((spec, compiled)) = compiled(language) else { return Outline::default() };
    let Some(tree) = parse(compiled, text, PARSE_TIME_LIMIT) else { return Outline::default() };
    let root = tree.root_node();
    let definitions = find_definitions(compiled, root, text);
    let imports = match paths::source_path(path) {
        Some(file) => find_imports(spec, compiled, root, text, &file),
        None => Vec::new(),
    };
    Outline { definitions, imports }
}

/// The definitions of `text`, in line order.
pub fn definitions(language: Language, text: &str) -> Vec<Definition> {
    outline(language, "", text).definitions
}

/// The imports of `text`, in line order. `path` is the file's path relative to the workspace
/// root, '/'-separated; a path that leaves the root yields nothing.
pub fn imports(language: Language, path: &str, text: &str) -> Vec<Import> {
    outline(language, path, text).imports
}

/// The line spans (0-based, first and last line) of the syntax errors tree-sitter finds in
/// `text`: its ERROR nodes and the MISSING tokens it had to assume, outermost only. `None` for
/// other languages, texts over `MAX_PARSE_BYTES` and parses that run out of time.
pub fn syntax_errors(language: Language, text: &str) -> Option<Vec<(usize, usize)>> {
    let (_, compiled) = compiled(language)?;
    let tree = parse(compiled, text, PARSE_TIME_LIMIT)?;
    let mut errors = Vec::new();
    let mut pending = vec![tree.root_node()];
    while let Some(node) = pending.pop() {
        if node.is_error() || node.is_missing() {
            errors.push((node.start_position().row, node.end_position().row));
        } else if node.has_error() {
            let mut cursor = node.walk();
            pending.extend(node.children(&mut cursor));
        }
    }
    errors.sort_unstable();
    Some(errors)
}

// ---------------------------------------------------------------------------------------------
// Compiled queries, one set per language, built on first use

struct Compiled {
    grammar: tree_sitter::Language,
    definitions: Query,
    /// Per capture index of `definitions`: the kind it marks, if any.
    kinds: Vec<Option<DefinitionKind>>,
    name: u32,
    imports: Query,
    import: u32,
}

fn compiled(language: Language) -> Option<(&'static LanguageSpec, &'static Compiled)> {
    static COMPILED: [OnceLock<Option<Compiled>>; LANGUAGES.len()] =
        [const { OnceLock::new() }; LANGUAGES.len()];
    let k = usize::from(language.0?);
    let spec = LANGUAGES[k];
    let compiled = COMPILED[k].get_or_init(|| match compile(spec) {
        Ok(compiled) => Some(compiled),
        Err(err) => {
            // A query that does not fit its grammar is a bug caught by each language's tests.
            tracing::error!(language = spec.name, %err, "language queries do not compile");
            None
        }
    });
    Some((spec, compiled.as_ref()?))
}

fn compile(spec: &LanguageSpec) -> Result<Compiled, String> {
    let grammar = (spec.grammar)();
    let mut definitions =
        Query::new(&grammar, &spec.definitions.join("\n")).map_err(|e| e.to_string())?;
    let kinds: Vec<Option<DefinitionKind>> =
        definitions.capture_names().iter().map(|n| DefinitionKind::from_capture(n)).collect();
    let name = definitions.capture_index_for_name("name").ok_or("no @name capture")?;
    // Patterns that define nothing (a tags.scm's references) would only cost time.
    for pattern in 0..definitions.pattern_count() {
        let quantifiers = definitions.capture_quantifiers(pattern);
        let defines = (0..kinds.len())
            .any(|k| kinds[k].is_some() && quantifiers[k] != tree_sitter::CaptureQuantifier::Zero);
        if !defines {
            definitions.disable_pattern(pattern);
        }
    }
    let imports = Query::new(&grammar, spec.imports).map_err(|e| e.to_string())?;
    let import = imports.capture_index_for_name("import").ok_or("no @import capture")?;
    Ok(Compiled { grammar, definitions, kinds, name, imports, import })
}

// ---------------------------------------------------------------------------------------------
// Parsing and querying, bounded

thread_local! {
    /// One parser per thread (a parser holds allocations worth reusing between files).
    static PARSER: RefCell<Parser> = RefCell::new(Parser::new());
}

/// `text` parsed, unless it is over `MAX_PARSE_BYTES` or takes longer than `limit`.
fn parse(compiled: &Compiled, text: &str, limit: Duration) -> Option<Tree> {
    if text.len() > MAX_PARSE_BYTES {
        return None;
    }
    PARSER.with(|parser| {
        let mut parser = parser.try_borrow_mut().ok()?;
        parser.set_language(&compiled.grammar).ok()?;
        let deadline = Instant::now() + limit;
        let mut in_time = |_: &ParseState| {
            if Instant::now() < deadline {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        };
        let bytes = text.as_bytes();
        let tree = parser.parse_with_options(
            &mut |offset, _| bytes.get(offset..).unwrap_or_default(),
            None,
            Some(ParseOptions::new().progress_callback(&mut in_time)),
        );
        if tree.is_none() {
            // A parse stopped by the callback would otherwise resume with the next file.
            parser.reset();
        }
        tree
    })
}

/// Runs `query` over `root`, calling `each` for every match until the time limit.
fn for_each_match<'tree>(
    query: &Query,
    root: Node<'tree>,
    text: &str,
    mut each: impl FnMut(&tree_sitter::QueryMatch<'_, 'tree>),
) {
    let deadline = Instant::now() + PARSE_TIME_LIMIT;
    let mut in_time = |_: &QueryCursorState| {
        if Instant::now() < deadline { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
    };
    let mut cursor = QueryCursor::new();
    // Enough for every real file; bounds the cursor's memory on pathological nesting.
    cursor.set_match_limit(4096);
    let options = QueryCursorOptions::new().progress_callback(&mut in_time);
    let mut matches = cursor.matches_with_options(query, root, text.as_bytes(), options);
    while let Some(found) = matches.next() {
        each(found);
    }
}

fn find_definitions(compiled: &Compiled, root: Node, text: &str) -> Vec<Definition> {
    // By the name node: the first pattern that captured it, and its definition.
    let mut found: HashMap<usize, (usize, usize, Definition)> = HashMap::new();
    for_each_match(&compiled.definitions, root, text, |m| {
        let mut name = None;
        let mut definition = None;
        for capture in m.captures() {
            if capture.index == compiled.name {
                name = Some(capture.node);
            } else if let Some(Some(kind)) = compiled.kinds.get(capture.index as usize) {
                definition = Some((capture.node, *kind));
            }
        }
        let (Some(name), Some((node, kind))) = (name, definition) else { return };
        let Some(identifier) = text.get(name.byte_range()) else { return };
        // Rust raw identifiers (`r#type`) define the plain name.
        let identifier = identifier.strip_prefix("r#").unwrap_or(identifier);
        // Qualified names (`App\\Http`, `Acme.App`) are not what code near a cursor spells.
        let plain = !identifier.contains(|c: char| c.is_whitespace() || "\\.:".contains(c));
        if identifier.is_empty() || identifier == "_" || !plain {
            return;
        }
        if found.get(&name.id()).is_some_and(|(pattern, _, _)| *pattern <= m.pattern_index) {
            return;
        }
        let head = definition_head(node);
        let definition = Definition {
            name: identifier.to_string(),
            line: head.start_position().row,
            indent: indent_of(text, head),
            kind,
        };
        found.insert(name.id(), (m.pattern_index, name.start_byte(), definition));
    });
    let mut definitions: Vec<(usize, Definition)> =
        found.into_values().map(|(_, at, definition)| (at, definition)).collect();
    definitions.sort_by_key(|(at, d)| (d.line, *at));
    definitions.into_iter().map(|(_, d)| d).collect()
}

/// Node kinds that lead a definition without being its first line: decorators, attributes and
/// annotations the grammar makes its children, and leading comments.
const DECORATIONS: &[&str] = &[
    "decorator",
    "attribute_list",
    "annotation",
    "marker_annotation",
    "comment",
    "line_comment",
    "block_comment",
];

/// The first part of a definition's own text, after the decorations it holds as children (Java
/// keeps its annotations among the `modifiers`).
fn definition_head(node: Node) -> Node {
    first_undecorated(node).unwrap_or(node)
}

fn first_undecorated(node: Node) -> Option<Node> {
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        if DECORATIONS.contains(&child.kind()) {
            continue;
        }
        if child.kind() == "modifiers" {
            match first_undecorated(child) {
                Some(head) => return Some(head),
                None => continue,
            }
        }
        return Some(child);
    }
    None
}

/// Indentation (columns, tab = 4) of the line `head` starts on.
fn indent_of(text: &str, head: Node) -> usize {
    let line_start = head.start_byte().saturating_sub(head.start_position().column);
    text.get(line_start..)
        .unwrap_or_default()
        .bytes()
        .take_while(|&b| b == b' ' || b == b'\t')
        .map(|b| if b == b'\t' { 4 } else { 1 })
        .sum()
}

fn find_imports(
    spec: &LanguageSpec,
    compiled: &Compiled,
    root: Node,
    text: &str,
    file: &SourcePath,
) -> Vec<Import> {
    let mut statements: Vec<Node> = Vec::new();
    for_each_match(&compiled.imports, root, text, |m| {
        statements.extend(m.nodes_for_capture_index(compiled.import));
    });
    statements.sort_by_key(|n| n.start_byte());
    statements.dedup_by_key(|n| n.id());
    let site = ImportSite { text, path: file, root };
    let mut out = (spec.resolve_imports)(&site, &statements);
    let own = file.to_string();
    for import in &mut out {
        paths::dedup(&mut import.candidates);
        import.candidates.retain(|c| *c != own);
        paths::dedup(&mut import.suffix_candidates);
        paths::dedup(&mut import.names);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `(name, line, indent, kind)` of each definition, for compact assertions.
    pub(crate) fn defs(language: &str, text: &str) -> Vec<(String, usize, usize, DefinitionKind)> {
        let language = Language::named(language);
        assert_ne!(language, Language::OTHER);
        definitions(language, text)
            .into_iter()
            .map(|d| (d.name, d.line, d.indent, d.kind))
            .collect()
    }

    pub(crate) fn d(
        name: &str,
        line: usize,
        indent: usize,
        kind: DefinitionKind,
    ) -> (String, usize, usize, DefinitionKind) {
        (name.to_string(), line, indent, kind)
    }

    pub(crate) fn imports_of(language: &str, path: &str, text: &str) -> Vec<Import> {
        let language = Language::named(language);
        assert_ne!(language, Language::OTHER);
        imports(language, path, text)
    }

    pub(crate) fn one(language: &str, path: &str, text: &str) -> Import {
        let mut all = imports_of(language, path, text);
        assert_eq!(all.len(), 1, "{all:#?}");
        all.remove(0)
    }

    pub(crate) fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    pub(crate) fn check(
        import: &Import,
        line: usize,
        names: &[&str],
        candidates: &[&str],
        suffixes: &[&str],
    ) {
        assert_eq!(import.line, line, "{import:#?}");
        assert_eq!(import.names, strings(names), "{import:#?}");
        assert_eq!(import.candidates, strings(candidates), "{import:#?}");
        assert_eq!(import.suffix_candidates, strings(suffixes), "{import:#?}");
    }

    #[test]
    fn every_language_compiles_its_queries() {
        for spec in LANGUAGES {
            let language = Language::named(spec.name);
            assert!(compiled(language).is_some(), "{}", spec.name);
        }
    }

    #[test]
    fn language_by_extension() {
        let name = |path: &str| language_of(path).name();
        assert_eq!(name("a/b/c.py"), "python");
        assert_eq!(name("stubs/x.pyi"), "python");
        assert_eq!(name("src/main.rs"), "rust");
        for ext in ["ts", "mts", "cts", "d.ts", "TS"] {
            assert_eq!(name(&format!("web/app.{ext}")), "typescript", "{ext}");
        }
        assert_eq!(name("web/App.tsx"), "tsx");
        for ext in ["js", "jsx", "mjs", "cjs"] {
            assert_eq!(name(&format!("web/app.{ext}")), "javascript", "{ext}");
        }
        assert_eq!(name("cmd/main.go"), "go");
        assert_eq!(name("src/A.java"), "java");
        assert_eq!(name("src/a.c"), "c");
        for ext in ["cc", "cpp", "cxx", "hpp", "hh", "h"] {
            assert_eq!(name(&format!("src/a.{ext}")), "cpp", "{ext}");
        }
        assert_eq!(name("src/A.cs"), "c_sharp");
        assert_eq!(name("lib/a.rb"), "ruby");
        assert_eq!(name("src/a.php"), "php");
        assert_eq!(name("Makefile"), "other");
        assert_eq!(name("dir.rs/README"), "other");
        assert_eq!(name("notes.md"), "other");
        assert_eq!(name(""), "other");
    }

    #[test]
    fn a_document_s_language_is_its_editor_s_else_its_extension_s() {
        let name = |path: &str, id: &str| language_of_document(path, id).name();
        assert_eq!(name("untitled:Untitled-1", "python"), "python");
        assert_eq!(name("untitled:Untitled-2", "typescriptreact"), "tsx");
        assert_eq!(name("file:///a/Program", "csharp"), "c_sharp");
        assert_eq!(name("file:///a/script", "Rust"), "rust");
        assert_eq!(name("file:///a/b.rs", "plaintext"), "rust");
        assert_eq!(name("file:///a/b.h", "c"), "c");
        assert_eq!(name("file:///a/notes.txt", "plaintext"), "other");
        assert_eq!(name("untitled:Untitled-3", ""), "other");
    }

    #[test]
    fn families_group_languages_that_share_code() {
        let family = |a: &str, b: &str| language_of(a).same_family(language_of(b));
        assert!(family("a.ts", "b.js") && family("a.tsx", "b.ts") && family("a.c", "b.h"));
        assert!(!family("a.py", "b.rs") && !family("a.java", "b.cs"));
        assert!(!family("a.md", "b.md"), "unknown languages are no family");
    }

    #[test]
    fn other_language_has_no_definitions_or_imports() {
        assert!(definitions(Language::OTHER, "def f(): pass\nfn g() {}").is_empty());
        assert!(imports(Language::OTHER, "a.txt", "import x\nuse crate::a;").is_empty());
    }

    #[test]
    fn oversized_files_are_not_parsed() {
        let python = Language::named("python");
        let text = "def f():\n    pass\n".repeat(MAX_PARSE_BYTES / 10);
        assert!(text.len() > MAX_PARSE_BYTES);
        assert!(definitions(python, &text).is_empty());
        assert_eq!(definitions(python, &text[..18 * 100]).len(), 100);
    }

    #[test]
    fn a_parse_out_of_time_yields_nothing_and_the_next_parse_starts_afresh() {
        let (_, compiled) = compiled(Language::named("python")).unwrap();
        let text = "def f():\n    pass\n".repeat(2000);
        assert!(parse(compiled, &text, Duration::ZERO).is_none());
        let tree = parse(compiled, "x = 1\n", PARSE_TIME_LIMIT).expect("parsed");
        assert_eq!(
            tree.root_node().to_sexp(),
            "(module (expression_statement (assignment left: (identifier) right: (integer))))"
        );
    }

    /// A sample mixing the tricky parts of every language.
    const TRICKY: &str = "def f(x):\n    \"\"\"doc ''' \"\n    return '\\'' # c\nfn g<'a>(s: &'a str) -> char { 'x' } /* /* */ */ r##\"raw \"# \"##\nlet t = `a ${b ? `c` : '}'} d`; const re = /[/{]/; x = a / b / c;\nimport (\n\tf \"fmt\"\n)\nfrom ..m import (a,\n b as c)\nuse crate::{a::{b, c as d}, e::*};\n#include \"../../x.h\"\nrequire_relative '../../../y'\nuse App\\{A, B as C};\nimport static a.b.*;\n'\"unbalanced ( [ {\n}}}))) \"\"\" ''' ` */ /*\n\u{e9}\u{1F600} caf\u{e9}\t\r\n\\";

    #[test]
    fn never_panics_and_never_escapes_the_root() {
        let paths = ["", "src/a/mod.rs", "x/src/bin/t.rs", "a//b/./c.ts"];
        let mut samples: Vec<String> = Vec::new();
        for (k, _) in TRICKY.char_indices().step_by(4) {
            samples.push(TRICKY[..k].to_string());
            samples.push(TRICKY[k..].to_string());
        }
        samples.extend(pseudo_random_strings(
            "ab_ .\t\n'\"`#/*\\(){}[]<>:;,=@~$rusefromimport\u{e9}\u{1F600}",
            0x9e37_79b9_7f4a_7c15,
            60,
            300,
        ));
        let huge = [
            "{".repeat(50_000),
            "\"".repeat(50_001),
            format!("use crate::{}", "{".repeat(20_000)),
            format!("import {}", "a.".repeat(20_000)),
        ];
        let escapes = |import: &Import| {
            import.candidates.iter().chain(&import.suffix_candidates).any(|c| {
                c.starts_with('/') || c.split('/').any(|segment| segment == ".." || segment == ".")
            })
        };
        for spec in LANGUAGES {
            let language = Language::named(spec.name);
            for s in &samples {
                assert_eq!(outline(language, "", s), outline(language, "", s), "deterministic");
                for path in paths {
                    let found = outline(language, path, s);
                    assert!(!found.imports.iter().any(escapes), "{found:?} from {s:?}");
                }
            }
            for s in &huge {
                let found = outline(language, "src/a/b.rs", s);
                assert!(!found.imports.iter().any(escapes), "{}", spec.name);
            }
        }
    }

    /// A 100 KB file is read whole: every definition in it is found.
    #[test]
    fn a_large_file_is_read_whole() {
        let block = "class Handler:\n    def run(self, x):\n        return x  # note\n\n";
        let text = block.repeat(1250);
        let found = definitions(Language::named("python"), &text);
        assert_eq!(found.len(), 2500);
    }

    /// `count` deterministic pseudo-random strings (xorshift) of up to `max_len` characters drawn
    /// from `alphabet`, for robustness tests.
    pub(crate) fn pseudo_random_strings(
        alphabet: &str,
        mut seed: u64,
        count: usize,
        max_len: u64,
    ) -> Vec<String> {
        let alphabet: Vec<char> = alphabet.chars().collect();
        (0..count)
            .map(|_| {
                let len = seed % max_len;
                (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        alphabet[(seed % alphabet.len() as u64) as usize]
                    })
                    .collect()
            })
            .collect()
    }
}
