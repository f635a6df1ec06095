//! Python: functions, classes, methods (functions directly in a class body), `type` aliases and
//! module-level constants (ALL_CAPS or annotated); `import` and `from … import` statements, with
//! relative imports resolved against the file's package and absolute ones matched by suffix.

use tree_sitter::Node;

use super::paths::join;
use super::{Import, ImportSite, LanguageSpec};

pub const SPEC: LanguageSpec = LanguageSpec {
    name: "python",
    family: "python",
    extensions: &["py", "pyi"],
    grammar: || tree_sitter_python::LANGUAGE.into(),
    // tags.scm takes every module-level assignment for a constant; ours keeps the ones that
    // read as constants, and tells methods from functions.
    definitions: &[DEFINITIONS],
    imports: "[(import_statement) (import_from_statement)] @import",
    resolve_imports,
};

const DEFINITIONS: &str = r#"
(class_definition
  body: (block
    [(function_definition name: (identifier) @name) @definition.method
     (decorated_definition
       definition: (function_definition name: (identifier) @name) @definition.method)]))
(function_definition name: (identifier) @name) @definition.function
(class_definition name: (identifier) @name) @definition.class
(type_alias_statement left: (type (identifier) @name)) @definition.type
(module (expression_statement
  (assignment left: (identifier) @name type: (_) right: (_)) @definition.constant))
(module (expression_statement
  (assignment left: (identifier) @name right: (_)) @definition.constant)
  (#match? @name "^[A-Z0-9_]*[A-Z][A-Z0-9_]*$"))
"#;

fn resolve_imports(site: &ImportSite, statements: &[Node]) -> Vec<Import> {
    let mut out = Vec::new();
    for statement in statements {
        match statement.kind() {
            "import_statement" => plain_import(site, *statement, &mut out),
            _ => from_import(site, *statement, &mut out),
        }
    }
    out
}

/// `import a.b.c [as x], d`: one import per module.
fn plain_import(site: &ImportSite, statement: Node, out: &mut Vec<Import>) {
    let mut cursor = statement.walk();
    for name in statement.children_by_field_name("name", &mut cursor) {
        let (module, alias) = aliased(site, name);
        let Some(segments) = module else { continue };
        let mut import = Import::at(statement.start_position().row);
        import.names.push(alias.unwrap_or(segments[0]).to_string());
        import.suffix_candidates.extend(module_files(&segments.join("/")));
        out.push(import);
    }
}

/// `from <dots><module> import <names>`.
fn from_import(site: &ImportSite, statement: Node, out: &mut Vec<Import>) {
    let Some(module) = statement.child_by_field_name("module_name") else { return };
    let (dots, segments) = if module.kind() == "relative_import" {
        let mut cursor = module.walk();
        let mut dots = 0;
        let mut segments = Vec::new();
        for part in module.named_children(&mut cursor) {
            match part.kind() {
                "import_prefix" => dots = site.text_of(part).len(),
                "dotted_name" => segments = dotted(site, part).unwrap_or_default(),
                _ => {}
            }
        }
        (dots, segments)
    } else {
        (0, dotted(site, module).unwrap_or_default())
    };
    if segments.is_empty() && dots == 0 {
        return;
    }
    // (imported name, local name)
    let mut imported: Vec<&str> = Vec::new();
    let mut import = Import::at(statement.start_position().row);
    let mut cursor = statement.walk();
    for name in statement.children_by_field_name("name", &mut cursor) {
        let (Some(name_segments), alias) = aliased(site, name) else { continue };
        let [single] = name_segments[..] else { continue };
        imported.push(single);
        import.names.push(alias.unwrap_or(single).to_string());
    }
    let dir = site.path.dir();
    if dots == 0 {
        let module = segments.join("/");
        import.suffix_candidates.extend(module_files(&module));
        import.suffix_candidates.extend(imported.iter().map(|n| format!("{module}/{n}.py")));
    } else if let Some(package) = dir.len().checked_sub(dots - 1).map(|keep| &dir[..keep]) {
        if segments.is_empty() {
            // from . import m: m may be a submodule, or a name from the package's __init__.py.
            for name in &imported {
                import.candidates.extend(module_files(&join(package, name)));
            }
            import.candidates.push(join(package, "__init__.py"));
        } else {
            let module = join(package, &segments.join("/"));
            import.candidates.extend(module_files(&module));
            import.candidates.extend(imported.iter().map(|n| format!("{module}/{n}.py")));
        }
    }
    out.push(import);
}

/// A `dotted_name` or `aliased_import`: its segments and its alias.
fn aliased<'a>(site: &ImportSite<'a>, node: Node) -> (Option<Vec<&'a str>>, Option<&'a str>) {
    match node.kind() {
        "aliased_import" => {
            let name = node.child_by_field_name("name").and_then(|n| dotted(site, n));
            let alias = node.child_by_field_name("alias").map(|a| site.text_of(a));
            (name, alias)
        }
        "dotted_name" => (dotted(site, node), None),
        _ => (None, None),
    }
}

fn dotted<'a>(site: &ImportSite<'a>, node: Node) -> Option<Vec<&'a str>> {
    if node.kind() != "dotted_name" {
        return None;
    }
    let mut cursor = node.walk();
    let segments: Vec<&str> = node.named_children(&mut cursor).map(|n| site.text_of(n)).collect();
    (!segments.is_empty()).then_some(segments)
}

