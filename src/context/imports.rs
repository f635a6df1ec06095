//! Which other workspace files a file imports, found by a line scanner rather than a parser.
//!
//! Each import statement becomes an `Import` with the names it brings in and the paths where the
//! imported module may live. Paths are only guesses built from the file's own path: the caller
//! keeps the ones that exist. Nothing here touches the file system.

use super::symbols::{
    CodeLine, Language, after_word, code_lines, is_ident_byte, is_identifier, leading_ident,
    strip_rust_attributes, strip_rust_visibility,
};

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
    /// imports, Go import paths, TS `@/` and `~/` aliases): path suffixes to match against any
    /// workspace file. Empty when `candidates` is exact.
    pub suffix_candidates: Vec<String>,
}

/// The imports of `text`, in line order. `path` is the file's path relative to the workspace
/// root, '/'-separated; a path that leaves the root yields nothing.
pub fn imports(language: Language, path: &str, text: &str) -> Vec<Import> {
    let Some(file) = normalize(&[], path) else { return Vec::new() };
    let dir = &file[..file.len().saturating_sub(1)];
    let mut out = match language {
        Language::Python => python_imports(dir, text),
        Language::Rust => rust_imports(&file, text),
        Language::TypeScript => ts_imports(dir, text),
        Language::Go => go_imports(text),
        Language::Other => Vec::new(),
    };
    let own = file.join("/");
    for import in &mut out {
        dedup(&mut import.candidates);
        import.candidates.retain(|c| *c != own);
        dedup(&mut import.suffix_candidates);
        dedup(&mut import.names);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Paths

/// `base` followed by the '/'-separated `rel` with `.` and `..` resolved; None when it would leave
/// the root.
fn normalize<'a>(base: &[&'a str], rel: &'a str) -> Option<Vec<&'a str>> {
    let mut segments = base.to_vec();
    for segment in rel.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            s => segments.push(s),
        }
    }
    Some(segments)
}

/// `dir` and `tail` joined by '/' (just `tail` at the root).
fn join(dir: &[&str], tail: &str) -> String {
    let mut s = dir.join("/");
    if !s.is_empty() && !tail.is_empty() {
        s.push('/');
    }
    s.push_str(tail);
    s
}

fn dedup(items: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|item| seen.insert(item.clone()));
}

// ---------------------------------------------------------------------------------------------
// Python

fn python_imports(dir: &[&str], text: &str) -> Vec<Import> {
    let lines: Vec<CodeLine> = code_lines(Language::Python, text).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let first = &lines[i];
        let t = first.code.trim_start();
        if !first.fresh
            || first.depth != 0
            || (after_word(t, "import").is_none() && after_word(t, "from").is_none())
        {
            i += 1;
            continue;
        }
        // A parenthesized or backslash-continued statement goes on until its brackets close.
        let mut statement = t.to_string();
        let mut j = i;
        while j + 1 < lines.len()
            && j - i < 1000
            && (lines[j + 1].depth > 0 || lines[j].code.trim_end().ends_with('\\'))
        {
            j += 1;
            statement.push(' ');
            statement.push_str(&lines[j].code);
        }
        let statement = statement.replace(['(', ')', '\\'], " ");
        for part in statement.split(';') {
            python_statement(part.trim(), first.line, dir, &mut out);
        }
        i = j + 1;
    }
    out
}

/// The segments of a dotted module name, if every one is an identifier.
fn dotted(module: &str) -> Option<Vec<&str>> {
    let segments: Vec<&str> = module.split('.').collect();
    segments.iter().all(|s| is_identifier(s, false)).then_some(segments)
}

fn python_module_files(module: &str) -> [String; 2] {
    [format!("{module}.py"), format!("{module}/__init__.py")]
}

fn python_statement(statement: &str, line: usize, dir: &[&str], out: &mut Vec<Import>) {
    if let Some(rest) = after_word(statement, "import") {
        // import a.b.c [as x], d
        for part in rest.split(',') {
            let mut words = part.split_whitespace();
            let Some(segments) = words.next().and_then(dotted) else { continue };
            let name = match (words.next(), words.next()) {
                (Some("as"), Some(alias)) if is_identifier(alias, false) => alias,
                _ => segments[0],
            };
            out.push(Import {
                line,
                names: vec![name.to_string()],
                candidates: Vec::new(),
                suffix_candidates: python_module_files(&segments.join("/")).into(),
            });
        }
        return;
    }
    let Some(rest) = after_word(statement, "from") else { return };
    // from <dots><module> import <names>
    let end = rest.bytes().position(|b| !(b == b'.' || is_ident_byte(b))).unwrap_or(rest.len());
    let (module, rest) = rest.split_at(end);
    let Some(names_part) = after_word(rest.trim_start(), "import") else { return };
    let dots = module.bytes().take_while(|&b| b == b'.').count();
    let module = &module[dots..];
    let segments = if module.is_empty() { Vec::new() } else { dotted(module).unwrap_or_default() };
    if segments.is_empty() && (dots == 0 || !module.is_empty()) {
        return;
    }
    if segments.first() == Some(&"__future__") {
        return;
    }
    // (imported name, local name)
    let mut imported: Vec<&str> = Vec::new();
    let mut names = Vec::new();
    for part in names_part.split(',') {
        let mut words = part.split_whitespace();
        let Some(name) = words.next().filter(|n| is_identifier(n, false)) else { continue };
        let local = match (words.next(), words.next()) {
            (Some("as"), Some(alias)) if is_identifier(alias, false) => alias,
            _ => name,
        };
        imported.push(name);
        names.push(local.to_string());
    }
    let mut import = Import { line, names, candidates: Vec::new(), suffix_candidates: Vec::new() };
    if dots == 0 {
        let module = segments.join("/");
        import.suffix_candidates.extend(python_module_files(&module));
        import.suffix_candidates.extend(imported.iter().map(|n| format!("{module}/{n}.py")));
    } else if let Some(package) = dir.len().checked_sub(dots - 1).map(|keep| &dir[..keep]) {
        if segments.is_empty() {
            // from . import m: m may be a submodule, or a name from the package's __init__.py.
            for name in &imported {
                import.candidates.extend(python_module_files(&join(package, name)));
            }
            import.candidates.push(join(package, "__init__.py"));
        } else {
            let module = join(package, &segments.join("/"));
            import.candidates.extend(python_module_files(&module));
            import.candidates.extend(imported.iter().map(|n| format!("{module}/{n}.py")));
        }
    }
    out.push(import);
}

