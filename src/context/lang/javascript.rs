//! JavaScript (and JSX): functions, classes, methods (class members that are functions) and
//! module-level `const`/`let`/`var` (functions when their value is one); ES module `import` and
//! `export … from` statements, `require(…)` and `import(…)` calls, with relative specifiers
//! resolved against the file's folder and `@/`, `~/` aliases matched by suffix.
//!
//! TypeScript (`typescript.rs`) shares the import half: its grammar names these nodes alike.

use tree_sitter::Node;

use super::paths::{join, normalize};
use super::{Import, ImportSite, LanguageSpec};

pub const SPEC: LanguageSpec = LanguageSpec {
    name: "javascript",
    family: "javascript",
    extensions: &["js", "jsx", "mjs", "cjs"],
    grammar: || tree_sitter_javascript::LANGUAGE.into(),
    // tags.scm also takes every method call and nested function; ours keeps what a reader
    // would look up: declarations, members and module-level bindings.
    definitions: &[DEFINITIONS],
    imports: IMPORTS,
    resolve_imports,
};

const DEFINITIONS: &str = r#"
(class_body
  [(method_definition name: (_) @name)
   (field_definition property: (_) @name value: [(arrow_function) (function_expression)])]
  @definition.method
  (#not-eq? @name "constructor"))
[(function_declaration name: (identifier) @name)
 (generator_function_declaration name: (identifier) @name)] @definition.function
(class_declaration name: (identifier) @name) @definition.class
(program [
  (lexical_declaration (variable_declarator name: (identifier) @name
    value: [(arrow_function) (function_expression)]) @definition.function)
  (variable_declaration (variable_declarator name: (identifier) @name
    value: [(arrow_function) (function_expression)]) @definition.function)
  (export_statement declaration: (lexical_declaration (variable_declarator name: (identifier) @name
    value: [(arrow_function) (function_expression)]) @definition.function))])
(program [
  (lexical_declaration (variable_declarator name: (identifier) @name) @definition.constant)
  (variable_declaration (variable_declarator name: (identifier) @name) @definition.constant)
  (export_statement declaration: (lexical_declaration
    (variable_declarator name: (identifier) @name) @definition.constant))])
"#;

/// Import statements, re-exports and `require`/`import` calls with a literal specifier; the
/// same in the JavaScript and TypeScript grammars.
pub(super) const IMPORTS: &str = r#"
(import_statement) @import
(export_statement source: (_)) @import
(call_expression
  function: (identifier) @function
  arguments: (arguments . [(string) (template_string)])
  (#eq? @function "require")) @import
(call_expression function: (import) arguments: (arguments . [(string) (template_string)])) @import
"#;

pub(super) fn resolve_imports(site: &ImportSite, statements: &[Node]) -> Vec<Import> {
    let dir = site.path.dir();
    statements
        .iter()
        .filter_map(|statement| {
            let (names, specifier) = match statement.kind() {
                "call_expression" => {
                    let arguments = statement.child_by_field_name("arguments")?;
                    let specifier = string_content(site, arguments.named_child(0)?)?;
                    (binding_names(site, *statement), specifier)
                }
                _ => {
                    let source = statement.child_by_field_name("source").or_else(|| {
                        // TypeScript's `import x = require("y")`.
                        let clause = named_child_of_kind(*statement, "import_require_clause")?;
                        clause.child_by_field_name("source")
                    })?;
                    (clause_names(site, *statement), string_content(site, source)?)
                }
            };
            let (candidates, suffix_candidates) = resolve(dir, specifier);
            let line = statement.start_position().row;
            Some(Import { line, names, candidates, suffix_candidates })
        })
        .collect()
}

fn named_child_of_kind<'a>(node: Node<'a>, kind: &str) -> Option<Node<'a>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).find(|c| c.kind() == kind)
}

/// The content of a string literal node (no interpolation, no line break, not empty).
fn string_content<'a>(site: &ImportSite<'a>, node: Node) -> Option<&'a str> {
    if !matches!(node.kind(), "string" | "template_string") {
        return None;
    }
    let text = site.text_of(node);
    let content = text.get(1..text.len().checked_sub(1)?)?;
    let plain = !content.is_empty() && !content.contains("${") && !content.contains('\n');
    plain.then_some(content)
}

/// Local names an import or export statement binds, in source order: default, namespace and
/// named imports, `import x = require(…)`, exported names of a re-export.
fn clause_names(site: &ImportSite, statement: Node) -> Vec<String> {
    let mut names = Vec::new();
    collect_clause_names(site, statement, &mut names);
    names
}

fn collect_clause_names(site: &ImportSite, node: Node, names: &mut Vec<String>) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "import_clause"
            | "named_imports"
            | "export_clause"
            | "namespace_import"
            | "namespace_export"
            | "import_require_clause" => {
                collect_clause_names(site, child, names);
            }
            "import_specifier" | "export_specifier" => {
                let local =
                    child.child_by_field_name("alias").or(child.child_by_field_name("name"));
                names.extend(local.map(|n| site.text_of(n).to_string()));
            }
            "identifier" => names.push(site.text_of(child).to_string()),
            _ => {}
        }
    }
}

