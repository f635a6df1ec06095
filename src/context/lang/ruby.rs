//! Ruby: methods, classes, modules (`tags.scm`) and constants; `require_relative` resolved
//! against the file's folder, `require` and `load` matched by suffix (`require "app/user"` →
//! `lib/app/user.rb`).

use tree_sitter::Node;

use super::paths::{normalize, plain_segment};
use super::{Import, ImportSite, LanguageSpec};

pub const SPEC: LanguageSpec = LanguageSpec {
    name: "ruby",
    family: "ruby",
    extensions: &["rb"],
    grammar: || tree_sitter_ruby::LANGUAGE.into(),
    definitions: &[tree_sitter_ruby::TAGS_QUERY, CONSTANTS],
    imports: r#"
(call
  method: (identifier) @method
  arguments: (argument_list . (string))
  (#any-of? @method "require" "require_relative" "load")) @import
"#,
    resolve_imports,
};

const CONSTANTS: &str = "(assignment left: (constant) @name) @definition.constant";

fn resolve_imports(site: &ImportSite, statements: &[Node]) -> Vec<Import> {
    let mut out = Vec::new();
    for call in statements {
        let method = call.child_by_field_name("method").map(|m| site.text_of(m));
        let argument = call.child_by_field_name("arguments").and_then(|a| a.named_child(0));
        let Some(path) = argument.and_then(|a| literal(site, a)) else { continue };
        let with_extension =
            if path.ends_with(".rb") { path.to_string() } else { format!("{path}.rb") };
        let mut import = Import::at(call.start_position().row);
        if method == Some("require_relative") {
            if let Some(target) = normalize(site.path.dir(), &with_extension) {
                import.candidates.push(target.join("/"));
            }
        } else if with_extension.split('/').all(plain_segment) {
            import.suffix_candidates.push(with_extension);
        }
        out.push(import);
    }
    out
}

/// The text of a string without interpolation.
fn literal<'a>(site: &ImportSite<'a>, string: Node) -> Option<&'a str> {
    let mut cursor = string.walk();
    let mut parts = string.named_children(&mut cursor);
    let content = parts.next().filter(|p| p.kind() == "string_content")?;
    parts.next().is_none().then(|| site.text_of(content)).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::super::DefinitionKind::*;
    use super::super::tests::{check, d, defs, imports_of};

    #[test]
    fn methods_classes_modules_constants() {
        let src = "module Shop\n  LIMIT = 3\n  class Cart < Base\n    def total(items)\n      items.sum\n    end\n\n    def self.build; end\n  end\nend\n";
        assert_eq!(
            defs("ruby", src),
            vec![
                d("Shop", 0, 0, Module),
                d("LIMIT", 1, 2, Constant),
                d("Cart", 2, 2, Type),
                d("total", 3, 4, Method),
                d("build", 7, 4, Method),
            ]
        );
    }

    #[test]
    fn requires() {
        let src = "require \"json\"\nrequire_relative \"../lib/helper\"\nrequire 'app/models/user'\nload \"tasks/x.rb\"\nrequire \"#{dir}/x\"\nrequire_relative '../../../../etc/passwd'\n";
        let found = imports_of("ruby", "app/services/cart.rb", src);
        assert_eq!(found.len(), 5, "{found:#?}");
        check(&found[0], 0, &[], &[], &["json.rb"]);
        check(&found[1], 1, &[], &["app/lib/helper.rb"], &[]);
        check(&found[2], 2, &[], &[], &["app/models/user.rb"]);
        check(&found[3], 3, &[], &[], &["tasks/x.rb"]);
        check(&found[4], 5, &[], &[], &[]);
    }
}