// ---------------------------------------------------------------------------------------------
// TypeScript / JavaScript

fn ts_imports(dir: &[&str], text: &str) -> Vec<Import> {
    let lines: Vec<CodeLine> = code_lines(Language::TypeScript, text).collect();
    let mut out = Vec::new();
    for (i, cl) in lines.iter().enumerate() {
        let t = cl.code.trim_start();
        if cl.fresh
            && let Some(statement) = ts_statement_text(&lines, i, t)
            && let Some((names, specifier)) = ts_static(&statement)
        {
            let (candidates, suffix_candidates) = ts_resolve(dir, &specifier);
            out.push(Import { line: cl.line, names, candidates, suffix_candidates });
        }
        ts_calls(&cl.code, cl.line, dir, &mut out);
    }
    out
}

/// The text of a static `import`/`export ... from` statement starting on line `i`, joined with
/// the lines it continues on (`import {\n a,\n b\n} from "x"`).
fn ts_statement_text(lines: &[CodeLine], i: usize, t: &str) -> Option<String> {
    if let Some(rest) = after_word(t, "import") {
        if rest.starts_with(['(', '.']) {
            return None; // import("x") is a call, import.meta is not an import
        }
    } else {
        let rest = after_word(t, "export")?;
        let rest = after_word(rest, "type").unwrap_or(rest);
        if !rest.starts_with(['{', '*']) {
            return None;
        }
    }
    let mut statement = t.to_string();
    let mut j = i;
    while j + 1 < lines.len() && j - i < 200 {
        let open = lines[j + 1].depth > lines[i].depth;
        let trimmed = statement.trim_end();
        let dangling = trimmed.ends_with([',', '{', '*'])
            || ["import", "export", "from", "as", "type"].iter().any(|w| {
                trimmed
                    .strip_suffix(w)
                    .is_some_and(|before| !before.bytes().last().is_some_and(is_ident_byte))
            });
        if !open && !dangling {
            break;
        }
        j += 1;
        statement.push(' ');
        statement.push_str(&lines[j].code);
    }
    Some(statement)
}

/// Names and specifier of a static import or re-export statement (up to its first `;`).
fn ts_static(statement: &str) -> Option<(Vec<String>, String)> {
    let statement = &statement[..statement.find(';').unwrap_or(statement.len())];
    if let Some(rest) = after_word(statement, "import") {
        if rest.starts_with(['"', '\'']) {
            return Some((Vec::new(), string_literal(rest)?.to_string())); // import "./polyfill"
        }
        let (clause, specifier) = split_from(rest)?;
        let clause = match after_word(clause, "type") {
            Some(after) if !after.is_empty() && !after.starts_with(',') => after,
            _ => clause,
        };
        Some((clause_names(clause), specifier.to_string()))
    } else {
        let rest = after_word(statement, "export")?;
        let rest = after_word(rest, "type").unwrap_or(rest);
        let (clause, specifier) = split_from(rest)?;
        Some((clause_names(clause), specifier.to_string()))
    }
}

/// The content of the string literal `s` starts with (no interpolation, no line break).
fn string_literal(s: &str) -> Option<&str> {
    let quote = s.chars().next().filter(|c| matches!(c, '"' | '\'' | '`'))?;
    let body = &s[1..];
    let content = &body[..body.find(quote)?];
    (!content.is_empty() && !content.contains("${") && !content.contains('\n')).then_some(content)
}

/// `clause from "specifier"`: the clause and the specifier, taking the last `from` that is
/// followed by a string.
fn split_from(rest: &str) -> Option<(&str, &str)> {
    rest.rmatch_indices("from").find_map(|(k, _)| {
        if k > 0 && is_ident_byte(rest.as_bytes()[k - 1]) {
            return None;
        }
        let after = &rest[k + 4..];
        if after.bytes().next().is_some_and(|b| is_ident_byte(b) || b == b'$') {
            return None;
        }
        Some((rest[..k].trim(), string_literal(after.trim_start())?))
    })
}

/// Local names of an import clause: `Default`, `* as ns`, `{ a, b as c, type T }`.
fn clause_names(clause: &str) -> Vec<String> {
    let mut names = Vec::new();
    let (outside, inside) = match clause.find('{') {
        Some(open) => {
            let inner = &clause[open + 1..];
            (&clause[..open], Some(&inner[..inner.find('}').unwrap_or(inner.len())]))
        }
        None => (clause, None),
    };
    for part in outside.split(',') {
        let part = part.trim();
        if let Some(rest) = part.strip_prefix('*') {
            if let Some(alias) = after_word(rest.trim_start(), "as")
                && is_identifier(alias, true)
            {
                names.push(alias.to_string());
            }
        } else if is_identifier(part, true) {
            names.push(part.to_string());
        }
    }
    for part in inside.into_iter().flat_map(|inner| inner.split(',')) {
        let words: Vec<&str> = part.split_whitespace().collect();
        let words = match words.as_slice() {
            ["type", rest @ ..] if !rest.is_empty() => rest,
            all => all,
        };
        let local = match words {
            [_, "as", alias] => alias,
            [name] => name,
            _ => continue,
        };
        if is_identifier(local, true) {
            names.push(local.to_string());
        }
    }
    names
}

/// `import("x")` and `require("x")` anywhere in a line.
fn ts_calls(code: &str, line: usize, dir: &[&str], out: &mut Vec<Import>) {
    if !code.contains("import") && !code.contains("require") {
        return;
    }
    let mut found: Vec<(usize, Import)> = Vec::new();
    for keyword in ["import", "require"] {
        for (k, _) in code.match_indices(keyword) {
            if k > 0 && matches!(code.as_bytes()[k - 1], b'.' | b'$' | b'#') {
                continue;
            }
            if k > 0 && is_ident_byte(code.as_bytes()[k - 1]) {
                continue;
            }
            let Some(rest) = code[k + keyword.len()..].trim_start().strip_prefix('(') else {
                continue;
            };
            let Some(specifier) = string_literal(rest.trim_start()) else { continue };
            let (candidates, suffix_candidates) = ts_resolve(dir, specifier);
            let names = binding_names(&code[..k]);
            found.push((k, Import { line, names, candidates, suffix_candidates }));
        }
    }
    found.sort_by_key(|(k, _)| *k);
    out.extend(found.into_iter().map(|(_, import)| import));
}

