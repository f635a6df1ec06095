//! Go: functions, methods, types and package-level `const`/`var` names; import specs, whose
//! package folder is matched by the import path's last segments (the module path itself is not
//! a workspace folder).

use tree_sitter::Node;

use super::paths::{folder_suffixes, plain_segment};
use super::{Import, ImportSite, LanguageSpec};

pub const SPEC: LanguageSpec = LanguageSpec {
    name: "go",
    family: "go",
    extensions: &["go"],
    grammar: || tree_sitter_go::LANGUAGE.into(),
    // tags.scm has no constants or variables.
    definitions: &[DEFINITIONS],
    imports: "(import_spec) @import",
    resolve_imports,
};

const DEFINITIONS: &str = r#"
(function_declaration name: (identifier) @name) @definition.function
(method_declaration name: (field_identifier) @name) @definition.method
(source_file (type_declaration [(type_spec name: (type_identifier) @name)
                                (type_alias name: (type_identifier) @name)] @definition.type))
(source_file (const_declaration (const_spec name: (identifier) @name) @definition.constant))
(source_file (var_declaration (var_spec name: (identifier) @name) @definition.constant))
(source_file (var_declaration (var_spec_list (var_spec name: (identifier) @name) @definition.constant)))
"#;

/// One import spec: `"path"`, `alias "path"`, `_ "path"`, `. "path"`.
fn resolve_imports(site: &ImportSite, statements: &[Node]) -> Vec<Import> {
    let mut out = Vec::new();
    for spec in statements {
        let Some(path) = spec.child_by_field_name("path") else { continue };
        let path = site.text_of(path);
        let Some(path) = path.strip_prefix(['"', '`']).and_then(|p| p.strip_suffix(['"', '`']))
        else {
            continue;
        };
        let segments: Vec<&str> = path.split('/').collect();
        if !segments.iter().all(|s| plain_segment(s)) {
            continue;
        }
        let mut import = Import::at(spec.start_position().row);
        match spec.child_by_field_name("name") {
            Some(alias) if alias.kind() == "package_identifier" => {
                import.names.push(site.text_of(alias).to_string());
            }
            Some(_) => {} // `_` or `.`: no name of its own
            None => import.names.push(package_name(&segments)),
        }
        if segments[0].contains('.') {
            import.suffix_candidates = folder_suffixes(&segments[1..], 3);
        }
        out.push(import);
    }
    out
}

/// The package name Go gives an import path by default: its last segment, skipping a major
/// version (`/v2`), without a `.v3` suffix (gopkg.in) or a `go-` prefix.
fn package_name(segments: &[&str]) -> String {
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
    use super::super::DefinitionKind::*;
    use super::super::tests::{check, d, defs, imports_of};

    #[test]
    fn declarations() {
        let src = r#"package util

import "fmt"

// func Commented() {}
const Version = "1.0"
var ErrNotFound = errors.New("x")
var a, b int
const (
	KindA Kind = iota
	KindB
	_
)
var (
	cache = map[string]int{
		"k": 1,
	}
)
type (
	Reader interface{ Read() }
	ID string
)
type Server struct {
	Name string
}
func New(name string) *Server {
	var local = 1
	return &Server{Name: name}
}
func (s *Server) Start() error { return nil }
func Map[T any](xs []T) []T { return xs }
var raw = `
func NotReal() {}
`
"#;
        assert_eq!(
            defs("go", src),
            vec![
                d("Version", 5, 0, Constant),
                d("ErrNotFound", 6, 0, Constant),
                d("a", 7, 0, Constant),
                d("b", 7, 0, Constant),
                d("KindA", 9, 4, Constant),
                d("KindB", 10, 4, Constant),
                d("cache", 14, 4, Constant),
                d("Reader", 19, 4, Type),
                d("ID", 20, 4, Type),
                d("Server", 22, 0, Type),
                d("New", 25, 0, Function),
                d("Start", 29, 0, Method),
                d("Map", 30, 0, Function),
                d("raw", 31, 0, Constant),
            ]
        );
    }

    #[test]
    fn raw_strings() {
        let go = "var q = `{\n`\nfunc F() {}\n";
        assert_eq!(defs("go", go), vec![d("q", 0, 0, Constant), d("F", 2, 0, Function)]);
    }

    #[test]
    fn imports_single_and_grouped() {
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
        let found = imports_of("go", "cmd/main.go", src);
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
    fn one_line_group_and_dot_import() {
        let found = imports_of("go", "a.go", "import ( \"os\"; . \"example.com/m/dsl\" )\n");
        assert_eq!(found.len(), 2, "{found:#?}");
        check(&found[0], 0, &["os"], &[], &[]);
        check(&found[1], 0, &[], &[], &["m/dsl/", "dsl/"]);
    }
}
