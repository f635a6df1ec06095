//! Java: classes, interfaces, enums, records and methods (`tags.scm` plus the type forms it
//! leaves out); `import` declarations, matched by the package path as a folder suffix
//! (`com.acme.util.Strings` → `com/acme/util/Strings.java`, wildcards → the package folder).

use tree_sitter::Node;

use super::paths::plain_segment;
use super::{Import, ImportSite, LanguageSpec};

pub const SPEC: LanguageSpec = LanguageSpec {
    name: "java",
    family: "java",
    extensions: &["java"],
    grammar: || tree_sitter_java::LANGUAGE.into(),
    definitions: &[tree_sitter_java::TAGS_QUERY, MORE_TYPES],
    imports: "(import_declaration) @import",
    resolve_imports,
};

const MORE_TYPES: &str = r#"
[(enum_declaration name: (identifier) @name)
 (record_declaration name: (identifier) @name)
 (annotation_type_declaration name: (identifier) @name)] @definition.class
"#;

fn resolve_imports(site: &ImportSite, statements: &[Node]) -> Vec<Import> {
    let mut out = Vec::new();
    for statement in statements {
        let mut cursor = statement.walk();
        let mut segments: Vec<&str> = Vec::new();
        let (mut is_static, mut wildcard) = (false, false);
        for child in statement.children(&mut cursor) {
            match child.kind() {
                "static" => is_static = true,
                "asterisk" => wildcard = true,
                "identifier" | "scoped_identifier" => {
                    segments = site.text_of(child).split('.').map(str::trim).collect();
                }
                _ => {}
            }
        }
        if segments.is_empty() || !segments.iter().all(|s| plain_segment(s)) {
            continue;
        }
        let mut import = Import::at(statement.start_position().row);
        // A static import names a member: its class is the path without the last segment.
        let class = match (is_static, wildcard) {
            (true, false) => {
                import.names.push(segments[segments.len() - 1].to_string());
                &segments[..segments.len() - 1]
            }
            (false, false) => {
                import.names.push(segments[segments.len() - 1].to_string());
                &segments[..]
            }
            (true, true) => &segments[..],
            (false, true) => {
                import.suffix_candidates.push(format!("{}/", segments.join("/")));
                out.push(import);
                continue;
            }
        };
        if !class.is_empty() {
            import.suffix_candidates.push(format!("{}.java", class.join("/")));
        }
        out.push(import);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::DefinitionKind::*;
    use super::super::tests::{check, d, defs, imports_of};

    #[test]
    fn types_and_methods() {
        let src = "package com.acme.app;\n\n@Service\npublic class Repo<T> extends Base implements Store {\n    static final int LIMIT = 3;\n    @Override\n    public int load(String key) { return helper(key); }\n    enum Mode { A }\n    record Point(int x) {}\n}\ninterface Store {\n    void save();\n}\n";
        assert_eq!(
            defs("java", src),
            vec![
                d("Repo", 3, 0, Type),
                d("load", 6, 4, Method),
                d("Mode", 7, 4, Type),
                d("Point", 8, 4, Type),
                d("Store", 10, 0, Type),
                d("save", 11, 4, Method),
            ]
        );
    }

    #[test]
    fn imports_by_package_path() {
        let src = "package com.acme.app;\nimport java.util.List;\nimport static com.acme.Util.max;\nimport com.acme.util.*;\nimport static org.junit.Assert.*;\n";
        let found = imports_of("java", "src/main/java/com/acme/app/Repo.java", src);
        assert_eq!(found.len(), 4, "{found:#?}");
        check(&found[0], 1, &["List"], &[], &["java/util/List.java"]);
        check(&found[1], 2, &["max"], &[], &["com/acme/Util.java"]);
        check(&found[2], 3, &[], &[], &["com/acme/util/"]);
        check(&found[3], 4, &[], &[], &["org/junit/Assert.java"]);
    }
}