/// The names a `const x = require(`, `const { a, b: c } = await import(` or
/// `import x = require(` binds, from the text before the call.
fn binding_names(before: &str) -> Vec<String> {
    let t = before.trim_end();
    let t = t.strip_suffix("await").map_or(t, str::trim_end);
    let Some(t) = t.strip_suffix('=') else { return Vec::new() };
    if t.ends_with(['=', '!', '<', '>']) {
        return Vec::new();
    }
    let t = t.trim_end();
    let declared = |head: &str| {
        let head = head.trim_end();
        ["const", "let", "var", "import"].iter().any(|w| {
            head.strip_suffix(w).is_some_and(|b| !b.bytes().last().is_some_and(is_ident_byte))
        })
    };
    if let Some(inner) = t.strip_suffix('}') {
        let Some(open) = inner.rfind('{') else { return Vec::new() };
        if !declared(&inner[..open]) {
            return Vec::new();
        }
        return inner[open + 1..]
            .split(',')
            .filter_map(|part| {
                let part = part.trim().trim_start_matches("...");
                let part = part.split('=').next().unwrap_or("").trim();
                let local = part.rsplit(':').next().unwrap_or("").trim();
                is_identifier(local, true).then(|| local.to_string())
            })
            .collect();
    }
    let start = t.bytes().rposition(|b| !(is_ident_byte(b) || b == b'$')).map_or(0, |p| p + 1);
    let name = &t[start..];
    if is_identifier(name, true) && declared(&t[..start]) {
        vec![name.to_string()]
    } else {
        Vec::new()
    }
}

const TS_EXTENSIONS: &[&str] = &["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs", "json"];

/// Candidates and suffix candidates of a TS/JS module specifier.
fn ts_resolve(dir: &[&str], specifier: &str) -> (Vec<String>, Vec<String>) {
    let relative = specifier == "."
        || specifier == ".."
        || specifier.starts_with("./")
        || specifier.starts_with("../");
    let is_dir = |s: &str| s.ends_with('/') || s.ends_with("/.") || s.ends_with("/..");
    if relative {
        let Some(target) = normalize(dir, specifier) else { return (Vec::new(), Vec::new()) };
        let dir_only = is_dir(specifier) || specifier == "." || specifier == "..";
        return (ts_file_candidates(&target, dir_only), Vec::new());
    }
    let alias = specifier.strip_prefix("@/").or_else(|| specifier.strip_prefix("~/"));
    if let Some(rest) = alias
        && let Some(target) = normalize(&[], rest)
        && !target.is_empty()
    {
        let dir_only = is_dir(rest);
        let mut in_src = vec!["src"];
        in_src.extend(&target);
        let mut suffixes = ts_file_candidates(&in_src, dir_only);
        suffixes.extend(ts_file_candidates(&target, dir_only));
        return (Vec::new(), suffixes);
    }
    (Vec::new(), Vec::new())
}

/// Files a resolved specifier may name: the file itself when it has a known extension (and the
/// TypeScript source of a `.js` import), else the usual extensions and `index` files.
fn ts_file_candidates(target: &[&str], dir_only: bool) -> Vec<String> {
    let index = |dir: &[&str]| {
        ["index.ts", "index.tsx", "index.js"].iter().map(|f| join(dir, f)).collect::<Vec<_>>()
    };
    let Some((last, parent)) = target.split_last().filter(|_| !dir_only) else {
        return index(target);
    };
    let base = target.join("/");
    if let Some((stem, ext)) = last.rsplit_once('.')
        && !stem.is_empty()
        && TS_EXTENSIONS.contains(&ext)
    {
        let stem = join(parent, stem);
        let mut out = vec![base];
        let sources: &[&str] = match ext {
            "js" => &["ts", "tsx"],
            "jsx" => &["tsx"],
            "mjs" => &["mts"],
            "cjs" => &["cts"],
            _ => &[],
        };
        out.extend(sources.iter().map(|e| format!("{stem}.{e}")));
        return out;
    }
    let mut out: Vec<String> =
        ["ts", "tsx", "d.ts", "js", "jsx", "mjs"].iter().map(|e| format!("{base}.{e}")).collect();
    out.extend(index(target));
    if last.contains('.') {
        out.push(base); // ./styles.css, ./logo.svg
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Rust

/// Where a Rust file sits in its crate.
struct RustCrate<'a> {
    /// Directory of the crate root's modules (`src`, or `src/bin` for `src/bin/x.rs`).
    base: Vec<&'a str>,
    /// Module path of the file (empty for a crate root).
    module: Vec<&'a str>,
    /// Files of the crate root module.
    root_files: Vec<String>,
}

impl<'a> RustCrate<'a> {
    fn of(file: &[&'a str]) -> Self {
        let (name, dir) = file.split_last().map_or(("", &[][..]), |(n, d)| (*n, d));
        let own = || vec![file.join("/")];
        let Some(src) = dir.iter().rposition(|s| *s == "src") else {
            return Self { base: dir.to_vec(), module: Vec::new(), root_files: own() };
        };
        let base = dir[..=src].to_vec();
        let inner = &dir[src + 1..];
        match (inner, name) {
            ([], "lib.rs" | "main.rs") => {
                let root_files = vec![join(&base, "lib.rs"), join(&base, "main.rs")];
                Self { base, module: Vec::new(), root_files }
            }
            (["bin"], _) | (["bin", _], "main.rs") => {
                Self { base: dir.to_vec(), module: Vec::new(), root_files: own() }
            }
            _ => {
                let mut module = inner.to_vec();
                if name != "mod.rs" {
                    module.push(name.strip_suffix(".rs").unwrap_or(name));
                }
                let root_files = vec![join(&base, "lib.rs"), join(&base, "main.rs")];
                Self { base, module, root_files }
            }
        }
    }

    fn module_files(&self, module: &[&str]) -> Vec<String> {
        if module.is_empty() {
            return self.root_files.clone();
        }
        let path = join(&self.base, &module.join("/"));
        vec![format!("{path}.rs"), format!("{path}/mod.rs")]
    }
}

/// One leaf of a use tree: its full path and local name.
struct UseLeaf<'a> {
    path: Vec<&'a str>,
    local: Option<&'a str>,
}

struct UseParser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> UseParser<'a> {
    fn skip_space(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.text[self.at..].starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<&'a str> {
        self.skip_space();
        let rest = &self.text[self.at..];
        let raw = rest.strip_prefix("r#").unwrap_or(rest);
        let dollar = raw.strip_prefix('$').unwrap_or(raw);
        let (name, _) = leading_ident(dollar, false)?;
        let name = if dollar.len() < raw.len() { &raw[..name.len() + 1] } else { name };
        self.at += rest.len() - raw.len() + name.len();
        Some(name)
    }

    /// Parses one use tree after `prefix` into `out`; false on anything unexpected.
    fn tree(
        &mut self,
        prefix: &mut Vec<&'a str>,
        out: &mut Vec<UseLeaf<'a>>,
        nesting: usize,
    ) -> bool {
        if nesting > 16 || out.len() > 512 {
            return false;
        }
        let start_len = prefix.len();
        if prefix.is_empty() && self.eat("::") {
            prefix.push("::");
        }
        let ok = loop {
            if self.eat("{") {
                break loop {
                    if self.eat("}") {
                        break true;
                    }
                    if !self.tree(prefix, out, nesting + 1) {
                        break false;
                    }
                    if self.eat(",") {
                        continue;
                    }
                    break self.eat("}");
                };
            }
            if self.eat("*") {
                out.push(UseLeaf { path: prefix.clone(), local: None });
                break true;
            }
            let Some(segment) = self.ident() else { break false };
            if self.eat("::") {
                prefix.push(segment);
                continue;
            }
            let alias = if self.eat("as ") || self.eat("as\t") { self.ident() } else { None };
            let (path, name) = if segment == "self" {
                (prefix.clone(), prefix.last().copied())
            } else {
                let mut path = prefix.clone();
                path.push(segment);
                (path, Some(segment))
            };
            let local = alias.or(name).filter(|n| *n != "_" && *n != "::");
            out.push(UseLeaf { path, local });
            break true;
        };
        prefix.truncate(start_len);
        ok
    }
}