fn module_files(module: &str) -> [String; 2] {
    [format!("{module}.py"), format!("{module}/__init__.py")]
}

#[cfg(test)]
mod tests {
    use super::super::DefinitionKind::*;
    use super::super::tests::{check, d, defs, imports_of, one, strings};

    #[test]
    fn functions_classes_methods_constants() {
        let src = r#"import os

MAX_RETRIES = 3
DEFAULT_NAME: str = "x"
timeout: float = 1.5
counter = 0
__all__ = ["Client"]
CONFIG == 3

@dataclass
class Client(Base):
    """A client.

    def not_a_function(self):
    """
    LIMIT = 10

    def __init__(self, url):
        self.url = url

    @property
    async def fetch(self, path):
        def helper():
            return 1
        return helper()

async def main():
    pass

def typed[T](x: T) -> T:
    return x

class Empty: pass
# def commented(): pass
type Alias = list[int]
"#;
        assert_eq!(
            defs("python", src),
            vec![
                d("MAX_RETRIES", 2, 0, Constant),
                d("DEFAULT_NAME", 3, 0, Constant),
                d("timeout", 4, 0, Constant),
                d("Client", 10, 0, Type),
                d("__init__", 17, 4, Method),
                d("fetch", 21, 4, Method),
                d("helper", 22, 8, Function),
                d("main", 26, 0, Function),
                d("typed", 29, 0, Function),
                d("Empty", 32, 0, Type),
                d("Alias", 34, 0, Type),
            ]
        );
    }

    #[test]
    fn multiline_signatures_and_strings() {
        let src = "class A:\n    def m(\n        self,\n    x,\n):\n        s = '''\ndef fake():\n'''\n        return 1\n    def n(self): ...\nx = \"def nope(): #\"\ndef after(): pass\n";
        assert_eq!(
            defs("python", src),
            vec![
                d("A", 0, 0, Type),
                d("m", 1, 4, Method),
                d("n", 9, 4, Method),
                d("after", 11, 0, Function)
            ]
        );
    }

    #[test]
    fn crlf_line_breaks() {
        let crlf = "class B:\r\n    def m(self):\r\n        pass\r\nX = 1\r\n";
        assert_eq!(
            defs("python", crlf),
            vec![d("B", 0, 0, Type), d("m", 1, 4, Method), d("X", 3, 0, Constant)]
        );
    }

    #[test]
    fn absolute_imports() {
        let src = "import os\nimport a.b.c as abc, json\nfrom pkg.m import x, y as z\nfrom pkg import *\nfrom __future__ import annotations\n";
        let found = imports_of("python", "app/main.py", src);
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
    fn relative_imports() {
        let path = "src/app/api/views.py";
        check(
            &one("python", path, "from .models import User, Post as P\n"),
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
            &one("python", path, "from ..core.db import session\n"),
            0,
            &["session"],
            &["src/app/core/db.py", "src/app/core/db/__init__.py", "src/app/core/db/session.py"],
            &[],
        );
        check(
            &one("python", path, "from . import serializers, utils as u\n"),
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
            &one("python", path, "from ... import settings\n"),
            0,
            &["settings"],
            &["src/settings.py", "src/settings/__init__.py", "src/__init__.py"],
            &[],
        );
        // At the root, `from . import x` stays at the root.
        check(
            &one("python", "main.py", "from . import x\n"),
            0,
            &["x"],
            &["x.py", "x/__init__.py", "__init__.py"],
            &[],
        );
    }

    #[test]
    fn relative_imports_never_escape_the_root() {
        check(&one("python", "a/b.py", "from ...x import y\n"), 0, &["y"], &[], &[]);
        check(&one("python", "a/b.py", "from ....x import y\n"), 0, &["y"], &[], &[]);
        check(&one("python", "b.py", "from .. import y\n"), 0, &["y"], &[], &[]);
        // Two dots from a/b.py is the root itself: allowed.
        check(
            &one("python", "a/b.py", "from ..x import y\n"),
            0,
            &["y"],
            &["x.py", "x/__init__.py", "x/y.py"],
            &[],
        );
    }

    #[test]
    fn multiline_and_nested_imports() {
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
        let found = imports_of("python", "proj/pkg/sub/mod.py", src);
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
}
