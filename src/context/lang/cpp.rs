//! C++ (and C/C++ headers, `.h`: the C++ grammar reads C too): what C defines, plus classes,
//! namespaces, `using` aliases and methods (in a class body, or defined as `Class::name`);
//! includes as in C (`c.rs`).

use super::{LanguageSpec, c};

pub const SPEC: LanguageSpec = LanguageSpec {
    name: "cpp",
    family: "c",
    extensions: &["cc", "cpp", "cxx", "c++", "hpp", "hh", "hxx", "h"],
    grammar: || tree_sitter_cpp::LANGUAGE.into(),
    // Methods first: a member function also matches C's function patterns.
    definitions: &[METHODS, c::DEFINITIONS, CLASSES],
    imports: c::INCLUDES,
    resolve_imports: c::resolve_imports,
};

const METHODS: &str = r#"
(field_declaration_list
  [(function_definition declarator: (function_declarator declarator: (field_identifier) @name))
   (field_declaration declarator: (function_declarator declarator: (field_identifier) @name))
   (declaration declarator: (function_declarator declarator: (identifier) @name))]
  @definition.method)
[(function_definition declarator: (function_declarator
   declarator: (qualified_identifier name: (identifier) @name)))
 (function_definition declarator: (pointer_declarator declarator: (function_declarator
   declarator: (qualified_identifier name: (identifier) @name))))
 (function_definition declarator: (reference_declarator (function_declarator
   declarator: (qualified_identifier name: (identifier) @name))))] @definition.method
"#;

const CLASSES: &str = r#"
(class_specifier name: (type_identifier) @name body: (_)) @definition.class
(namespace_definition name: (namespace_identifier) @name) @definition.module
(alias_declaration name: (type_identifier) @name) @definition.type
"#;

#[cfg(test)]
mod tests {
    use super::super::DefinitionKind::*;
    use super::super::tests::{check, d, defs, one};

    #[test]
    fn classes_namespaces_methods() {
        let src = "#include \"shape.h\"\nnamespace geo {\nclass Circle : public Shape {\n public:\n  double area() const override { return 3.14 * r * r; }\n  void scale(double k);\n private:\n  double r;\n};\nvoid Circle::scale(double k) { r *= k; }\nusing Radius = double;\ntemplate <typename T>\nT twice(T x) { return x + x; }\n}  // namespace geo\n";
        assert_eq!(
            defs("cpp", src),
            vec![
                d("geo", 1, 0, Module),
                d("Circle", 2, 0, Type),
                d("area", 4, 2, Method),
                d("scale", 5, 2, Method),
                d("scale", 9, 0, Method),
                d("Radius", 10, 0, Type),
                d("twice", 12, 0, Function),
            ]
        );
    }

    #[test]
    fn headers_read_as_cpp_include_like_c() {
        let header = "#pragma once\nstruct Shape { virtual double area() const = 0; };\nint shape_count(void);\n";
        assert_eq!(
            defs("cpp", header),
            vec![d("Shape", 1, 0, Type), d("area", 1, 0, Method), d("shape_count", 2, 0, Function)]
        );
        check(
            &one("cpp", "lib/geo/circle.cpp", "#include \"shape.h\"\n"),
            0,
            &[],
            &["lib/geo/shape.h"],
            &["shape.h"],
        );
    }
}