fn rust_imports(file: &[&str], text: &str) -> Vec<Import> {
    let krate = RustCrate::of(file);
    let lines: Vec<CodeLine> = code_lines(Language::Rust, text).collect();
    // Modules the file declares with `mod x;`: `use x::Y` then means `use self::x::Y`.
    let declared: Vec<&str> = lines
        .iter()
        .filter(|cl| cl.fresh && cl.depth == 0)
        .filter_map(|cl| rust_mod_declaration(&cl.code))
        .collect();
    let mut out = Vec::new();
    // Inline `mod name {` blocks: (depth of their body, name).
    let mut inline: Vec<(usize, &str)> = Vec::new();
    for (i, cl) in lines.iter().enumerate() {
        if !cl.fresh {
            continue;
        }
        while inline.last().is_some_and(|&(body, _)| body > cl.depth) {
            inline.pop();
        }
        let Some(t) = strip_rust_attributes(cl.code.trim()) else { continue };
        let t = strip_rust_visibility(t);
        let module = || {
            let mut module = krate.module.clone();
            module.extend(inline.iter().map(|&(_, name)| name));
            module
        };
        if let Some(rest) = after_word(t, "use") {
            let mut statement = rest.to_string();
            let mut j = i;
            while !statement.contains(';') && j + 1 < lines.len() && j - i < 300 {
                j += 1;
                statement.push(' ');
                statement.push_str(&lines[j].code);
            }
            let statement = &statement[..statement.find(';').unwrap_or(statement.len())];
            out.push(rust_use(statement, cl.line, &krate, &module(), &declared));
        } else if let Some(rest) = after_word(t, "mod")
            && let Some((name, after)) = leading_ident(rest, false)
        {
            if after.trim_start().starts_with(';') {
                let mut module = module();
                module.push(name);
                out.push(Import {
                    line: cl.line,
                    names: vec![name.to_string()],
                    candidates: krate.module_files(&module),
                    suffix_candidates: Vec::new(),
                });
            } else {
                inline.push((cl.depth + 1, name));
            }
        }
    }
    out
}

fn rust_mod_declaration(code: &str) -> Option<&str> {
    let t = strip_rust_visibility(strip_rust_attributes(code.trim())?);
    let (name, after) = leading_ident(after_word(t, "mod")?, false)?;
    after.trim_start().starts_with(';').then_some(name)
}

fn rust_use(
    statement: &str,
    line: usize,
    krate: &RustCrate,
    module: &[&str],
    declared: &[&str],
) -> Import {
    let mut parser = UseParser { text: statement, at: 0 };
    let mut leaves = Vec::new();
    if !parser.tree(&mut Vec::new(), &mut leaves, 0) {
        leaves.clear();
    }
    let mut import =
        Import { line, names: Vec::new(), candidates: Vec::new(), suffix_candidates: Vec::new() };
    for leaf in &leaves {
        if let Some(local) = leaf.local {
            import.names.push(local.to_string());
        }
        import.candidates.extend(rust_leaf_candidates(leaf, krate, module, declared));
    }
    import
}

/// Files that may hold the item or module a use path names, deepest first: every module prefix
/// of the path down to the one it was resolved from (`crate`, `super`, `self`), since any of them
/// may hold the rest as an inline module.
fn rust_leaf_candidates(
    leaf: &UseLeaf,
    krate: &RustCrate,
    module: &[&str],
    declared: &[&str],
) -> Vec<String> {
    let Some(&first) = leaf.path.first().filter(|_| leaf.path.len() <= 64) else {
        return Vec::new();
    };
    let (base, rest): (Vec<&str>, &[&str]) = match first {
        "crate" | "$crate" => (Vec::new(), &leaf.path[1..]),
        "self" => (module.to_vec(), &leaf.path[1..]),
        "super" => {
            let ups = leaf.path.iter().take_while(|s| **s == "super").count();
            let Some(keep) = module.len().checked_sub(ups) else { return Vec::new() };
            (module[..keep].to_vec(), &leaf.path[ups..])
        }
        name if declared.contains(&name) => (module.to_vec(), &leaf.path[..]),
        _ => return Vec::new(), // another crate
    };
    let stop = base.len();
    let mut full = base;
    for segment in rest {
        // A type, trait or constant ends the module part; a lowercase last segment (a function
        // or a module) may be a module. Keywords in the middle mean a path we do not follow.
        if segment.starts_with(|c: char| c.is_ascii_uppercase())
            || matches!(*segment, "self" | "super" | "crate")
        {
            break;
        }
        full.push(segment);
    }
    if full.is_empty() {
        return krate.module_files(&[]);
    }
    let lowest = stop.max(1);
    (lowest..=full.len()).rev().flat_map(|len| krate.module_files(&full[..len])).collect()
}

