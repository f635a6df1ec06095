//! Rust: functions, methods (in `impl` and `trait` bodies), types (struct, enum, union, trait,
//! type alias, associated type), const and static items, `macro_rules!` macros and modules;
//! `use` trees and `mod name;` declarations, resolved through the crate's module layout
//! (`crate::`, `super::`, `self::` and modules the file declares).

use tree_sitter::Node;

use super::paths::join;
use super::{Import, ImportSite, LanguageSpec};

pub const SPEC: LanguageSpec = LanguageSpec {
    name: "rust",
    family: "rust",
    extensions: &["rs"],
    grammar: || tree_sitter_rust::LANGUAGE.into(),
    // tags.scm has no constants or type aliases, and calls every `impl` function a method
    // without the trait's signatures.
    definitions: &[DEFINITIONS],
    imports: "(use_declaration) @import (mod_item !body) @import",
    resolve_imports,
};

const DEFINITIONS: &str = r#"
(impl_item body: (declaration_list (function_item name: (identifier) @name) @definition.method))
(trait_item body: (declaration_list
  [(function_item name: (identifier) @name)
   (function_signature_item name: (identifier) @name)] @definition.method))
(function_item name: (identifier) @name) @definition.function
[(struct_item name: (type_identifier) @name)
 (enum_item name: (type_identifier) @name)
 (union_item name: (type_identifier) @name)
 (trait_item name: (type_identifier) @name)
 (type_item name: (type_identifier) @name)
 (associated_type name: (type_identifier) @name)] @definition.type
[(const_item name: (identifier) @name)
 (static_item name: (identifier) @name)] @definition.constant
(macro_definition name: (identifier) @name) @definition.macro
(mod_item name: (identifier) @name) @definition.module
"#;

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

fn resolve_imports(site: &ImportSite, statements: &[Node]) -> Vec<Import> {
    let krate = RustCrate::of(&site.path.segments);
    // Modules the file declares with `mod x;`: `use x::Y` then means `use self::x::Y`.
    let mut cursor = site.root.walk();
    let declared: Vec<&str> = site
        .root
        .named_children(&mut cursor)
        .filter(|n| n.kind() == "mod_item" && n.child_by_field_name("body").is_none())
        .filter_map(|n| n.child_by_field_name("name"))
        .map(|n| site.text_of(n))
        .collect();
    let mut out = Vec::new();
    for statement in statements {
        let mut module = krate.module.clone();
        module.extend(inline_modules(site, *statement));
        let mut import = Import::at(statement.start_position().row);
        if statement.kind() == "mod_item" {
            let Some(name) = statement.child_by_field_name("name").map(|n| site.text_of(n)) else {
                continue;
            };
            module.push(name);
            import.names.push(name.to_string());
            import.candidates = krate.module_files(&module);
        } else if let Some(tree) = statement.child_by_field_name("argument") {
            let mut leaves = Vec::new();
            use_tree(site, tree, &mut Vec::new(), &mut leaves, 0);
            for leaf in &leaves {
                if let Some(local) = leaf.local {
                    import.names.push(local.to_string());
                }
                import.candidates.extend(leaf_candidates(leaf, &krate, &module, &declared));
            }
        }
        out.push(import);
    }
    out
}

/// Names of the inline `mod name { … }` blocks around `node`, outermost first.
fn inline_modules<'a>(site: &ImportSite<'a>, node: Node) -> Vec<&'a str> {
    let mut names = Vec::new();
    let mut at = node.parent();
    while let Some(parent) = at {
        if parent.kind() == "mod_item"
            && let Some(name) = parent.child_by_field_name("name")
        {
            names.push(site.text_of(name));
        }
        at = parent.parent();
    }
    names.reverse();
    names
}

/// One leaf of a use tree: its full path and local name.
struct UseLeaf<'a> {
    path: Vec<&'a str>,
    local: Option<&'a str>,
}

/// Collects the leaves of the use tree `node` under `prefix`.
fn use_tree<'a>(
    site: &ImportSite<'a>,
    node: Node,
    prefix: &mut Vec<&'a str>,
    out: &mut Vec<UseLeaf<'a>>,
    nesting: usize,
) {
    if nesting > 16 || out.len() > 512 {
        return;
    }
    let start = prefix.len();
    match node.kind() {
        "use_list" => {
            let mut cursor = node.walk();
            for child in node.named_children(&mut cursor) {
                use_tree(site, child, prefix, out, nesting + 1);
            }
        }
        "scoped_use_list" => {
            if let Some(path) = node.child_by_field_name("path") {
                path_segments(site, path, prefix);
            } else if site.text_of(node).starts_with("::") {
                prefix.push("::");
            }
            if let Some(list) = node.child_by_field_name("list") {
                use_tree(site, list, prefix, out, nesting + 1);
            }
        }
        "use_wildcard" => {
            let mut cursor = node.walk();
            if let Some(path) = node.named_children(&mut cursor).next() {
                path_segments(site, path, prefix);
            }
            out.push(UseLeaf { path: prefix.clone(), local: None });
        }
        "use_as_clause" => {
            let Some(path) = node.child_by_field_name("path") else { return };
            path_segments(site, path, prefix);
            let alias = node.child_by_field_name("alias").map(|a| site.text_of(a));
            push_leaf(prefix, alias, out);
        }
        _ => {
            path_segments(site, node, prefix);
            push_leaf(prefix, None, out);
        }
    }
    prefix.truncate(start);
}

