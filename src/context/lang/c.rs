//! C: functions (definitions, and prototypes in headers), structs, unions, enums, typedefs,
//! macros and file-level variables; `#include "…"` resolved against the file's folder, and
//! every include matched by suffix too (include paths such as `include/` are not known).
//!
//! C++ (`cpp.rs`) reuses both halves: its grammar extends this one.

use tree_sitter::Node;

use super::paths::{normalize, plain_segment};
use super::{Import, ImportSite, LanguageSpec};

pub const SPEC: LanguageSpec = LanguageSpec {
    name: "c",
    family: "c",
    extensions: &["c"],
    grammar: || tree_sitter_c::LANGUAGE.into(),
    definitions: &[DEFINITIONS],
    imports: INCLUDES,
    resolve_imports,
};

// tags.scm marks the function declarator, which starts after the return type (and on the
// next line in GNU style); ours marks the whole definition, and adds macros and variables.
pub(super) const DEFINITIONS: &str = r#"
[(function_definition declarator: (function_declarator declarator: (identifier) @name))
 (function_definition declarator: (pointer_declarator
   declarator: (function_declarator declarator: (identifier) @name)))
 (function_definition declarator: (pointer_declarator declarator: (pointer_declarator
   declarator: (function_declarator declarator: (identifier) @name))))
 (declaration declarator: (function_declarator declarator: (identifier) @name))
 (declaration declarator: (pointer_declarator
   declarator: (function_declarator declarator: (identifier) @name)))] @definition.function
[(struct_specifier name: (type_identifier) @name body: (_))
 (union_specifier name: (type_identifier) @name body: (_))
 (enum_specifier name: (type_identifier) @name body: (_))] @definition.class
(type_definition declarator: (type_identifier) @name) @definition.type
[(preproc_def name: (identifier) @name)
 (preproc_function_def name: (identifier) @name)] @definition.macro
(translation_unit (declaration declarator: (init_declarator
  declarator: (identifier) @name)) @definition.constant)
"#;

pub(super) const INCLUDES: &str = "(preproc_include) @import";

pub(super) fn resolve_imports(site: &ImportSite, statements: &[Node]) -> Vec<Import> {
    let mut out = Vec::new();
    for include in statements {
        let Some(path) = include.child_by_field_name("path") else { continue };
        let text = site.text_of(path);
        let local = path.kind() == "string_literal";
        let Some(header) = text.get(1..text.len().saturating_sub(1)).filter(|h| !h.is_empty())
        else {
            continue;
        };
        let mut import = Import::at(include.start_position().row);
        if local && let Some(target) = normalize(site.path.dir(), header) {
            import.candidates.push(target.join("/"));
        }
        if header.split('/').all(plain_segment) {
            import.suffix_candidates.push(header.to_string());
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
    fn functions_types_macros_variables() {
        let src = "#include <stdio.h>\n#define MAX 10\n#define SQ(x) ((x) * (x))\nstruct point { int x; };\nstruct point origin;\ntypedef struct node { struct node *next; } node_t;\nenum color { RED };\nint counter = 0;\nint add(int a, int b);\nstatic char *\nname_of(int id)\n{\n    int local = 1;\n    return 0;\n}\n";
        assert_eq!(
            defs("c", src),
            vec![
                d("MAX", 1, 0, Macro),
                d("SQ", 2, 0, Macro),
                d("point", 3, 0, Type),
                d("node", 5, 0, Type),
                d("node_t", 5, 0, Type),
                d("color", 6, 0, Type),
                d("counter", 7, 0, Constant),
                d("add", 8, 0, Function),
                d("name_of", 9, 0, Function),
            ]
        );
    }

    #[test]
    fn includes() {
        let src = "#include <stdio.h>\n#include \"util.h\"\n#include \"../include/app/config.h\"\n#include <app/log.h>\n#include \"../../../etc/x.h\"\n";
        let found = imports_of("c", "src/main.c", src);
        assert_eq!(found.len(), 5, "{found:#?}");
        check(&found[0], 0, &[], &[], &["stdio.h"]);
        check(&found[1], 1, &[], &["src/util.h"], &["util.h"]);
        check(&found[2], 2, &[], &["include/app/config.h"], &[]);
        check(&found[3], 3, &[], &[], &["app/log.h"]);
        check(&found[4], 4, &[], &[], &[]);
    }
}