// ---------------------------------------------------------------------------------------------
// Go

fn go_imports(text: &str) -> Vec<Import> {
    let mut out = Vec::new();
    let mut in_block = false;
    for cl in code_lines(Language::Go, text) {
        let t = cl.code.trim();
        if in_block {
            if cl.depth == 0 || t.starts_with(')') {
                in_block = false;
            } else {
                if cl.fresh && cl.depth == 1 {
                    out.extend(go_spec(t, cl.line));
                }
                continue;
            }
        }
        if !cl.fresh || cl.depth != 0 {
            continue;
        }
        let Some(rest) = after_word(t, "import") else { continue };
        if let Some(inner) = rest.strip_prefix('(') {
            // `import (` alone, or `import ( "a"; "b" )` on one line.
            let inner = inner.trim();
            if inner.is_empty() {
                in_block = true;
            }
            let inner = inner.strip_suffix(')').unwrap_or(inner);
            for spec in inner.split(';') {
                out.extend(go_spec(spec.trim(), cl.line));
            }
        } else {
            out.extend(go_spec(rest, cl.line));
        }
    }
    out
}

/// One import spec: `"path"`, `alias "path"`, `_ "path"`, `. "path"`.
fn go_spec(spec: &str, line: usize) -> Option<Import> {
    let (alias, rest) = match spec.strip_prefix(['_', '.']) {
        Some(rest) if rest.starts_with(char::is_whitespace) => (None, rest.trim_start()),
        _ => match leading_ident(spec, false) {
            Some((alias, rest)) => (Some(alias), rest.trim_start()),
            None => (None, spec),
        },
    };
    let path = string_literal(rest)?;
    let segments: Vec<&str> = path.split('/').collect();
    if segments.iter().any(|s| s.is_empty() || *s == "." || *s == ".." || s.contains(' ')) {
        return None;
    }
    let names = match alias {
        Some(alias) => vec![alias.to_string()],
        None if spec.starts_with(['_', '.']) => Vec::new(),
        None => vec![go_package_name(&segments)],
    };
    let mut suffix_candidates = Vec::new();
    if segments[0].contains('.') {
        let tail = &segments[1..];
        for take in (1..=tail.len().min(3)).rev() {
            suffix_candidates.push(format!("{}/", tail[tail.len() - take..].join("/")));
        }
    }
    Some(Import { line, names, candidates: Vec::new(), suffix_candidates })
}

