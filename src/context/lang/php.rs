//! PHP: classes, interfaces, traits, enums, functions, methods and namespaces (`tags.scm`,
//! with methods told from functions); `use` declarations matched by suffix (PSR-4: the
//! namespace is the folder path, less a vendor prefix such as `App\`), and `require`/`include`
//! of a literal path (or `__DIR__ . '/path'`) resolved against the file's folder.

use tree_sitter::Node;

use super::paths::{normalize, plain_segment};
use super::{Import, ImportSite, LanguageSpec};

pub const SPEC: LanguageSpec = LanguageSpec {
    name: "php",
    family: "php",
    extensions: &["php"],
    grammar: || tree_sitter_php::LANGUAGE_PHP.into(),
    // First, so that a method is not taken for the function tags.scm calls it.
    definitions: &[METHODS, tree_sitter_php::TAGS_QUERY],
    imports: r#"
(namespace_use_declaration) @import
[(require_expression) (require_once_expression)
 (include_expression) (include_once_expression)] @import
"#,
    resolve_imports,
};

const METHODS: &str = r#"
(method_declaration name: (name) @name) @definition.method
(enum_declaration name: (name) @name) @definition.class
"#;

fn resolve_imports(site: &ImportSite, statements: &[Node]) -> Vec<Import> {
    let mut out = Vec::new();
    for statement in statements {
        let mut import = Import::at(statement.start_position().row);
        if statement.kind() == "namespace_use_declaration" {
            use_declaration(site, *statement, &mut import);
        } else {
            let Some(path) = statement.named_child(0).and_then(|p| included_path(site, p)) else {
                continue;
            };
            if let Some(target) = normalize(site.path.dir(), path) {
                import.candidates.push(target.join("/"));
            }
        }
        out.push(import);
    }
    out
}

/// `use A\B\C [as D];`, `use A\B\{C, D as E};`: names and PSR-4 file suffixes of each class.
fn use_declaration(site: &ImportSite, statement: Node, import: &mut Import) {
    let mut cursor = statement.walk();
    let mut prefix: Vec<&str> = Vec::new();
    let mut clauses: Vec<Node> = Vec::new();
    for child in statement.named_children(&mut cursor) {
        match child.kind() {
            "namespace_name" => prefix = segments(site.text_of(child)),
            "namespace_use_clause" => clauses.push(child),
            "namespace_use_group" => {
                let mut inner = child.walk();
                clauses.extend(
                    child.named_children(&mut inner).filter(|c| c.kind() == "namespace_use_clause"),
                );
            }
            _ => {}
        }
    }
    for clause in clauses {
        let alias = clause.child_by_field_name("alias");
        let mut inner = clause.walk();
        let Some(target) = clause
            .named_children(&mut inner)
            .find(|c| Some(*c) != alias && matches!(c.kind(), "qualified_name" | "name"))
        else {
            continue;
        };
        let mut path = prefix.clone();
        path.extend(segments(site.text_of(target)));
        if path.is_empty() || !path.iter().all(|s| plain_segment(s)) {
            continue;
        }
        let local = alias.map_or(path[path.len() - 1], |a| site.text_of(a));
        import.names.push(local.to_string());
        import.suffix_candidates.push(format!("{}.php", path.join("/")));
        if path.len() > 2 {
            import.suffix_candidates.push(format!("{}.php", path[1..].join("/")));
        }
    }
}

fn segments(qualified: &str) -> Vec<&str> {
    qualified.split('\\').map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// The path of `'lib/x.php'` or `__DIR__ . '/lib/x.php'`.
fn included_path<'a>(site: &ImportSite<'a>, node: Node) -> Option<&'a str> {
    let string = match node.kind() {
        "binary_expression" => {
            let left = node.child_by_field_name("left")?;
            (site.text_of(left) == "__DIR__").then(|| node.child_by_field_name("right"))??
        }
        "parenthesized_expression" => return included_path(site, node.named_child(0)?),
        _ => node,
    };
    if !matches!(string.kind(), "string" | "encapsed_string") {
        return None;
    }
    let mut cursor = string.walk();
    let mut parts = string.named_children(&mut cursor);
    let content = parts.next().filter(|p| p.kind() == "string_content")?;
    parts.next().is_none().then(|| site.text_of(content))
}

#[cfg(test)]
mod tests {
    use super::super::DefinitionKind::*;
    use super::super::tests::{check, d, defs, imports_of};

    #[test]
    fn classes_methods_functions() {
        let src = "<?php\nnamespace App\\Http;\n\ninterface Greeter {}\ntrait Loud {}\nclass Controller extends Base {\n    private $name;\n    public function show(int $id) {}\n}\nfunction helper() {}\n";
        assert_eq!(
            defs("php", src),
            vec![
                d("Greeter", 3, 0, Type),
                d("Loud", 4, 0, Type),
                d("Controller", 5, 0, Type),
                d("show", 7, 4, Method),
                d("helper", 9, 0, Function),
            ]
        );
    }

    #[test]
    fn use_declarations_and_includes() {
        let src = "<?php\nuse App\\Models\\User;\nuse App\\Models\\{Post, Comment as C};\nuse function App\\helpers\\format_name;\nrequire_once __DIR__ . '/../bootstrap.php';\ninclude 'lib/util.php';\n";
        let found = imports_of("php", "app/Http/Controller.php", src);
        assert_eq!(found.len(), 5, "{found:#?}");
        check(&found[0], 1, &["User"], &[], &["App/Models/User.php", "Models/User.php"]);
        check(
            &found[1],
            2,
            &["Post", "C"],
            &[],
            &[
                "App/Models/Post.php",
                "Models/Post.php",
                "App/Models/Comment.php",
                "Models/Comment.php",
            ],
        );
        check(
            &found[2],
            3,
            &["format_name"],
            &[],
            &["App/helpers/format_name.php", "helpers/format_name.php"],
        );
        check(&found[3], 4, &[], &["app/bootstrap.php"], &[]);
        check(&found[4], 5, &[], &["app/Http/lib/util.php"], &[]);
    }
}