/// The leaf `path` names, `self` standing for the module before it.
fn push_leaf<'a>(path: &[&'a str], alias: Option<&'a str>, out: &mut Vec<UseLeaf<'a>>) {
    let path = match path.split_last() {
        Some((&"self", module)) => module,
        _ => path,
    };
    let local = alias.or(path.last().copied()).filter(|n| *n != "_" && *n != "::");
    out.push(UseLeaf { path: path.to_vec(), local });
}

/// Appends the segments of a path node (`a::b::c`, `crate`, `$crate`) to `out`.
fn path_segments<'a>(site: &ImportSite<'a>, node: Node, out: &mut Vec<&'a str>) {
    if out.len() > 64 {
        return;
    }
    if node.kind() == "scoped_identifier" {
        match node.child_by_field_name("path") {
            Some(path) => path_segments(site, path, out),
            None if site.text_of(node).starts_with("::") => out.push("::"),
            None => {}
        }
        if let Some(name) = node.child_by_field_name("name") {
            out.push(site.text_of(name));
        }
    } else {
        let text = site.text_of(node);
        out.push(text.strip_prefix("r#").unwrap_or(text));
    }
}

/// Files that may hold the item or module a use path names, deepest first: every module prefix
/// of the path down to the one it was resolved from (`crate`, `super`, `self`), since any of them
/// may hold the rest as an inline module.
fn leaf_candidates(
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
            || !super::paths::plain_segment(segment)
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

#[cfg(test)]
mod tests {
    use super::super::DefinitionKind::*;
    use super::super::tests::{check, d, defs, imports_of, one};

    #[test]
    fn items() {
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
            defs("rust", src),
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
    fn raw_strings_and_nested_comments() {
        let rust = "let s = br#\"\nfn in_raw() {\n\"#;\nfn r#type() {}\n/* outer /* inner */\nfn in_nested() {}\n*/\nfn after() {}\n";
        assert_eq!(defs("rust", rust), vec![d("type", 3, 0, Function), d("after", 7, 0, Function)]);
    }

    #[test]
    fn crate_paths() {
        let src = "use crate::a::b::{C, d::E as F};\n";
        check(
            &one("rust", "src/x/y.rs", src),
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
            &one("rust", "src/lib.rs", "pub use crate::config;\n"),
            0,
            &["config"],
            &["src/config.rs", "src/config/mod.rs"],
            &[],
        );
        check(
            &one("rust", "crates/core/src/a.rs", "use crate::Settings;\n"),
            0,
            &["Settings"],
            &["crates/core/src/lib.rs", "crates/core/src/main.rs"],
            &[],
        );
        check(
            &one("rust", "src/a.rs", "use std::collections::HashMap;\n"),
            0,
            &["HashMap"],
            &[],
            &[],
        );
        check(
            &one("rust", "src/a.rs", "use ::serde::Deserialize;\n"),
            0,
            &["Deserialize"],
            &[],
            &[],
        );
    }

    #[test]
    fn super_and_self() {
        // src/a/b.rs is module a::b; super is a.
        check(
            &one("rust", "src/a/b.rs", "use super::x::Y;\n"),
            0,
            &["Y"],
            &["src/a/x.rs", "src/a/x/mod.rs", "src/a.rs", "src/a/mod.rs"],
            &[],
        );
        // src/a/mod.rs is module a; super is the crate root.
        check(
            &one("rust", "src/a/mod.rs", "use super::Thing;\n"),
            0,
            &["Thing"],
            &["src/lib.rs", "src/main.rs"],
            &[],
        );
        check(
            &one("rust", "src/a/b.rs", "use super::super::top::f;\n"),
            0,
            &["f"],
            &["src/top/f.rs", "src/top/f/mod.rs", "src/top.rs", "src/top/mod.rs"],
            &[],
        );
        // The file itself is never a candidate.
        check(
            &one("rust", "src/a/b.rs", "use self::m::Z;\n"),
            0,
            &["Z"],
            &["src/a/b/m.rs", "src/a/b/m/mod.rs", "src/a/b/mod.rs"],
            &[],
        );
        check(&one("rust", "src/lib.rs", "use super::X;\n"), 0, &["X"], &[], &[]);
        check(&one("rust", "src/a.rs", "use super::super::X;\n"), 0, &["X"], &[], &[]);
    }

    #[test]
    fn multiline_use_mods_and_inline_modules() {
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
        let found = imports_of("rust", "src/main.rs", src);
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
    fn mod_declarations_follow_the_file_module() {
        // src/foo.rs declares children in src/foo/.
        check(
            &one("rust", "src/foo.rs", "mod bar;\n"),
            0,
            &["bar"],
            &["src/foo/bar.rs", "src/foo/bar/mod.rs"],
            &[],
        );
        check(
            &one("rust", "src/foo/mod.rs", "pub mod bar;\n"),
            0,
            &["bar"],
            &["src/foo/bar.rs", "src/foo/bar/mod.rs"],
            &[],
        );
        // A binary in src/bin is its own crate root.
        let found = imports_of("rust", "src/bin/tool.rs", "mod cli;\nuse crate::cli::Args;\n");
        check(&found[0], 0, &["cli"], &["src/bin/cli.rs", "src/bin/cli/mod.rs"], &[]);
        check(&found[1], 1, &["Args"], &["src/bin/cli.rs", "src/bin/cli/mod.rs"], &[]);
        // No src ancestor: the file's directory is the crate root.
        check(
            &one("rust", "tests/it.rs", "mod common;\n"),
            0,
            &["common"],
            &["tests/common.rs", "tests/common/mod.rs"],
            &[],
        );
        // `use super::*` in an inline test module means the file's own module.
        let found = imports_of(
            "rust",
            "src/a/b.rs",
            "fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        );
        check(&found[0], 3, &[], &["src/a/b/mod.rs"], &[]);
    }
}
