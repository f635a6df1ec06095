//! C#: classes, interfaces, structs, enums, records, methods and namespaces (`tags.scm` plus
//! the type forms it leaves out); `using` directives, whose namespace is matched by its last
//! segments as a folder suffix (C# projects lay folders out like their namespaces, below the
//! project's root namespace).

use tree_sitter::Node;

use super::paths::{folder_suffixes, plain_segment};
use super::{Import, ImportSite, LanguageSpec};

pub const SPEC: LanguageSpec = LanguageSpec {
    name: "c_sharp",
    family: "c_sharp",
    extensions: &["cs"],
    grammar: || tree_sitter_c_sharp::LANGUAGE.into(),
    definitions: &[tree_sitter_c_sharp::TAGS_QUERY, MORE_TYPES],
    imports: "(using_directive) @import",
    resolve_imports,
};

const MORE_TYPES: &str = r#"
[(struct_declaration name: (identifier) @name)
 (enum_declaration name: (identifier) @name)
 (record_declaration name: (identifier) @name)] @definition.class
(file_scoped_namespace_declaration name: (identifier) @name) @definition.module
"#;

fn resolve_imports(site: &ImportSite, statements: &[Node]) -> Vec<Import> {
    let mut out = Vec::new();
    for statement in statements {
        let alias = statement.child_by_field_name("name");
        let mut cursor = statement.walk();
        let target = statement
            .named_children(&mut cursor)
            .filter(|c| Some(*c) != alias)
            .find(|c| matches!(c.kind(), "identifier" | "qualified_name"));
        let Some(target) = target else { continue };
        let segments: Vec<&str> = site.text_of(target).split('.').map(str::trim).collect();
        if !segments.iter().all(|s| plain_segment(s)) {
            continue;
        }
        let mut import = Import::at(statement.start_position().row);
        import.names.extend(alias.map(|a| site.text_of(a).to_string()));
        import.suffix_candidates = folder_suffixes(&segments, 3);
        out.push(import);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::DefinitionKind::*;
    use super::super::tests::{check, d, defs, imports_of};

    #[test]
    fn types_methods_and_namespaces() {
        let src = "namespace Shop;\n\n[Serializable]\npublic class Repo : IRepo {\n    public int Count { get; set; }\n    public int Load(string key) { return 1; }\n}\npublic interface IRepo { int Load(string key); }\npublic struct P {}\npublic enum E { A }\npublic record R(int X);\n";
        assert_eq!(
            defs("c_sharp", src),
            vec![
                d("Shop", 0, 0, Module),
                d("Repo", 3, 0, Type),
                d("Load", 5, 4, Method),
                d("IRepo", 7, 0, Type),
                d("Load", 7, 0, Method),
                d("P", 8, 0, Type),
                d("E", 9, 0, Type),
                d("R", 10, 0, Type),
            ]
        );
    }

    #[test]
    fn using_directives_name_namespace_folders() {
        let src = "using System;\nusing Acme.App.Models;\nusing Json = Newtonsoft.Json;\nusing static System.Math;\n";
        let found = imports_of("c_sharp", "src/App/Program.cs", src);
        assert_eq!(found.len(), 4, "{found:#?}");
        check(&found[0], 0, &[], &[], &["System/"]);
        check(&found[1], 1, &[], &[], &["Acme/App/Models/", "App/Models/", "Models/"]);
        check(&found[2], 2, &["Json"], &[], &["Newtonsoft/Json/", "Json/"]);
        check(&found[3], 3, &[], &[], &["System/Math/", "Math/"]);
    }
}
