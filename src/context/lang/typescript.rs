//! TypeScript and TSX (two grammars, one set of queries): functions, classes, interfaces, type
//! aliases, enums, namespaces, methods (class members that are functions, abstract ones too)
//! and module-level `const`/`let`/`var` (functions when their value is one); imports as in
//! JavaScript (`javascript.rs`), plus `import x = require(…)`.

use super::{LanguageSpec, javascript};

pub const TYPESCRIPT: LanguageSpec = LanguageSpec {
    name: "typescript",
    family: "javascript",
    extensions: &["ts", "mts", "cts"],
    grammar: || tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
    definitions: &[DEFINITIONS],
    imports: javascript::IMPORTS,
    resolve_imports: javascript::resolve_imports,
};

pub const TSX: LanguageSpec = LanguageSpec {
    name: "tsx",
    extensions: &["tsx"],
    grammar: || tree_sitter_typescript::LANGUAGE_TSX.into(),
    ..TYPESCRIPT
};

// tags.scm also takes interface members and every call; ours keeps declarations, class
// members and module-level bindings.
const DEFINITIONS: &str = r#"
(class_body
  [(method_definition name: (_) @name)
   (abstract_method_signature name: (_) @name)
   (public_field_definition name: (_) @name value: [(arrow_function) (function_expression)])]
  @definition.method
  (#not-any-of? @name "constructor" "if" "for" "while" "switch" "catch" "return" "super"))
[(function_declaration name: (identifier) @name)
 (generator_function_declaration name: (identifier) @name)] @definition.function
[(class_declaration name: (type_identifier) @name)
 (abstract_class_declaration name: (type_identifier) @name)
 (interface_declaration name: (type_identifier) @name)
 (type_alias_declaration name: (type_identifier) @name)
 (enum_declaration name: (identifier) @name)] @definition.class
[(internal_module name: (identifier) @name)
 (module name: (identifier) @name)] @definition.module
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
    (variable_declarator name: (identifier) @name) @definition.constant))
  (ambient_declaration (lexical_declaration
    (variable_declarator name: (identifier) @name) @definition.constant))])
"#;

#[cfg(test)]
mod tests {
    use super::super::DefinitionKind::*;
    use super::super::javascript::tests::extensionless;
    use super::super::tests::{check, d, defs, imports_of, one, strings};