/// The names a `const x = require(…)`, `const { a, b: c } = await import(…)` binds.
fn binding_names(site: &ImportSite, call: Node) -> Vec<String> {
    let mut value = call;
    if let Some(parent) = value.parent().filter(|p| p.kind() == "await_expression") {
        value = parent;
    }
    let Some(declarator) = value.parent().filter(|p| p.kind() == "variable_declarator") else {
        return Vec::new();
    };
    let Some(name) = declarator.child_by_field_name("name") else { return Vec::new() };
    match name.kind() {
        "identifier" => vec![site.text_of(name).to_string()],
        "object_pattern" => {
            let mut names = Vec::new();
            let mut cursor = name.walk();
            for part in name.named_children(&mut cursor) {
                let local = match part.kind() {
                    "shorthand_property_identifier_pattern" => Some(part),
                    "pair_pattern" => part.child_by_field_name("value"),
                    "rest_pattern" => part.named_child(0),
                    "object_assignment_pattern" => part.child_by_field_name("left"),
                    _ => None,
                };
                names.extend(
                    local
                        .filter(|n| {
                            matches!(
                                n.kind(),
                                "identifier" | "shorthand_property_identifier_pattern"
                            )
                        })
                        .map(|n| site.text_of(n).to_string()),
                );
            }
            names
        }
        _ => Vec::new(),
    }
}

const EXTENSIONS: &[&str] = &["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs", "json"];

/// Candidates and suffix candidates of a module specifier.
fn resolve(dir: &[&str], specifier: &str) -> (Vec<String>, Vec<String>) {
    let relative = specifier == "."
        || specifier == ".."
        || specifier.starts_with("./")
        || specifier.starts_with("../");
    let is_dir = |s: &str| s.ends_with('/') || s.ends_with("/.") || s.ends_with("/..");
    if relative {
        let Some(target) = normalize(dir, specifier) else { return (Vec::new(), Vec::new()) };
        let dir_only = is_dir(specifier) || specifier == "." || specifier == "..";
        return (file_candidates(&target, dir_only), Vec::new());
    }
    let alias = specifier.strip_prefix("@/").or_else(|| specifier.strip_prefix("~/"));
    if let Some(rest) = alias
        && let Some(target) = normalize(&[], rest)
        && !target.is_empty()
    {
        let dir_only = is_dir(rest);
        let mut in_src = vec!["src"];
        in_src.extend(&target);
        let mut suffixes = file_candidates(&in_src, dir_only);
        suffixes.extend(file_candidates(&target, dir_only));
        return (Vec::new(), suffixes);
    }
    (Vec::new(), Vec::new())
}

/// Files a resolved specifier may name: the file itself when it has a known extension (and the
/// TypeScript source of a `.js` import), else the usual extensions and `index` files.
fn file_candidates(target: &[&str], dir_only: bool) -> Vec<String> {
    let index = |dir: &[&str]| {
        ["index.ts", "index.tsx", "index.js"].iter().map(|f| join(dir, f)).collect::<Vec<_>>()
    };
    let Some((last, parent)) = target.split_last().filter(|_| !dir_only) else {
        return index(target);
    };
    let base = target.join("/");
    if let Some((stem, ext)) = last.rsplit_once('.')
        && !stem.is_empty()
        && EXTENSIONS.contains(&ext)
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

#[cfg(test)]
pub(super) mod tests {
    use super::super::DefinitionKind::*;
    use super::super::tests::{check, d, defs, imports_of};

    const EXTENSIONLESS: [&str; 9] =
        ["ts", "tsx", "d.ts", "js", "jsx", "mjs", "/index.ts", "/index.tsx", "/index.js"];

    /// The candidates of an extensionless specifier resolved to `base`.
    pub(in super::super) fn extensionless(base: &str) -> Vec<String> {
        EXTENSIONLESS
            .iter()
            .map(|e| if e.starts_with('/') { format!("{base}{e}") } else { format!("{base}.{e}") })
            .collect()
    }

    #[test]
    fn declarations_members_and_module_bindings() {
        let src = "class A extends B {\n  static x = 1;\n  handle = () => {};\n  #p() {}\n  get y() {}\n  constructor() {}\n}\nexport default function main() {}\nconst f = async () => {}, g = 3;\nexport const h = function () {};\nfunction outer() {\n  const inner = 1;\n}\n";
        assert_eq!(
            defs("javascript", src),
            vec![
                d("A", 0, 0, Type),
                d("handle", 2, 2, Method),
                d("#p", 3, 2, Method),
                d("y", 4, 2, Method),
                d("main", 7, 0, Function),
                d("f", 8, 0, Function),
                d("g", 8, 0, Constant),
                d("h", 9, 0, Function),
                d("outer", 10, 0, Function),
            ]
        );
    }

    #[test]
    fn require_and_dynamic_imports() {
        let src = r#"const fs = require("fs");
const helpers = require('./helpers');
const { a, b: bee, ...rest } = require("../shared/index.js");
async function load() {
  const mod = await import("./lazy/Page");
  return import(`./chunks/${name}`);
}
x.require("./not-this");
const both = [require('./one.cjs'), require('./two.mjs')];
"#;
        let found = imports_of("javascript", "src/app.js", src);
        assert_eq!(found.len(), 6, "{found:#?}");
        check(&found[0], 0, &["fs"], &[], &[]);
        assert_eq!(found[1].candidates, extensionless("src/helpers"));
        check(
            &found[2],
            2,
            &["a", "bee", "rest"],
            &["shared/index.js", "shared/index.ts", "shared/index.tsx"],
            &[],
        );
        assert_eq!((found[3].line, found[3].names.clone()), (4, vec!["mod".to_string()]));
        check(&found[4], 8, &[], &["src/one.cjs", "src/one.cts"], &[]);
        check(&found[5], 8, &[], &["src/two.mjs", "src/two.mts"], &[]);
    }
}