/// The package name Go gives an import path by default: its last segment, skipping a major
/// version (`/v2`), without a `.v3` suffix (gopkg.in) or a `go-` prefix.
fn go_package_name(segments: &[&str]) -> String {
    let mut last = segments.last().copied().unwrap_or("");
    let is_version = |s: &str| {
        s.strip_prefix('v').is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    if segments.len() > 1 && is_version(last) {
        last = segments[segments.len() - 2];
    }
    if let Some((name, version)) = last.rsplit_once('.')
        && is_version(version)
    {
        last = name;
    }
    last.strip_prefix("go-").unwrap_or(last).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(language: Language, path: &str, text: &str) -> Import {
        let mut all = imports(language, path, text);
        assert_eq!(all.len(), 1, "{all:#?}");
        all.remove(0)
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn check(import: &Import, line: usize, names: &[&str], candidates: &[&str], suffixes: &[&str]) {
        assert_eq!(import.line, line, "{import:#?}");
        assert_eq!(import.names, strings(names), "{import:#?}");
        assert_eq!(import.candidates, strings(candidates), "{import:#?}");
        assert_eq!(import.suffix_candidates, strings(suffixes), "{import:#?}");
    }

    // ----- Python

    #[test]
    fn python_absolute_imports() {
        let src = "import os\nimport a.b.c as abc, json\nfrom pkg.m import x, y as z\nfrom pkg import *\nfrom __future__ import annotations\n";
        let found = imports(Language::Python, "app/main.py", src);
        assert_eq!(found.len(), 5, "{found:#?}");
        check(&found[0], 0, &["os"], &[], &["os.py", "os/__init__.py"]);
        check(&found[1], 1, &["abc"], &[], &["a/b/c.py", "a/b/c/__init__.py"]);
        check(&found[2], 1, &["json"], &[], &["json.py", "json/__init__.py"]);
        check(
            &found[3],
            2,
            &["x", "z"],
            &[],
            &["pkg/m.py", "pkg/m/__init__.py", "pkg/m/x.py", "pkg/m/y.py"],
        );
        check(&found[4], 3, &[], &[], &["pkg.py", "pkg/__init__.py"]);
    }

    #[test]
    fn python_relative_imports() {
        let path = "src/app/api/views.py";
        check(
            &one(Language::Python, path, "from .models import User, Post as P\n"),
            0,
            &["User", "P"],
            &[
                "src/app/api/models.py",
                "src/app/api/models/__init__.py",
                "src/app/api/models/User.py",
                "src/app/api/models/Post.py",
            ],
            &[],
        );
        check(
            &one(Language::Python, path, "from ..core.db import session\n"),
            0,
            &["session"],
            &["src/app/core/db.py", "src/app/core/db/__init__.py", "src/app/core/db/session.py"],
            &[],
        );
        check(
            &one(Language::Python, path, "from . import serializers, utils as u\n"),
            0,
            &["serializers", "u"],
            &[
                "src/app/api/serializers.py",
                "src/app/api/serializers/__init__.py",
                "src/app/api/utils.py",
                "src/app/api/utils/__init__.py",
                "src/app/api/__init__.py",
            ],
            &[],
        );
        check(
            &one(Language::Python, path, "from ... import settings\n"),
            0,
            &["settings"],
            &["src/settings.py", "src/settings/__init__.py", "src/__init__.py"],
            &[],
        );
        // At the root, `from . import x` stays at the root.
        check(
            &one(Language::Python, "main.py", "from . import x\n"),
            0,
            &["x"],
            &["x.py", "x/__init__.py", "__init__.py"],
            &[],
        );
    }

    #[test]
    fn python_relative_imports_never_escape_the_root() {
        check(&one(Language::Python, "a/b.py", "from ...x import y\n"), 0, &["y"], &[], &[]);
        check(&one(Language::Python, "a/b.py", "from ....x import y\n"), 0, &["y"], &[], &[]);
        check(&one(Language::Python, "b.py", "from .. import y\n"), 0, &["y"], &[], &[]);
        // Two dots from a/b.py is the root itself: allowed.
        check(
            &one(Language::Python, "a/b.py", "from ..x import y\n"),
            0,
            &["y"],
            &["x.py", "x/__init__.py", "x/y.py"],
            &[],
        );
    }

    #[test]
    fn python_multiline_and_nested_imports() {
        let src = r#""""Module doc.

from fake import nothing
"""
import sys  # comment
from ..pkg.m import (
    alpha,  # first
    beta as b,
)
from .x import a, \
    c
if TYPE_CHECKING:
    from .types import Alias
try:
    import ujson as json
except ImportError:
    import json
s = "import nope"
import os; import re
def f():
    from .lazy import thing
"#;
        let found = imports(Language::Python, "proj/pkg/sub/mod.py", src);
        let summary: Vec<(usize, Vec<String>)> =
            found.iter().map(|i| (i.line, i.names.clone())).collect();
        let expected: Vec<(usize, Vec<String>)> = vec![
            (4, strings(&["sys"])),
            (5, strings(&["alpha", "b"])),
            (9, strings(&["a", "c"])),
            (12, strings(&["Alias"])),
            (14, strings(&["json"])),
            (16, strings(&["json"])),
            (18, strings(&["os"])),
            (18, strings(&["re"])),
            (20, strings(&["thing"])),
        ];
        assert_eq!(summary, expected);
        assert_eq!(
            found[1].candidates,
            strings(&[
                "proj/pkg/pkg/m.py",
                "proj/pkg/pkg/m/__init__.py",
                "proj/pkg/pkg/m/alpha.py",
                "proj/pkg/pkg/m/beta.py"
            ])
        );
        assert_eq!(found[3].candidates[0], "proj/pkg/sub/types.py");
    }

    // ----- TypeScript / JavaScript

    const TS_EXTENSIONLESS: [&str; 9] =
        ["ts", "tsx", "d.ts", "js", "jsx", "mjs", "/index.ts", "/index.tsx", "/index.js"];

    fn extensionless(base: &str) -> Vec<String> {
        TS_EXTENSIONLESS
            .iter()
            .map(|e| if e.starts_with('/') { format!("{base}{e}") } else { format!("{base}.{e}") })
            .collect()
    }

    #[test]
    fn typescript_static_imports() {
        let src = r#"import React, { useState, type FC } from "react";
import * as utils from './lib/utils';
import Button from "../components/Button";
import type { Props } from './types.js';
import './polyfills';
import {
  alpha,
  beta as b,
} from "./greek";
export { gamma, delta as d } from './more';
export * from "./all";
export type { T } from "./t";
import data from "./data.json";
import styles from "./app.module.css";
const url = import.meta.url;
export const notAnImport = 1;
// import { commented } from "./nope";
"#;
        let path = "web/src/pages/Home.tsx";
        let found = imports(Language::TypeScript, path, src);
        assert_eq!(found.len(), 11, "{found:#?}");
        check(&found[0], 0, &["React", "useState", "FC"], &[], &[]);
        assert_eq!(found[1].names, strings(&["utils"]));
        assert_eq!(found[1].candidates, extensionless("web/src/pages/lib/utils"));
        assert_eq!(found[2].names, strings(&["Button"]));
        assert_eq!(found[2].candidates, extensionless("web/src/components/Button"));
        check(
            &found[3],
            3,
            &["Props"],
            &["web/src/pages/types.js", "web/src/pages/types.ts", "web/src/pages/types.tsx"],
            &[],
        );
        check(
            &found[4],
            4,
            &[],
            &extensionless("web/src/pages/polyfills")
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            &[],
        );
        assert_eq!((found[5].line, found[5].names.clone()), (5, strings(&["alpha", "b"])));
        assert_eq!(found[5].candidates, extensionless("web/src/pages/greek"));
        assert_eq!((found[6].line, found[6].names.clone()), (9, strings(&["gamma", "d"])));
        assert_eq!((found[7].line, found[7].names.clone()), (10, vec![]));
        assert_eq!(found[7].candidates, extensionless("web/src/pages/all"));
        assert_eq!((found[8].line, found[8].names.clone()), (11, strings(&["T"])));
        check(&found[9], 12, &["data"], &["web/src/pages/data.json"], &[]);
        let mut css = extensionless("web/src/pages/app.module.css");
        css.push("web/src/pages/app.module.css".to_string());
        assert_eq!(found[10].candidates, css);
    }

    #[test]
    fn typescript_dynamic_imports_and_require() {
        let src = r#"const fs = require("fs");
const helpers = require('./helpers');
const { a, b: bee, ...rest } = require("../shared/index.js");
import legacy = require("./legacy");
async function load() {
  const mod = await import("./lazy/Page");
  return import(`./chunks/${name}`);
}
x.require("./not-this");
const both = [require('./one.cjs'), require('./two.mjs')];
"#;
        let found = imports(Language::TypeScript, "src/app.js", src);
        assert_eq!(found.len(), 7, "{found:#?}");
        check(&found[0], 0, &["fs"], &[], &[]);
        assert_eq!(found[1].names, strings(&["helpers"]));
        assert_eq!(found[1].candidates, extensionless("src/helpers"));
        check(
            &found[2],
            2,
            &["a", "bee", "rest"],
            &["shared/index.js", "shared/index.ts", "shared/index.tsx"],
            &[],
        );
        assert_eq!((found[3].line, found[3].names.clone()), (3, strings(&["legacy"])));
        assert_eq!(found[3].candidates, extensionless("src/legacy"));
        assert_eq!((found[4].line, found[4].names.clone()), (5, strings(&["mod"])));
        assert_eq!(found[4].candidates, extensionless("src/lazy/Page"));
        check(&found[5], 9, &[], &["src/one.cjs", "src/one.cts"], &[]);
        check(&found[6], 9, &[], &["src/two.mjs", "src/two.mts"], &[]);
    }

    #[test]
    fn typescript_directories_aliases_and_escapes() {
        check(
            &one(Language::TypeScript, "src/a/b.ts", "import x from '.';\n"),
            0,
            &["x"],
            &["src/a/index.ts", "src/a/index.tsx", "src/a/index.js"],
            &[],
        );
        check(
            &one(Language::TypeScript, "src/a/b.ts", "import x from '../';\n"),
            0,
            &["x"],
            &["src/index.ts", "src/index.tsx", "src/index.js"],
            &[],
        );
        check(
            &one(Language::TypeScript, "src/b.ts", "import x from '../../../etc/passwd';\n"),
            0,
            &["x"],
            &[],
            &[],
        );
        check(
            &one(Language::TypeScript, "src/b.ts", "import x from './../../x';\n"),
            0,
            &["x"],
            &[],
            &[],
        );
        let mut expected = extensionless("src/lib/api");
        expected.extend(extensionless("lib/api"));
        let aliased =
            one(Language::TypeScript, "src/pages/p.tsx", "import { get } from '@/lib/api';\n");
        check(&aliased, 0, &["get"], &[], &expected.iter().map(String::as_str).collect::<Vec<_>>());
        let tilde = one(Language::TypeScript, "p.ts", "import { get } from \"~/lib/api\";\n");
        assert_eq!(tilde.suffix_candidates, expected);
        check(
            &one(Language::TypeScript, "p.ts", "import x from '@/../../x';\n"),
            0,
            &["x"],
            &[],
            &[],
        );
        check(
            &one(Language::TypeScript, "p.ts", "import x from '@scope/pkg/sub';\n"),
            0,
            &["x"],
            &[],
            &[],
        );
        check(&one(Language::TypeScript, "p.ts", "import x from '/abs/x';\n"), 0, &["x"], &[], &[]);
    }

    #[test]
    fn typescript_clause_forms() {
        let src = "import def, * as ns from './a';\nexport * as all from './b';\nimport { from } from './c';\nimport type from './d';\nimport x from './e'; import y from './f';\n";
        let found = imports(Language::TypeScript, "m.ts", src);
        let summary: Vec<(usize, Vec<String>, String)> =
            found.iter().map(|i| (i.line, i.names.clone(), i.candidates[0].clone())).collect();
        assert_eq!(
            summary,
            vec![
                (0, strings(&["def", "ns"]), "a.ts".to_string()),
                (1, strings(&["all"]), "b.ts".to_string()),
                (2, strings(&["from"]), "c.ts".to_string()),
                (3, strings(&["type"]), "d.ts".to_string()),
                (4, strings(&["x"]), "e.ts".to_string()),
            ]
        );
    }

    #[test]
    fn go_one_line_group_and_dot_import() {
        let found = imports(Language::Go, "a.go", "import ( \"os\"; . \"example.com/m/dsl\" )\n");
        assert_eq!(found.len(), 2, "{found:#?}");
        check(&found[0], 0, &["os"], &[], &[]);
        check(&found[1], 0, &[], &[], &["m/dsl/", "dsl/"]);
    }

    // ----- Rust

    #[test]
    fn rust_crate_paths() {
        let src = "use crate::a::b::{C, d::E as F};\n";
        check(
            &one(Language::Rust, "src/x/y.rs", src),
            0,
            &["C", "F"],
            &[
                "src/a/b.rs",
                "src/a/b/mod.rs",
                "src/a.rs",
                "src/a/mod.rs",
                "src/a/b/d.rs",
                "src/a/b/d/mod.rs",
            ],
            &[],
        );
        check(
            &one(Language::Rust, "src/lib.rs", "pub use crate::config;\n"),
            0,
            &["config"],
            &["src/config.rs", "src/config/mod.rs"],
            &[],
        );
        check(
            &one(Language::Rust, "crates/core/src/a.rs", "use crate::Settings;\n"),
            0,
            &["Settings"],
            &["crates/core/src/lib.rs", "crates/core/src/main.rs"],
            &[],
        );
        check(
            &one(Language::Rust, "src/a.rs", "use std::collections::HashMap;\n"),
            0,
            &["HashMap"],
            &[],
            &[],
        );
        check(
            &one(Language::Rust, "src/a.rs", "use ::serde::Deserialize;\n"),
            0,
            &["Deserialize"],
            &[],
            &[],
        );
    }

    #[test]
    fn rust_super_and_self() {
        // src/a/b.rs is module a::b; super is a.
        check(
            &one(Language::Rust, "src/a/b.rs", "use super::x::Y;\n"),
            0,
            &["Y"],
            &["src/a/x.rs", "src/a/x/mod.rs", "src/a.rs", "src/a/mod.rs"],
            &[],
        );
        // src/a/mod.rs is module a; super is the crate root.
        check(
            &one(Language::Rust, "src/a/mod.rs", "use super::Thing;\n"),
            0,
            &["Thing"],
            &["src/lib.rs", "src/main.rs"],
            &[],
        );
        check(
            &one(Language::Rust, "src/a/b.rs", "use super::super::top::f;\n"),
            0,
            &["f"],
            &["src/top/f.rs", "src/top/f/mod.rs", "src/top.rs", "src/top/mod.rs"],
            &[],
        );
        // The file itself is never a candidate.
        check(
            &one(Language::Rust, "src/a/b.rs", "use self::m::Z;\n"),
            0,
            &["Z"],
            &["src/a/b/m.rs", "src/a/b/m/mod.rs", "src/a/b/mod.rs"],
            &[],
        );
        check(&one(Language::Rust, "src/lib.rs", "use super::X;\n"), 0, &["X"], &[], &[]);
        check(&one(Language::Rust, "src/a.rs", "use super::super::X;\n"), 0, &["X"], &[], &[]);
    }

    #[test]
    fn rust_multiline_use_mods_and_inline_modules() {
        let src = r#"//! Root.
mod config;
pub(crate) mod util;
#[cfg(test)]
mod tests;
mod inline {
    pub fn f() {}
}
use config::Settings;
pub use crate::{
    engine::{
        Engine,
        session::{self, Session as S},
    },
    util::*,
};
/* use crate::commented::X; */
fn main() {
    use crate::engine::run;
}
"#;
        let found = imports(Language::Rust, "src/main.rs", src);
        assert_eq!(found.len(), 6, "{found:#?}");
        check(&found[0], 1, &["config"], &["src/config.rs", "src/config/mod.rs"], &[]);
        check(&found[1], 2, &["util"], &["src/util.rs", "src/util/mod.rs"], &[]);
        check(&found[2], 4, &["tests"], &["src/tests.rs", "src/tests/mod.rs"], &[]);
        check(&found[3], 8, &["Settings"], &["src/config.rs", "src/config/mod.rs"], &[]);
        check(
            &found[4],
            9,
            &["Engine", "session", "S"],
            &[
                "src/engine.rs",
                "src/engine/mod.rs",
                "src/engine/session.rs",
                "src/engine/session/mod.rs",
                "src/util.rs",
                "src/util/mod.rs",
            ],
            &[],
        );
        check(
            &found[5],
            18,
            &["run"],
            &["src/engine/run.rs", "src/engine/run/mod.rs", "src/engine.rs", "src/engine/mod.rs"],
            &[],
        );
    }

    #[test]
    fn rust_mod_declarations_follow_the_file_module() {
        // src/foo.rs declares children in src/foo/.
        check(
            &one(Language::Rust, "src/foo.rs", "mod bar;\n"),
            0,
            &["bar"],
            &["src/foo/bar.rs", "src/foo/bar/mod.rs"],
            &[],
        );
        check(
            &one(Language::Rust, "src/foo/mod.rs", "pub mod bar;\n"),
            0,
            &["bar"],
            &["src/foo/bar.rs", "src/foo/bar/mod.rs"],
            &[],
        );
        // A binary in src/bin is its own crate root.
        let found = imports(Language::Rust, "src/bin/tool.rs", "mod cli;\nuse crate::cli::Args;\n");
        check(&found[0], 0, &["cli"], &["src/bin/cli.rs", "src/bin/cli/mod.rs"], &[]);
        check(&found[1], 1, &["Args"], &["src/bin/cli.rs", "src/bin/cli/mod.rs"], &[]);
        // No src ancestor: the file's directory is the crate root.
        check(
            &one(Language::Rust, "tests/it.rs", "mod common;\n"),
            0,
            &["common"],
            &["tests/common.rs", "tests/common/mod.rs"],
            &[],
        );
        // `use super::*` in an inline test module means the file's own module.
        let found = imports(
            Language::Rust,
            "src/a/b.rs",
            "fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        );
        check(&found[0], 3, &[], &["src/a/b/mod.rs"], &[]);
    }

    // ----- Go

    #[test]
    fn go_imports_single_and_grouped() {
        let src = r#"package main

import "fmt"
import str "strings"

import (
	"context"
	"github.com/acme/shop/internal/store"
	cfg "github.com/acme/shop/pkg/config"
	_ "github.com/lib/pq"
	"gopkg.in/yaml.v3"
	"github.com/acme/shop/v2"
	// "github.com/acme/commented"
)

func main() {}
"#;
        let found = imports(Language::Go, "cmd/main.go", src);
        assert_eq!(found.len(), 8, "{found:#?}");
        check(&found[0], 2, &["fmt"], &[], &[]);
        check(&found[1], 3, &["str"], &[], &[]);
        check(&found[2], 6, &["context"], &[], &[]);
        check(
            &found[3],
            7,
            &["store"],
            &[],
            &["shop/internal/store/", "internal/store/", "store/"],
        );
        check(&found[4], 8, &["cfg"], &[], &["shop/pkg/config/", "pkg/config/", "config/"]);
        check(&found[5], 9, &[], &[], &["lib/pq/", "pq/"]);
        check(&found[6], 10, &["yaml"], &[], &["yaml.v3/"]);
        check(&found[7], 11, &["shop"], &[], &["acme/shop/v2/", "shop/v2/", "v2/"]);
    }

    #[test]
    fn other_languages_have_no_imports() {
        assert!(imports(Language::Other, "a.txt", "import x\nuse crate::a;").is_empty());
    }

    // ----- Robustness

    const TRICKY: &str = "from ....x import (a,\n b as c)\nimport a..b\nfrom . import\nimport {\n a,\n} from '../../../../etc/passwd'\nimport x from '@/../../../y'\nrequire('./a' + b)\nimport(`./t/${x}`)\nuse super::super::super::{a::{b, {c}}, *, self as s, r#type::X};\nuse crate::{{{{;\nmod ;\nimport (\n\tf \"github.com/x/y\"\n\t\"\"\n\t. \"../../z\"\n)\n'\"unbalanced ( [ { /* \"\"\" ` \n}}}))) */ \u{e9}\u{1F600} caf\u{e9} from \"\u{e9}/\u{1F600}\"\t\r\n\\";

    #[test]
    fn imports_never_panic_and_never_escape() {
        let languages =
            [Language::Python, Language::Rust, Language::TypeScript, Language::Go, Language::Other];
        let paths = [
            "",
            "a.py",
            "src/lib.rs",
            "src/a/mod.rs",
            "x/src/bin/t.rs",
            "../up/x.ts",
            "/abs/m.go",
            "a//b/./c.ts",
        ];
        let mut samples: Vec<String> = Vec::new();
        for (k, _) in TRICKY.char_indices() {
            samples.push(TRICKY[..k].to_string());
            samples.push(TRICKY[k..].to_string());
        }
        samples.push(format!("import {}", "a.".repeat(50_000)));
        samples.push(format!("use crate::{}", "{".repeat(100_000)));
        samples.push(format!("use {};", "a::".repeat(30_000)));
        samples.push(format!("import {{ {} }} from './x'", "a, ".repeat(30_000)));
        samples.push(format!("from . import ({}", "b,\n".repeat(5_000)));
        samples.push("\"".repeat(100_000));
        samples.push("import (\n".repeat(1_000));
        let alphabet: Vec<char> =
            "ab_ .\t\n'\"`#/*\\(){}[]:;,=@~$rusefromimport\u{e9}\u{1F600}".chars().collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..300 {
            let len = (seed % 200) as usize;
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
                for path in paths {
                    let found = imports(language, path, s);
                    assert_eq!(found, imports(language, path, s));
                    for import in &found {
                        for c in import.candidates.iter().chain(&import.suffix_candidates) {
                            assert!(!c.starts_with('/'), "{c:?} from {s:?}");
                            assert!(!c.split('/').any(|seg| seg == ".." || seg == "."), "{c:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn five_thousand_lines_are_fast() {
        let block = "import { a, b } from './x';\nconst y = require('../y');\nfunction f() { return 1; }\n\n\n";
        let text = block.repeat(1000);
        let start = std::time::Instant::now();
        let found = imports(Language::TypeScript, "src/app/main.ts", &text);
        let elapsed = start.elapsed();
        assert_eq!(found.len(), 2000);
        assert!(elapsed.as_millis() < 50, "{elapsed:?}");
    }
}