    #[test]
    fn declarations_and_members() {
        let src = r#"import { x } from "./x";
/* function hidden() {} */
export function parse(input: string) {}
export default function main() {}
async function load() {}
export async function* stream() {}
export default class App extends Base {
  private count = 0;
  static create(): App { return new App(); }
  async fetch(url: string) {
    const inner = () => 1;
    function helper() {}
  }
  get size() { return 1; }
  set size(v) {}
  get() {}
  #secret(a) {}
  protected readonly handle = (e: Event) => {};
  render<T>(x: T) {}
  constructor() { super(); }
  if (x) {}
}
export abstract class Shape
  implements Drawable {
  abstract area(): number;
}
interface Props { onClick(): void; }
export type Id = string | number;
export enum Color { Red }
const enum Dir { Up }
export const API_URL = "https://x/y"; // not a comment start inside the string
export const handler = async (req) => {};
const add = (a: number, b: number): number => a + b;
let square = x => x * x;
var legacy = function () {};
const fmt: Formatter = (s) => s;
const re = /[{(]/g;
const { a, b } = obj;
declare const VERSION: string;
namespace Util { export function inside() {} }
const tpl = `
function notReal() {}
`;
"#;
        assert_eq!(
            defs("typescript", src),
            vec![
                d("parse", 2, 0, Function),
                d("main", 3, 0, Function),
                d("load", 4, 0, Function),
                d("stream", 5, 0, Function),
                d("App", 6, 0, Type),
                d("create", 8, 2, Method),
                d("fetch", 9, 2, Method),
                d("helper", 11, 4, Function),
                d("size", 13, 2, Method),
                d("size", 14, 2, Method),
                d("get", 15, 2, Method),
                d("#secret", 16, 2, Method),
                d("handle", 17, 2, Method),
                d("render", 18, 2, Method),
                d("Shape", 22, 0, Type),
                d("area", 24, 2, Method),
                d("Props", 26, 0, Type),
                d("Id", 27, 0, Type),
                d("Color", 28, 0, Type),
                d("Dir", 29, 0, Type),
                d("API_URL", 30, 0, Constant),
                d("handler", 31, 0, Function),
                d("add", 32, 0, Function),
                d("square", 33, 0, Function),
                d("legacy", 34, 0, Function),
                d("fmt", 35, 0, Function),
                d("re", 36, 0, Constant),
                d("VERSION", 38, 0, Constant),
                d("Util", 39, 0, Module),
                // The function declared inside the one-line namespace.
                d("inside", 39, 0, Function),
                d("tpl", 40, 0, Constant),
            ]
        );
    }

    #[test]
    fn decorated_members() {
        let src = "@Component({\n  selector: 'app',\n})\nexport class Widget {\n  @Input() label: string;\n  @HostListener('click', ['$event'])\n  onClick(e) {}\n  @Output() changed = new EventEmitter();\n}\n";
        assert_eq!(
            defs("typescript", src),
            vec![d("Widget", 3, 0, Type), d("onClick", 6, 2, Method)]
        );
        assert_eq!(defs("tsx", src), vec![d("Widget", 3, 0, Type), d("onClick", 6, 2, Method)]);
    }

    #[test]
    fn tsx_components() {
        let src = "export function Button({ label }: Props) {\n  return <button>{label}</button>;\n}\nexport const Card = () => <div className=\"card\" />;\n";
        assert_eq!(defs("tsx", src), vec![d("Button", 0, 0, Function), d("Card", 3, 0, Function)]);
    }

    #[test]
    fn regexes_and_template_literals() {
        let ts = "const half = total / 2; const r = /\\/{/;\nfunction f() {}\nconst t = `\n${ {a: 1} }\nfunction g() {}`;\nfunction h() {}\n";
        assert_eq!(
            defs("typescript", ts),
            vec![
                d("half", 0, 0, Constant),
                // Both statements of the line.
                d("r", 0, 0, Constant),
                d("f", 1, 0, Function),
                d("t", 2, 0, Constant),
                d("h", 5, 0, Function)
            ]
        );
    }

    #[test]
    fn static_imports() {
        let src = r#"import React, { useState, type FC } from "react";
import * as utils from './lib/utils';
import Button from "../components/Button";
import type { Props } from './types.js';
import './polyfills';
import {
  alpha,
  beta as b,
} from "./greek";
export { gamma, delta as d } from './more';
export * from "./all";
export type { T } from "./t";
import data from "./data.json";
import styles from "./app.module.css";
const url = import.meta.url;
export const notAnImport = 1;
// import { commented } from "./nope";
"#;
        let path = "web/src/pages/Home.tsx";
        let found = imports_of("tsx", path, src);
        assert_eq!(found.len(), 11, "{found:#?}");
        check(&found[0], 0, &["React", "useState", "FC"], &[], &[]);
        assert_eq!(found[1].names, strings(&["utils"]));
        assert_eq!(found[1].candidates, extensionless("web/src/pages/lib/utils"));
        assert_eq!(found[2].names, strings(&["Button"]));
        assert_eq!(found[2].candidates, extensionless("web/src/components/Button"));
        check(
            &found[3],
            3,
            &["Props"],
            &["web/src/pages/types.js", "web/src/pages/types.ts", "web/src/pages/types.tsx"],
            &[],
        );
        check(
            &found[4],
            4,
            &[],
            &extensionless("web/src/pages/polyfills")
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            &[],
        );
        assert_eq!((found[5].line, found[5].names.clone()), (5, strings(&["alpha", "b"])));
        assert_eq!(found[5].candidates, extensionless("web/src/pages/greek"));
        assert_eq!((found[6].line, found[6].names.clone()), (9, strings(&["gamma", "d"])));
        assert_eq!((found[7].line, found[7].names.clone()), (10, vec![]));
        assert_eq!(found[7].candidates, extensionless("web/src/pages/all"));
        assert_eq!((found[8].line, found[8].names.clone()), (11, strings(&["T"])));
        check(&found[9], 12, &["data"], &["web/src/pages/data.json"], &[]);
        let mut css = extensionless("web/src/pages/app.module.css");
        css.push("web/src/pages/app.module.css".to_string());
        assert_eq!(found[10].candidates, css);
    }

    #[test]
    fn dynamic_imports_and_require() {
        let src = r#"const fs = require("fs");
const helpers = require('./helpers');
const { a, b: bee, ...rest } = require("../shared/index.js");
import legacy = require("./legacy");
async function load() {
  const mod = await import("./lazy/Page");
  return import(`./chunks/${name}`);
}
x.require("./not-this");
const both = [require('./one.cjs'), require('./two.mjs')];
"#;
        // TypeScript syntax (`import x = require`) in a file resolved as `src/app.js`.
        let found = imports_of("typescript", "src/app.js", src);
        assert_eq!(found.len(), 7, "{found:#?}");
        check(&found[0], 0, &["fs"], &[], &[]);
        assert_eq!(found[1].names, strings(&["helpers"]));
        assert_eq!(found[1].candidates, extensionless("src/helpers"));
        check(
            &found[2],
            2,
            &["a", "bee", "rest"],
            &["shared/index.js", "shared/index.ts", "shared/index.tsx"],
            &[],
        );
        assert_eq!((found[3].line, found[3].names.clone()), (3, strings(&["legacy"])));
        assert_eq!(found[3].candidates, extensionless("src/legacy"));
        assert_eq!((found[4].line, found[4].names.clone()), (5, strings(&["mod"])));
        assert_eq!(found[4].candidates, extensionless("src/lazy/Page"));
        check(&found[5], 9, &[], &["src/one.cjs", "src/one.cts"], &[]);
        check(&found[6], 9, &[], &["src/two.mjs", "src/two.mts"], &[]);
    }

    #[test]
    fn directories_aliases_and_escapes() {
        check(
            &one("typescript", "src/a/b.ts", "import x from '.';\n"),
            0,
            &["x"],
            &["src/a/index.ts", "src/a/index.tsx", "src/a/index.js"],
            &[],
        );
        check(
            &one("typescript", "src/a/b.ts", "import x from '../';\n"),
            0,
            &["x"],
            &["src/index.ts", "src/index.tsx", "src/index.js"],
            &[],
        );
        check(
            &one("typescript", "src/b.ts", "import x from '../../../etc/passwd';\n"),
            0,
            &["x"],
            &[],
            &[],
        );
        check(&one("typescript", "src/b.ts", "import x from './../../x';\n"), 0, &["x"], &[], &[]);
        let mut expected = extensionless("src/lib/api");
        expected.extend(extensionless("lib/api"));
        let aliased = one("tsx", "src/pages/p.tsx", "import { get } from '@/lib/api';\n");
        check(&aliased, 0, &["get"], &[], &expected.iter().map(String::as_str).collect::<Vec<_>>());
        let tilde = one("typescript", "p.ts", "import { get } from \"~/lib/api\";\n");
        assert_eq!(tilde.suffix_candidates, expected);
        check(&one("typescript", "p.ts", "import x from '@/../../x';\n"), 0, &["x"], &[], &[]);
        check(&one("typescript", "p.ts", "import x from '@scope/pkg/sub';\n"), 0, &["x"], &[], &[]);
        check(&one("typescript", "p.ts", "import x from '/abs/x';\n"), 0, &["x"], &[], &[]);
    }

    #[test]
    fn clause_forms() {
        let src = "import def, * as ns from './a';\nexport * as all from './b';\nimport { from } from './c';\nimport type from './d';\nimport x from './e'; import y from './f';\n";
        let found = imports_of("typescript", "m.ts", src);
        let summary: Vec<(usize, Vec<String>, String)> =
            found.iter().map(|i| (i.line, i.names.clone(), i.candidates[0].clone())).collect();
        assert_eq!(
            summary,
            vec![
                (0, strings(&["def", "ns"]), "a.ts".to_string()),
                (1, strings(&["all"]), "b.ts".to_string()),
                (2, strings(&["from"]), "c.ts".to_string()),
                (3, strings(&["type"]), "d.ts".to_string()),
                (4, strings(&["x"]), "e.ts".to_string()),
                // Both statements of the line.
                (4, strings(&["y"]), "f.ts".to_string()),
            ]
        );
    }

    /// An 84 KB file is read whole: every import in it is found (its speed is measured by the
    /// index figures of `infill bench`, never timed in a test).
    #[test]
    fn a_large_file_is_read_whole() {
        let block = "import { a, b } from './x';\nconst y = require('../y');\nfunction f() { return 1; }\n\n\n";
        let text = block.repeat(1000);
        let found = imports_of("typescript", "src/app/main.ts", &text);
        assert_eq!(found.len(), 2000);
    }
}
